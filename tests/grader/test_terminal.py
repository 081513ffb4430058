"""The terminal report prints what a submission put in it literally: no markup, no encoding errors."""

import io

from rich.console import Console

from grader.report import terminal
from grader.results import Report, failed, passed


def render(report) -> str:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")  # strict, like a real terminal's stdout
    terminal.render(report, Console(file=out, width=200, color_system=None), show_output=True)
    out.flush()
    return raw.getvalue().decode("utf-8")


def test_markup_and_lone_surrogates_from_a_submission_are_printed_escaped():
    report = Report(submission="sub [/]", rubric="built-in:x", seed=1, sandbox={"isolation": "none"},
                    files=[{"path": "PA2 [/] copy.py", "status": "ok", "dropped": [
                        {"line": 3, "kind": "call", "text": "print('[bold]x[/]')"}]}],
                    warnings=["[red]w[/]: a symbolic link; not copied"], output="[/] out \udcb0",
                    checks=[passed("load", "1 file imported"),
                            failed("layers.relu.forward", "your code raised ValueError: [/] \udcb0\nmore")])
    text = render(report)
    for literal in ("sub [/]", "PA2 [/] copy.py", "print('[bold]x[/]')", "[red]w[/]: a symbolic link",
                    "[/] out \\udcb0", "ValueError: [/] \\udcb0"):
        assert literal in text, literal
