"""How a score is computed: the one place that turns check results into points.

Every check id gets a :class:`Weight` (points, partial, extra, hidden) from the plan:

1. the kind's points (the last part of the id: ``gradient`` for ``two_layer_cnn.gradient``),
   the registry's default unless the rubric's ``points:`` gives the kind a number;
2. then every rubric entry that matches the id, least specific first, so the most specific one
   wins, field by field (an entry sets only the fields it names): a kind name
   < a pattern (``layers.*.gradcheck``; more literal parts, then more literal characters, is
   more specific; between equals the one written later) < the exact id;
3. then the fixed rules: ``load`` and ``integrity`` are informational (0), optional layers are
   worth 0, and a check that could not judge (``figures["worth_points"] is False``) is worth 0.

A passed check earns its points; a failed one with ``partial`` earns them in proportion to
``figures["fraction"]`` (a graded measure in [0, 1], e.g. test accuracy between the rubric's two
thresholds) or else ``figures["cases"]`` (``{"passed": k, "total": n}``); anything else earns 0. ``extra`` points
count in the score but not in the maximum; ``hidden`` only changes what students are shown.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Iterable, Mapping

from grader.results import CheckResult

#: The fields a rubric entry may set besides nothing.
FLAGS = ("partial", "extra", "hidden")


@dataclass(frozen=True)
class Weight:
    """What one check is worth and how it is shown."""

    points: float = 0.0
    partial: bool = False
    extra: bool = False
    hidden: bool = False


@dataclass(frozen=True)
class Rule:
    """One rubric points entry: a kind name (``gradient``), a check id (``layers.convolution.gradcheck``)
    or an id pattern in which ``*`` stands for any text inside one dotted part (``layers.*.gradcheck``,
    ``three_layer_cnn*.training``). Fields left None are not set by this entry."""

    pattern: str
    points: float | None = None
    partial: bool | None = None
    extra: bool | None = None
    hidden: bool | None = None
    line: int | None = None  # where it is written in the rubric, for messages

    @property
    def is_kind(self) -> bool:
        return "." not in self.pattern

    def matches(self, check_id: str) -> bool:
        parts = check_id.split(".")
        if self.is_kind:
            return len(parts) > 1 and parts[-1] == self.pattern
        mine = self.pattern.split(".")
        return len(mine) == len(parts) and all(fnmatchcase(p, m) for p, m in zip(parts, mine))

    def specificity(self) -> tuple[int, int, int]:
        """Bigger is more specific: (kind 0 / pattern 1 / exact id 2, literal parts, literal characters)."""
        if self.is_kind:
            return (0, 0, 0)
        if "*" not in self.pattern:
            return (2, 0, 0)
        parts = self.pattern.split(".")
        return (1, sum("*" not in p for p in parts), len(self.pattern.replace("*", "").replace(".", "")))


def weight(check_id: str, kind_points: Mapping[str, float], rules: Iterable[Rule] = (),
           optional_layers: Iterable[str] = ()) -> Weight:
    """The weight of one check id (see the module docstring for the precedence)."""
    parts = check_id.split(".")
    if len(parts) < 2:  # load, integrity
        return Weight()
    fields = {"points": float(kind_points.get(parts[-1], 0.0)), "partial": False, "extra": False, "hidden": False}
    matching = [(r.specificity(), i, r) for i, r in enumerate(rules) if r.matches(check_id)]
    for _, _, rule in sorted(matching, key=lambda m: (m[0], m[1])):
        for name in fields:
            value = getattr(rule, name)
            if value is not None:
                fields[name] = float(value) if name == "points" else bool(value)
    if parts[0] == "layers" and len(parts) == 3 and parts[1] in set(optional_layers):
        fields["points"] = 0.0  # checked when present, for feedback only
    return Weight(**fields)


def earned(result: CheckResult, max_points: float, partial: bool) -> float:
    """Points a result earns out of ``max_points``."""
    if result.status == "passed":
        return max_points
    fraction = result.figures.get("fraction")  # a graded measure (e.g. accuracy between two thresholds)
    if partial and result.status == "failed" and isinstance(fraction, (int, float)) and not isinstance(fraction, bool):
        return round(max_points * min(max(float(fraction), 0.0), 1.0), 6)
    cases = result.figures.get("cases")
    if (partial and result.status == "failed" and isinstance(cases, dict)
            and isinstance(cases.get("total"), int) and cases["total"] > 0):
        done = min(max(int(cases.get("passed", 0)), 0), cases["total"])
        return round(max_points * done / cases["total"], 6)
    return 0.0


def score(results: Iterable[CheckResult], kind_points: Mapping[str, float], rules: Iterable[Rule] = (),
          optional_layers: Iterable[str] = ()) -> list[CheckResult]:
    """The results with their points, and hidden/extra/partial, filled in (new records; inputs untouched)."""
    rules, optional_layers = tuple(rules), tuple(optional_layers)
    out = []
    for result in results:
        w = weight(result.id, kind_points, rules, optional_layers)
        max_points = 0.0 if result.figures.get("worth_points") is False else w.points
        if w.extra and result.status == "failed" and result.diagnosis == "missing":
            result = not_attempted(result)
        out.append(dataclasses.replace(result, max_score=max_points, score=earned(result, max_points, w.partial),
                                       partial=w.partial, extra=w.extra, hidden=w.hidden))
    return out


def not_attempted(result: CheckResult) -> CheckResult:
    """An extra-credit check of a layer or network the submission does not have: skipped, not failed
    (leaving out extra credit is a choice; CI and the report must not count it as a failure)."""
    return dataclasses.replace(result, status="skipped", message=f"not attempted (extra credit): {result.message}")
