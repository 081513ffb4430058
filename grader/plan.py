"""Which checks run for an assignment and what each is worth.

A plan comes from a rubric file (``rubrics/<name>.yaml``, read and validated by
:mod:`grader.rubric`) or is built in code (tests); checks never decide points, the plan does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The checks run on every network, in order (later ones reuse what architecture learnt).
NETWORK_CHECKS = ("architecture", "logits", "gradient", "gradcheck", "initial_loss", "trajectory", "training")

#: Points per check kind (the last part of a check id).
DEFAULT_POINTS = {
    "forward": 1.0, "backward": 1.0, "gradcheck": 1.0,
    "architecture": 1.0, "logits": 1.0, "gradient": 2.0, "initial_loss": 0.5,
    "trajectory": 1.0, "training": 1.5,
    # deliverable checks (grader.deliverables), run when the plan has a ``deliverables`` section
    "confusion_matrix": 1.0, "top3": 1.0, "loss_log": 1.0, "accuracy": 1.0, "cam": 1.0,
}

#: Where ``get_plan`` looks for ``<name>.yaml`` when $GRADER_RUBRICS_DIR is not set.
RUBRICS_ENV = "GRADER_RUBRICS_DIR"


@dataclass(frozen=True)
class Plan:
    """The checks of one assignment: graded layers and networks, optional layers, points,
    and the sandbox limits / training budget it overrides (field names of ``grader.sandbox.Limits``
    and ``grader.checks.training.TrainingBudget``)."""

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

    def __post_init__(self) -> None:
        if not self.source:
            object.__setattr__(self, "source", f"built-in:{self.name}")

    def points_for(self, check_id: str) -> float:
        """Points of a check id; optional layers, load and integrity are informational (0)."""
        parts = check_id.split(".")
        if parts[0] == "layers" and parts[1] in self.optional_layers:
            return 0.0
        return self.points.get(parts[-1], 0.0) if len(parts) > 1 else 0.0


def rubrics_dir() -> Path:
    """$GRADER_RUBRICS_DIR, else the ``rubrics/`` folder of the grader's checkout."""
    env = os.environ.get(RUBRICS_ENV)
    if env:
        return Path(env)
    import grader

    return Path(grader.__file__).resolve().parents[1] / "rubrics"


def available_rubrics(directory: Path | None = None) -> list[str]:
    """The assignment names that have a rubric file (``<name>.yaml``) in the rubrics folder."""
    directory = rubrics_dir() if directory is None else directory
    try:
        return sorted(p.stem for p in directory.glob("*.yaml") if p.is_file())
    except OSError:
        return []


def get_plan(name: str) -> Plan:
    """The plan of an assignment from ``<rubrics dir>/<name>.yaml``, or a RubricError listing
    the rubrics that exist."""
    from grader.rubric import RubricError, load_rubric

    directory = rubrics_dir()
    names = available_rubrics(directory)
    if name not in names:  # also refuses names with a path in them: those are for --rubric FILE
        where = f"${RUBRICS_ENV}={directory}" if os.environ.get(RUBRICS_ENV) else str(directory)
        if not directory.is_dir():
            raise RubricError(f"unknown assignment {name!r}: the rubrics folder {where} does not exist; set "
                              f"${RUBRICS_ENV} to the folder of your rubrics or give one with --rubric FILE")
        if names:
            raise RubricError(f"unknown assignment {name!r}: there is no {name}.yaml in {where}; "
                              f"choose one of: {', '.join(names)} (or give a rubric file with --rubric FILE)")
        raise RubricError(f"unknown assignment {name!r}: {where} has no rubric files (*.yaml); set "
                          f"${RUBRICS_ENV} to the folder of your rubrics or give one with --rubric FILE")
    return load_rubric(directory / f"{name}.yaml")
