"""The terminal report's layout: what a student sees in a narrow terminal."""

import io

from rich.console import Console

from grader.report import terminal
from tests.report.sample_reports import sample_report


def test_a_long_file_path_in_a_one_line_message_is_shown_whole_in_a_narrow_terminal():
    """One-line messages appear only in the table (the "what to fix" panel takes multi-line ones), so the
    result column must wrap a path too long for it rather than cut it to "results/two_layer_cnn/confu…"."""
    report = sample_report()
    path = "results/three_layer_cnn/confusion_matrix_of_the_handed_in_network.csv"
    report.checks[6].status, report.checks[6].message = "failed", f"no file found at {path}: hand in a 10x10 CSV"
    out = io.StringIO()
    terminal.render(report, Console(file=out, width=80, color_system=None))
    cells = [line.split("│")[-2].strip() for line in out.getvalue().splitlines() if line.count("│") >= 5]
    assert path in "".join(cells), cells
