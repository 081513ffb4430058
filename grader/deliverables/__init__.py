"""Deliverable checks: what students hand in besides code (confusion matrix, top-3, loss logs,
test accuracy, CAM), read with hard limits and judged for consistency and against the model
itself whenever trained weights were handed in. The contract is in README, "Deliverables"."""

from grader.deliverables.checks import applies, deliverable_checks, prepare, run_kind
from grader.deliverables.evaluate import warm_up
from grader.deliverables.settings import CHECKS

__all__ = ["applies", "deliverable_checks", "prepare", "run_kind", "warm_up", "CHECKS"]
