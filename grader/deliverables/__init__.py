"""Deliverable checks: what students hand in besides code (confusion matrix, top-3, loss logs,
test accuracy, CAM), read with hard limits and judged for consistency and against the model
itself whenever trained weights were handed in. The contract is in README, "Deliverables"."""

from grader.deliverables.checks import deliverable_checks
from grader.deliverables.settings import CHECKS, DEFAULT_POINTS

__all__ = ["deliverable_checks", "CHECKS", "DEFAULT_POINTS"]
