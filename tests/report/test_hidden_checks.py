"""Hidden checks never reach a student: every student-facing output is searched for their ids and
messages (the instructor's JSON, which has everything, is the control)."""

import io
import json
import xml.etree.ElementTree as ET

from rich.console import Console

from grader.report import gradescope, html_report, json_report, junit, terminal
from tests.report.sample_reports import HIDDEN_IDS, HIDDEN_MESSAGES, sample_report

SECRETS = HIDDEN_IDS + HIDDEN_MESSAGES


def terminal_text(report, **options) -> str:
    out = io.StringIO()
    terminal.render(report, Console(file=out, width=240, color_system=None), **options)
    return out.getvalue()


def student_outputs(report) -> dict[str, str]:
    return {
        "terminal": terminal_text(report, show_output=True),
        "gradescope": gradescope.dumps(report),
        "junit": junit.dumps(report),
        "html": html_report.render(report, images=None),
    }


def test_no_student_facing_output_names_a_hidden_check():
    report = sample_report()
    for name, text in student_outputs(report).items():
        found = [s for s in SECRETS if s in text]
        assert not found, f"{name} shows hidden {found}"
        assert "2 hidden checks, 1/3 points" in text, name


def test_the_instructor_still_sees_everything():
    report = sample_report()
    instructor = json_report.dumps(report) + terminal_text(report, show_hidden=True)
    assert all(s in instructor for s in SECRETS)


def test_hidden_points_still_count():
    report = sample_report()
    total = sum(c.score for c in report.checks)
    assert gradescope.results(report)["score"] == total
    props = {p.get("name"): p.get("value")
             for p in ET.fromstring(junit.dumps(report)).iter("property")}
    assert float(props["score"]) == total
    assert f"score {total:g} / 13" in terminal_text(report)
    assert json.loads(json_report.dumps(report))["score"] == total
