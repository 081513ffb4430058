"""Which checks run for an assignment and what each is worth.

A plan comes from a rubric file (``rubrics/<name>.yaml``, read and validated by
:mod:`grader.rubric`) or is built in code (tests); checks never decide points, the plan does,
through :meth:`Plan.score` (the rules are in :mod:`grader.scoring`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from grader import scoring
from grader.checks import registry
from grader.checks.layers import LAYERS
from grader.checks.networks import NETWORKS
from grader.results import CheckResult

#: The checks run on every network by default, in order (later ones reuse what architecture learnt).
NETWORK_CHECKS = registry.default_network_checks()

#: Points per check kind (the last part of a check id) when a rubric says nothing.
DEFAULT_POINTS = registry.default_points()


@dataclass(frozen=True)
class Plan:
    """The checks of one assignment: graded layers and networks, optional layers, points per kind,
    per-id/pattern rules (``grader.scoring.Rule``), and the sandbox limits / training budget it
    overrides (field names of ``grader.sandbox.Limits`` and ``grader.checks.training.TrainingBudget``)."""

    name: str
    layers: tuple[str, ...]
    networks: tuple[str, ...]
    optional_layers: tuple[str, ...] = ()   # checked when present, worth no points
    network_checks: tuple[str, ...] = NETWORK_CHECKS
    points: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))
    limits: dict[str, Any] = field(default_factory=dict)     # overrides of the sandbox Limits defaults
    training: dict[str, Any] = field(default_factory=dict)   # overrides of the TrainingBudget defaults
    deliverables: dict[str, Any] | None = None  # the rubric's deliverables section; None: no deliverable checks
    source: str = ""  # the rubric file it was read from; "built-in:<name>" for a plan made in code
    rules: tuple[scoring.Rule, ...] = ()  # per-kind flags, per-id and pattern entries, in rubric order

    def __post_init__(self) -> None:
        if not self.source:
            object.__setattr__(self, "source", f"built-in:{self.name}")
        for what, names, known in (("layer", self.layers + self.optional_layers, LAYERS),
                                   ("network", self.networks, NETWORKS),
                                   ("network check", self.network_checks, registry.NETWORK_KINDS)):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"plan {self.name!r}: unknown {what} {', '.join(map(repr, unknown))}; "
                                 f"the {what}s are: {', '.join(known)}")

    def check_ids(self) -> list[str]:
        """Every check id this plan can produce (optional layers included)."""
        return registry.check_ids(self.layers + self.optional_layers, self.networks, self.network_checks)

    def weight(self, check_id: str) -> scoring.Weight:
        """What one check id is worth and how it is shown (see grader.scoring)."""
        return scoring.weight(check_id, self.points, self.rules, self.optional_layers)

    def points_for(self, check_id: str) -> float:
        """Points of a check id; optional layers, load and integrity are informational (0)."""
        return self.weight(check_id).points

    def score(self, results: Iterable[CheckResult]) -> list[CheckResult]:
        """The results scored by this plan: points, partial credit, extra and hidden filled in."""
        return scoring.score(results, self.points, self.rules, self.optional_layers)
