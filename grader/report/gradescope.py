"""Gradescope's ``results.json``, as its autograder specification describes it.

Specification: https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format");
``grader/schemas/gradescope_results.schema.json`` is written from it and tests validate every
report against it. Choices made here:

- one Gradescope test per visible check, numbered "group.check" (1.1, 1.2, ... per table);
- hidden checks become one test "N hidden checks, M points" with no ids or messages, shown
  ``after_published`` (its points count in the top-level score from the start);
- extra-credit checks keep their points as ``max_score`` and carry the tag "extra credit"; the
  top-level ``score`` is every point earned, extra included;
- ``status`` is "passed" or "failed" (the only values the spec has); a skipped check has no
  status, Gradescope then goes by its score;
- outputs are plain ``text``: messages come from student code and must not render as HTML/markdown;
- ``stdout_visibility`` is "hidden": the autograder's stdout is for the instructor (run_autograder
  prints the full instructor report there).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import jsonschema

from grader.report.student_view import cases_text, student_view
from grader.results import CheckResult, Report, group_of

#: visibility values of the spec: "hidden", "after_due_date", "after_published", "visible"
HIDDEN_VISIBILITY = "after_published"


def _test(check: CheckResult, number: str) -> dict[str, Any]:
    tags = [group_of(check.id), check.id.split(".")[-1]]
    if check.extra:
        tags.append("extra credit")
    if check.status in ("error", "skipped"):
        tags.append(check.status)
    output = check.message
    if cases := cases_text(check):
        output = f"{cases}\n{output}" if output else cases
    test: dict[str, Any] = {
        "score": float(check.score),
        "max_score": float(check.max_score),
        "name": ("extra credit: " if check.extra else "") + check.id,
        "number": number,
        "output": output,
        "output_format": "text",
        "tags": tags,
        "visibility": "visible",
        "extra_data": {"status": check.status, "diagnosis": check.diagnosis},
    }
    if check.status != "skipped":
        test["status"] = "passed" if check.ok else "failed"
    return test


def results(report: Report, hidden_visibility: str = HIDDEN_VISIBILITY) -> dict[str, Any]:
    """The results.json document for one graded submission (student-facing: no hidden details)."""
    view = student_view(report)
    tests: list[dict[str, Any]] = []
    groups: dict[str, int] = {}
    within: dict[str, int] = {}
    for check in view.checks:
        group = group_of(check.id)
        groups.setdefault(group, len(groups) + 1)
        within[group] = within.get(group, 0) + 1
        tests.append(_test(check, f"{groups[group]}.{within[group]}"))
    if view.hidden:
        h = view.hidden
        tests.append({
            "score": float(h.score), "max_score": float(h.max_score),
            "status": "passed" if h.passed == h.count else "failed",
            "name": h.line, "number": f"{len(groups) + 1}.1",
            "output": f"{h.line}. Their details are not shown.", "output_format": "text",
            "tags": ["hidden"], "visibility": hidden_visibility, "extra_data": {"hidden_checks": h.count},
        })
    t = view.totals
    lines = [t.line, f"{sum(c.ok for c in view.checks)} of {len(view.checks)} checks passed"]
    if view.hidden:
        lines.append(view.hidden.line)
    lines += [f"warning: {w}" for w in report.warnings]
    return {
        "score": float(t.score),
        "execution_time": int(math.ceil(max(report.seconds, 0.0))),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"max_score": t.max_score, "extra_score": t.extra_score, "extra_max": t.extra_max,
                       "rubric": report.rubric, "grader_version": report.grader_version},
        "tests": tests,
    }


def failure_results(message: str) -> dict[str, Any]:
    """results.json when the grader itself could not grade (bad install, no submission): score 0
    and the reason, so the student sees something other than a blank page."""
    return {"score": 0.0, "execution_time": 0, "output": message, "output_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def schema() -> dict[str, Any]:
    return json.loads(resources.files("grader").joinpath("schemas/gradescope_results.schema.json").read_text())


def validate(data: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when ``data`` is not a results.json Gradescope accepts."""
    jsonschema.validate(data, schema())


def dumps(report: Report) -> str:
    return json.dumps(results(report), indent=2, allow_nan=False)
