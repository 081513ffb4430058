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


def test_hidden_checks_are_one_line_and_extra_credit_is_beside_the_score():
    from grader.plan import Plan
    from grader.scoring import Rule

    plan = Plan("t", layers=("relu", "convolution"), networks=(), rules=(
        Rule("layers.relu.gradcheck", 3, hidden=True), Rule("layers.convolution.*", 2, extra=True),
        Rule("layers.convolution.backward", partial=True)))
    checks = plan.score([
        passed("layers.relu.forward", "fine"),
        failed("layers.relu.gradcheck", "SECRET mismatch\nSECRET detail", secret_figure=1),
        passed("layers.convolution.forward", "fine"),
        failed("layers.convolution.backward", "wrong in 2 of 5 cases\nmore", cases={"passed": 3, "total": 5})])
    text = render(Report(submission="s", rubric="built-in:t", seed=1, sandbox={"isolation": "none"}, checks=checks))
    assert "SECRET" not in text and "layers.relu.gradcheck" not in text and "secret_figure" not in text
    assert "1 hidden check, 0/3 points" in text
    assert "+1.2/2 (3/5 cases)" in text
    assert "score 4.2 / 4 (extra credit 3.2 / 4 included)" in text  # 1 + 0 hidden + 2 + 1.2 extra
    assert "1 failed" in text  # the visible failure only
