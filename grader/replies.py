"""The shape every reply header must have, per op (parent side).

Student code can write onto the reply channel, so a header that is valid JSON may still be
anything (``"files": 5``). Each ``ok`` reply is checked against its op's schema before the grader
reads a field of it; a bad one becomes :class:`BadReply` (a worker error for that request).
"""

from __future__ import annotations

import jsonschema

from grader.sandbox import WorkerProtocolError

_TEXT = {"type": "string"}
_MAYBE_TEXT = {"type": ["string", "null"]}
_FOUND = {"type": "object", "required": ["family", "symbol", "module"],
          "properties": {"family": _TEXT, "symbol": _TEXT, "module": _TEXT}}
_DROPPED = {"type": "object", "required": ["line", "kind", "text"],
            "properties": {"line": {"type": ["integer", "null"]}, "kind": _TEXT, "text": _TEXT,
                           "cell": {"type": ["integer", "null"]}, "cell_line": {"type": ["integer", "null"]}}}
_FILE = {"type": "object", "required": ["path", "kind", "status"],
         "properties": {"path": _TEXT, "kind": _TEXT, "module": _MAYBE_TEXT, "status": _TEXT,
                        "error": _MAYBE_TEXT, "dropped": {"type": "array", "items": _DROPPED}}}

#: op -> JSON schema of its ``ok`` reply header (docs/architecture.md, "Worker ops").
SCHEMAS: dict[str, dict] = {
    "load": {"type": "object", "required": ["files", "layers", "networks", "warnings"],
             "properties": {"files": {"type": "array", "items": _FILE},
                            "layers": {"type": "object", "additionalProperties": _FOUND},
                            "networks": {"type": "object", "additionalProperties": _FOUND},
                            "warnings": {"type": "array", "items": _TEXT}}},
    "net_new": {"type": "object", "required": ["handle", "param_names"],
                "properties": {"handle": {"type": "integer"},
                               "param_names": {"type": "array", "items": _TEXT, "maxItems": 1000, "uniqueItems": True},
                               "layout": _TEXT, "family": _TEXT}},
    "net_eval": {"type": "object", "properties": {"features_from": _MAYBE_TEXT}},
    "ping": {"type": "object", "required": ["pid"], "properties": {"pid": {"type": "integer"}}},
    # deliverable checks (grader/worker/model_eval.py)
    "weights_load": {"type": "object", "required": ["format", "layout", "loaded"],
                     "properties": {"format": {"enum": ["npz", "pickle", "torch"]}, "layout": {"enum": ["numpy", "torch"]},
                                    "family": _TEXT, "loaded": {"type": "array", "items": _TEXT, "maxItems": 1000},
                                    "unused": {"type": "array", "items": _TEXT, "maxItems": 50}}},
    "net_logits_chunked": {"type": "object", "properties": {"dtype": {"enum": ["float32", "float64"]}}},
    "cam_inputs": {"type": "object", "properties": {"features_from": _MAYBE_TEXT, "final_param": _MAYBE_TEXT}},
}
_VALIDATORS = {op: jsonschema.Draft202012Validator(s) for op, s in SCHEMAS.items()}


class BadReply(WorkerProtocolError):
    """A reply header of the wrong shape: written by student code, or a worker that was tampered with."""


def check(op: str, header: dict) -> dict:
    """``header`` unchanged if it has the shape ``op`` replies with; else raise :class:`BadReply`."""
    validator = _VALIDATORS.get(op)
    if validator is None:
        return header
    problem = next(iter(sorted(validator.iter_errors(header), key=lambda e: list(e.absolute_path))), None)
    if problem is None:
        return header
    where = "/".join(str(p) for p in problem.absolute_path) or "the header"
    raise BadReply(f"the worker's reply to '{op}' has the wrong shape ({where}: {problem.message[:200]}); "
                   f"was something written onto the grader's reply channel? The worker is replaced")
