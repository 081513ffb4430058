"""Integrity scan, done by the parent on the submission's files before anything runs.

A submission that imports the grader's own packages, or names the grader's answer files, is
trying to copy answers. The sandbox hides those files anyway; this scan makes the attempt
visible to the instructor, and cannot be tampered with from inside the worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Import of the grader's packages in any spelling a student might use (also inside a
#: notebook's JSON, where a source line starts with a quote).
_PATTERNS = [
    (re.compile(rb"^[\s\"]*(?:from|import)\s+(reference|grader|_gradeworker)\b", re.M), "imports the grader's {0} package"),
    (re.compile(rb"""(?:import_module|__import__)\(\s*['"](reference|grader|_gradeworker)\b"""), "imports the grader's {0} package"),
    (re.compile(rb"""['"][^'"\n]*(rubrics/[\w.-]+\.ya?ml|golden[\w.-]*)['"]"""), "reads the grader's file {0}"),
]
SCANNED_SUFFIXES = {".py", ".ipynb"}
MAX_SCAN_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Violation:
    """One suspicious line: where and what it tried."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def scan(root: Path) -> list[Violation]:
    """Look through the submission's source files (symlinks not followed, big files skipped)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.suffix not in SCANNED_SUFFIXES:
            continue
        try:
            if path.stat().st_size > MAX_SCAN_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        for pattern, what in _PATTERNS:
            for m in pattern.finditer(data):
                line = data.count(b"\n", 0, m.start(1)) + 1
                found.append(Violation(str(path.relative_to(root)), line, what.format(m.group(1).decode(errors="replace"))))
    return found
