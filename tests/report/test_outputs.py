"""The flags' files: each format written where asked, each valid."""

import json
import xml.etree.ElementTree as ET

from grader.cli import build_parser
from grader.report import gradescope, outputs
from tests.report.sample_reports import layers_only_report


def test_every_requested_file_is_written(tmp_path):
    args = build_parser().parse_args(["sub", "--json", str(tmp_path / "r.json"), "--gradescope", str(tmp_path / "g.json"),
                                      "--junit", str(tmp_path / "j.xml"), "--html", str(tmp_path / "html")])
    outputs.write(layers_only_report(), json=args.json, gradescope_file=args.gradescope, junit_file=args.junit,
                  html_dir=args.html, data_dir=args.data_dir)
    assert json.loads((tmp_path / "r.json").read_text())["submission"] == "tiny"
    gradescope.validate(json.loads((tmp_path / "g.json").read_text()))
    assert ET.parse(tmp_path / "j.xml").getroot().tag == "testsuites"
    assert "layers.relu.forward" in (tmp_path / "html" / "index.html").read_text()
