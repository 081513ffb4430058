"""The machine-readable report: one JSON document per graded submission.

Its format is fixed by ``grader/schemas/report.schema.json``; tests validate every report.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import numpy as np

from grader.results import Report


def _plain(value: Any) -> Any:
    """JSON-safe figures: numpy scalars and arrays to Python, non-finite floats to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON data (what --json writes)."""
    return _plain(report.to_dict())


def schema() -> dict[str, Any]:
    return json.loads(resources.files("grader").joinpath("schemas/report.schema.json").read_text())


def validate(data: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when a report does not follow the documented format."""
    jsonschema.validate(data, schema())


def dumps(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, allow_nan=False)
