"""Every report format of one real Report, written and validated: Gradescope's results.json against
its schema, JUnit against the published XSD, the HTML page written with its checks in it. Used by
the end-to-end tests of the samples and of planted bugs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import xmlschema

from grader.report import gradescope, json_report, outputs

XSD = xmlschema.XMLSchema(str(Path(__file__).with_name("junit-10.xsd")))


def write_and_validate_every_format(report, folder: Path, data_dir=None) -> dict:
    """Write --json, --gradescope, --junit and --html for ``report`` into ``folder``; assert each is
    valid and agrees with the report's score; return the Gradescope results for further checks."""
    folder.mkdir(parents=True, exist_ok=True)
    outputs.write(report, json=str(folder / "report.json"), gradescope_file=str(folder / "results.json"),
                  junit_file=str(folder / "junit.xml"), html_dir=str(folder / "html"), data_dir=data_dir)
    json_report.validate(json.loads((folder / "report.json").read_text()))
    results = json.loads((folder / "results.json").read_text())
    jsonschema.validate(results, gradescope.schema())
    assert abs(results["score"] - report.score) < 1e-6
    XSD.validate(str(folder / "junit.xml"))
    page = (folder / "html" / "index.html").read_text()
    visible = [c for c in report.checks if not c.hidden]
    assert all(c.id in page for c in visible[:20])
    assert f"{report.score:g}" in page
    return results
