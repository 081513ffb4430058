"""A submission loaded in a sandboxed worker, kept alive across checks.

Every call goes through :meth:`Session.call`; when a call kills the worker (timeout, crash,
memory), the next call starts a fresh worker on a fresh copy and loads the submission
again, so one bad check never takes the others down with it. A layer call that cost the worker
once is not run again with no more time: its failure is the answer (one restart per hung
layer, not one per case).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from grader import replies, sandbox as sb

#: Exceptions a call can raise that mean "this check could not get an answer".
CallFailure = (sb.WorkerError, sb.StudentError)
#: At most this many files are left out for hanging or crashing at import before loading gives up.
MAX_LEFT_OUT = 5
#: Error messages that mean the worker ran out of something and should be replaced.
EXHAUSTED = ("allocate memory", "can't start new thread", "Resource temporarily unavailable",
             "No space left on device")  # a full tmpfs is memory the next check would miss
#: Failures that may be the grader's installation, not the student's code (see suspect_environment).
MAPPING_FAILED = ("failed to map segment", "cannot allocate memory")
_ALLOCATION = re.compile(r"allocate (\d+(?:\.\d+)?) (KiB|MiB|GiB|TiB|B)\b")
_UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 1024 ** 2}


def suspect_environment(text: str) -> float | None:
    """MB the failed allocation asked for (0 if not said) when ``text`` reports a MemoryError or a
    shared library that could not be mapped; None for any other failure."""
    lowered = text.lower()
    if "memoryerror" not in lowered and not any(m in lowered for m in MAPPING_FAILED):
        return None
    found = _ALLOCATION.search(text)
    return float(found.group(1)) * _UNITS[found.group(2)] if found else 0.0


class Session:
    """Talks to one submission's worker: loads it, restarts it after a crash."""

    def __init__(self, sandbox: sb.Sandbox, manifest: dict | None = None):
        self.sandbox = sandbox
        self.manifest = manifest
        self.inventory: dict[str, Any] = {}
        self.load_error: str | None = None
        self.left_out: dict[str, str] = {}  # files whose import hung or killed the worker -> why
        self.restarts = 0
        self._needs_load = True
        self._restart_next = False
        self._environment_proven = False
        self._cost_worker: dict[tuple, tuple[float, Exception]] = {}  # layer call kind -> (time it had, failure)

    def load(self) -> dict[str, Any]:
        """Import the submission in the worker; returns what was found (see docs: `load`).

        A file whose import hangs or kills the worker is left out and the rest loaded again in
        a fresh worker, so one bad file costs its own checks, not the whole submission.
        """
        while True:
            try:
                header, _ = self.sandbox.request("load", {"manifest": self.manifest, "skip": self.left_out},
                                                 timeout=max(self.sandbox.limits.load_timeout,
                                                             self.sandbox.limits.call_timeout))
                header = replies.check("load", header)
            except replies.BadReply as exc:
                self._restart_next = True
                return self._load_failed(str(exc))
            except sb.WorkerError as exc:
                culprit = self._importing()
                if culprit and culprit not in self.left_out and len(self.left_out) < MAX_LEFT_OUT:
                    self.left_out[culprit] = (f"importing it (or a module it imports) did not finish: {exc}; "
                                              f"the file was left out and the rest graded without it")
                    self.sandbox.restart()
                    self.restarts += 1
                    continue
                return self._load_failed(describe_failure(exc))
            except sb.StudentError as exc:
                return self._load_failed(describe_failure(exc))
            self.inventory = header
            self.load_error = None
            self._needs_load = False
            if isinstance(header.get("files"), list):
                self._rule_out_environment(json.dumps(header["files"], default=str))
            return header

    def _importing(self) -> str | None:
        """The file the worker was importing when it stopped answering (its last progress note)."""
        note = getattr(self.sandbox, "progress", None) or ""
        return note[len("importing "):] if note.startswith("importing ") else None

    def _load_failed(self, message: str) -> dict[str, Any]:
        self.load_error = message
        self.inventory = {}
        self._needs_load = False
        return self.inventory

    def call(self, op: str, header: dict | None = None, arrays: dict[str, np.ndarray] | None = None,
             timeout: float | None = None) -> tuple[dict, dict[str, np.ndarray]]:
        """One request to the worker; a dead worker is replaced (and reloaded) first."""
        kind = _call_kind(op, header, arrays)
        limit = self.sandbox.limits.call_timeout if timeout is None else float(timeout)
        if kind in self._cost_worker and limit <= self._cost_worker[kind][0]:
            # The same call of the same layer already cost the worker (timed out, killed it, ran it
            # out of memory) with at least this much time: answer with that failure at once, which
            # spares a restart and a reload per case (a hung backward cost one per case).
            raise self._cost_worker[kind][1]
        if not self.sandbox.alive or self._restart_next:
            self.sandbox.restart()
            self.restarts += 1
            self._needs_load = True
            self._restart_next = False
        if self._needs_load:
            self.load()
        if self.load_error:  # do not pay a load timeout again for every check
            raise sb.WorkerError(f"the submission could not be loaded: {self.load_error}")
        try:
            reply, out = self.sandbox.request(op, header or {}, arrays or {}, timeout=timeout)
            return replies.check(op, reply), out
        except replies.BadReply:
            self._restart_next = True  # the reply channel holds what student code wrote: start afresh
            self._needs_load = True
            raise
        except sb.WorkerError as exc:
            self._needs_load = True
            if kind is not None and "total time limit" not in str(exc):
                self._cost_worker[kind] = (limit, exc)
            raise
        except sb.StudentError as exc:
            self._rule_out_environment(f"{exc.type}: {exc.message}")
            # Out of memory (or threads) leaves the worker crippled for later checks: start afresh.
            if exc.type == "MemoryError" or any(m in exc.message for m in EXHAUSTED):
                self._restart_next = True
                if kind is not None:
                    self._cost_worker[kind] = (limit, exc)
            raise

    def _rule_out_environment(self, text: str) -> None:
        """A MemoryError or unmappable library while the worker holds far less than its limit may be
        the grader's installation (e.g. an address-space limit too small for a CUDA torch): replay
        the allocation without student code; GraderEnvironmentError if that fails too."""
        asked = suspect_environment(text)
        if asked is None or self._environment_proven:
            return
        needed = self.sandbox.memory_now_mb() + asked
        if needed >= self.sandbox.limits.memory_mb / 2:
            return  # near the limit: the submission's own doing
        self.sandbox.recheck(alloc_mb=int(needed) + 1)
        self._environment_proven = True  # once is enough: later failures of this kind are the submission's
        self.restarts += 1
        self._needs_load = True

    def has_layer(self, key: str) -> bool:
        return key in self.inventory.get("layers", {})

    def has_network(self, key: str) -> bool:
        return key in self.inventory.get("networks", {})

    def why_missing(self, kind: str, key: str) -> str:
        """`` (the statement that would have defined Convolution failed ...)`` for a key not found, or ''."""
        why = (self.inventory.get("missing_because") or {}).get(kind, {}).get(key)
        return f" ({why})" if why else ""


def _call_kind(op: str, header: dict | None, arrays: dict | None) -> tuple | None:
    """What makes two layer calls "the same" for replaying a failure: op, layer and the arrays sent
    (a forward alone differs from forward + backward); None for calls that are not a layer's."""
    if not header or "layer" not in header:
        return None
    return op, str(header["layer"]), tuple(sorted(arrays or {}))


def describe_failure(exc: BaseException) -> str:
    """A one-paragraph explanation of why a worker call gave no answer, for the student."""
    if isinstance(exc, sb.StudentError):
        where = f" ({exc.where})" if getattr(exc, "where", "") else ""
        return f"your code raised {exc.type}: {exc.message}{where}"
    return str(exc)
