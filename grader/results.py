"""Result records: what a check found (CheckResult) and what a grading run produced (Report).

Plain data so that every report format (terminal, JSON, later Gradescope/JUnit) renders the
same facts; checks fill status/message/figures, scoring (:mod:`grader.scoring`) fills points and
the hidden/extra/partial flags from the plan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("passed", "failed", "error", "skipped")


@dataclass
class CheckResult:
    """The outcome of one check: a stable dotted id, a status and a message for the student."""

    id: str
    status: str
    message: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    diagnosis: str | None = None  # code of a known mistake that explains a failure
    score: float = 0.0
    max_score: float = 0.0
    hidden: bool = False   # counted in the score; student-facing outputs show only how many and their points
    extra: bool = False    # extra credit: counted in the score, not in the maximum
    partial: bool = False  # earns points in proportion to figures["cases"] when it fails

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.id}: unknown status {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "passed"


def group_of(check_id: str) -> str:
    """The group a check belongs to (a report table, a gradebook column): "layers", a network's key,
    or "submission" for the one-part ids (load, integrity)."""
    parts = check_id.split(".")
    if parts[0] == "layers":
        return "layers"
    return parts[0] if len(parts) > 1 else "submission"


def passed(check_id: str, message: str = "", **figures: Any) -> CheckResult:
    return CheckResult(check_id, "passed", message, figures)


def failed(check_id: str, message: str, diagnosis: str | None = None, **figures: Any) -> CheckResult:
    return CheckResult(check_id, "failed", message, figures, diagnosis)


def error(check_id: str, message: str, **figures: Any) -> CheckResult:
    return CheckResult(check_id, "error", message, figures)


def skipped(check_id: str, message: str) -> CheckResult:
    return CheckResult(check_id, "skipped", message)


def uninformative(check_id: str, message: str, **figures: Any) -> CheckResult:
    """A check that cannot tell right from wrong here (e.g. the reference itself does not learn in
    the budget): skipped and worth no points, rather than a free pass or a free fail."""
    return CheckResult(check_id, "skipped", message, {**figures, "worth_points": False})


@dataclass
class Report:
    """Everything one grading run found about one submission."""

    submission: str
    rubric: str
    checks: list[CheckResult]
    seed: int
    sandbox: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0
    grader_version: str = ""
    data: str = ""  # where the MNIST files came from ("" when no check needed them or none were found)

    @property
    def score(self) -> float:
        """Every point earned, extra credit included."""
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        """The maximum without extra credit (a full score can exceed it by ``extra_score``)."""
        return round(sum(c.max_score for c in self.checks if not c.extra), 6)

    @property
    def extra_score(self) -> float:
        """Points earned on extra-credit checks (already part of ``score``)."""
        return round(sum(c.score for c in self.checks if c.extra), 6)

    @property
    def extra_max(self) -> float:
        """What the extra-credit checks are worth together."""
        return round(sum(c.max_score for c in self.checks if c.extra), 6)

    def visible_checks(self) -> list[CheckResult]:
        """The checks a student may see (not hidden)."""
        return [c for c in self.checks if not c.hidden]

    def by_id(self) -> dict[str, CheckResult]:
        return {c.id: c for c in self.checks}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        """A report read back from its JSON (``to_dict``), e.g. to render other formats of it later."""
        fields = {f for f in CheckResult.__dataclass_fields__}
        checks = [CheckResult(**{k: v for k, v in c.items() if k in fields}) for c in data.get("checks", [])]
        own = {f for f in cls.__dataclass_fields__} - {"checks"}
        return cls(checks=checks, **{k: v for k, v in data.items() if k in own})

    def to_dict(self) -> dict[str, Any]:
        """Everything, hidden checks included: the instructor's view (what --json writes)."""
        data = asdict(self)
        data["score"] = self.score
        data["max_score"] = self.max_score
        data["extra_score"] = self.extra_score
        data["extra_max"] = self.extra_max
        return data
