"""A submission loaded in a sandboxed worker, kept alive across checks.

Every call goes through :meth:`Session.call`; when a call kills the worker (timeout, crash,
memory), the next call starts a fresh worker on a fresh copy and loads the submission
again, so one bad check never takes the others down with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader import replies, sandbox as sb

#: Exceptions a call can raise that mean "this check could not get an answer".
CallFailure = (sb.WorkerError, sb.StudentError)
#: At most this many files are left out for hanging or crashing at import before loading gives up.
MAX_LEFT_OUT = 5
#: Error messages that mean the worker ran out of something and should be replaced.
EXHAUSTED = ("allocate memory", "can't start new thread", "Resource temporarily unavailable")


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

    def load(self) -> dict[str, Any]:
        """Import the submission in the worker; returns what was found (see docs: `load`).

        A file whose import hangs or kills the worker is left out and the rest loaded again in
        a fresh worker, so one bad file costs its own checks, not the whole submission.
        """
        while True:
            try:
                header, _ = self.sandbox.request("load", {"manifest": self.manifest, "skip": self.left_out},
                                                 timeout=None)
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
        except sb.WorkerError:
            self._needs_load = True
            raise
        except sb.StudentError as exc:
            # Out of memory (or threads) leaves the worker crippled for later checks: start afresh.
            if exc.type == "MemoryError" or any(m in exc.message for m in EXHAUSTED):
                self._restart_next = True
            raise

    def has_layer(self, key: str) -> bool:
        return key in self.inventory.get("layers", {})

    def has_network(self, key: str) -> bool:
        return key in self.inventory.get("networks", {})


def describe_failure(exc: BaseException) -> str:
    """A one-paragraph explanation of why a worker call gave no answer, for the student."""
    if isinstance(exc, sb.StudentError):
        where = f" ({exc.where})" if getattr(exc, "where", "") else ""
        return f"your code raised {exc.type}: {exc.message}{where}"
    return str(exc)
