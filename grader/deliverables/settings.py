"""The rubric's optional ``deliverables:`` section: where the files are (overrides of the contract's
default paths), how top-3 is ranked and which CAM form is meant. Which deliverable checks run is the
rubric's ``network_checks`` list, as for every other kind."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.checks.networks import NETWORKS
from grader.deliverables.contract import DEFAULT_PATHS, Contract

#: Deliverable check kinds, in the order they run (the last part of their check ids).
CHECKS = ("confusion_matrix", "top3", "loss_log", "accuracy", "cam")
#: Networks that have no convolution, so no CAM: the MLPs and their torch twins.
NO_CAM = tuple(key for key, spec in NETWORKS.items() if spec.is_mlp)

#: JSON schema of the section (grader/schemas/rubric.schema.json refers to the same shape).
SCHEMA = {
    "type": "object", "additionalProperties": False,
    "description": "deliverable checks (README, 'Deliverables'): which run, where the files are, how they are ranked",
    "properties": {
        "paths": {"type": "object", "additionalProperties": False,
                  "properties": {k: {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
                                 for k in DEFAULT_PATHS},
                  "description": "path patterns per kind ({net} = network id, globs allowed) replacing the defaults"},
        "top3_among": {"enum": ["all", "class"], "description": "rank every test image, or only those of the class"},
        "cam": {"enum": ["cam", "grad_cam"], "description": "the CAM form asked for (default: either is accepted)"},
        "accuracy": {"type": "object", "additionalProperties": False, "required": ["full"],
                     "description": "test-accuracy bar: full points at or above `full`, none at or below `zero` "
                                    "(default: full), linear between (mark `accuracy` partial in points:)",
                     "properties": {"full": {"type": "number", "minimum": 0, "maximum": 1},
                                    "zero": {"type": "number", "minimum": 0, "maximum": 1}}},
    },
}


@dataclass(frozen=True)
class DeliverableSettings:
    """The ``deliverables:`` section as typed values."""

    contract: Contract = field(default_factory=Contract)
    top3_among: str | None = None
    cam_form: str | None = None
    accuracy: tuple[float, float] | None = None  # (full, zero): the test-accuracy bar, None: no bar

    @classmethod
    def from_section(cls, section: dict | None) -> "DeliverableSettings":
        section = section or {}
        return cls(contract=Contract.from_rubric(section.get("paths")),
                   top3_among=section.get("top3_among"), cam_form=section.get("cam"),
                   accuracy=_bar(section.get("accuracy")))


def _bar(section: dict | None) -> tuple[float, float] | None:
    if not section:
        return None
    full = float(section["full"])
    return full, float(section.get("zero", full))
