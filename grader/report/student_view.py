"""What a student may see of a report: the visible checks, and hidden checks only as a count.

Every student-facing renderer (terminal, Gradescope, JUnit, HTML) goes through ``student_view`` so
that "hidden" means the same everywhere: a hidden check counts in the score, but its id, message
and figures never leave the instructor's JSON. Totals follow the rubric fields ``extra`` (points
beyond the maximum) and ``hidden``, which scoring sets on every result.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.results import CheckResult, Report


@dataclass(frozen=True)
class HiddenSummary:
    """All a student learns about the hidden checks."""

    count: int
    score: float
    max_score: float
    passed: int

    @property
    def line(self) -> str:
        """The one sentence every format shows, e.g. "3 hidden checks, 2/4 points"."""
        noun = "check" if self.count == 1 else "checks"
        return f"{self.count} hidden {noun}, {self.score:g}/{self.max_score:g} points"


@dataclass(frozen=True)
class Totals:
    """The report's totals: regular points (score incl. extra, out of max) and the extra-credit part."""

    score: float
    max_score: float
    extra_score: float
    extra_max: float

    @property
    def line(self) -> str:
        text = f"score {self.score:g} / {self.max_score:g}"
        if self.extra_max:
            text += f" (extra credit {self.extra_score:g} / {self.extra_max:g} included)"
        return text


@dataclass(frozen=True)
class StudentView:
    """A report as a student sees it: the visible checks in order, hidden ones summed up."""

    report: Report
    checks: list[CheckResult]
    hidden: HiddenSummary | None
    totals: Totals


def totals(report: Report) -> Totals:
    """Score (all points earned, extra included), max (without extra), extra score and extra max."""
    return Totals(float(report.score), float(report.max_score), float(report.extra_score), float(report.extra_max))


def student_view(report: Report) -> StudentView:
    hidden = [c for c in report.checks if c.hidden]
    summary = None
    if hidden:
        summary = HiddenSummary(len(hidden), round(sum(c.score for c in hidden), 6),
                                round(sum(c.max_score for c in hidden), 6), sum(c.ok for c in hidden))
    return StudentView(report, report.visible_checks(), summary, totals(report))


def problems(checks: list[CheckResult]) -> list[CheckResult]:
    """The checks the "what to fix" panel explains: failures and errors with a multi-line message."""
    return [c for c in checks if c.status in ("failed", "error") and "\n" in c.message]


def cases_text(check: CheckResult) -> str:
    """ "k/n cases" for checks that carry figures["cases"] (layer checks), else ""."""
    cases = check.figures.get("cases") if isinstance(check.figures, dict) else None
    if isinstance(cases, dict) and isinstance(cases.get("total"), int) and isinstance(cases.get("passed"), int):
        return f"{cases['passed']}/{cases['total']} cases"
    return ""
