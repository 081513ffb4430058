"""The report files one grading run writes, as the command line's flags ask for them."""

from __future__ import annotations

import sys
from pathlib import Path

from grader.report import gradescope, html_report, json_report, junit
from grader.results import Report


def write(report: Report, *, json: str | None = None, gradescope_file: str | None = None,
          junit_file: str | None = None, html_dir: str | None = None, data_dir=None) -> None:
    """--json FILE ('-': stdout; the instructor's, with everything), --gradescope FILE, --junit FILE
    and --html DIR (the student-facing ones). ``data_dir`` is where the page's MNIST images come from."""
    if json == "-":
        sys.stdout.write(json_report.dumps(report) + "\n")
    elif json:
        Path(json).write_text(json_report.dumps(report) + "\n")
    if gradescope_file:
        Path(gradescope_file).write_text(gradescope.dumps(report) + "\n")
    if junit_file:
        junit.write(report, junit_file)
    if html_dir:
        html_report.write(report, html_dir, html_report.mnist_test_images(data_dir))
