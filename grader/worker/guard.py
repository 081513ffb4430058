"""Keep student code from breaking the worker: ``builtins`` restored between requests and files,
student prints kept off the protocol.

Replacing ``max`` or ``abs`` cannot fool the grader (it compares in its own process), but it
breaks the import machinery and the worker's replies; this keeps such a patch confined to the
request (or file) that made it. Snapshot taken when the worker starts, before student code runs.
"""

from __future__ import annotations

import builtins
import os
import sys
from contextlib import contextmanager, redirect_stdout

#: The submission's root, taken when the worker starts (student code may chdir later).
ROOT = os.getcwd()

_namespace = vars(builtins)
_SNAPSHOT = dict(_namespace)


def restore_builtins() -> None:
    """Put every builtin back as it was at worker start; remove names a submission added."""
    for name in [n for n in _namespace if n not in _SNAPSHOT]:
        del _namespace[name]
    for name, value in _SNAPSHOT.items():
        if _namespace.get(name) is not value:
            _namespace[name] = value


@contextmanager
def student_stdout():
    """Student prints go to stderr: stdout may carry the worker protocol."""
    with redirect_stdout(sys.stderr):
        yield
