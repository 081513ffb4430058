"""Integrity scan, done by the parent on the submission's files before anything runs.

A submission that imports the grader's own packages, or names the grader's answer files, is
trying to copy answers. The sandbox hides those files anyway; this scan makes the attempt
visible to the instructor, and cannot be tampered with from inside the worker.

The scan runs in the grader's own process, outside every sandbox limit, so it is linear in the
size of what it reads (line by line, no pattern that can backtrack across lines or along a long
word) and capped per file and in all; what it did not read is listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader import tree

_PACKAGES = rb"(reference|grader|_gradeworker)\b"
#: ``import grader`` / ``from reference.x import y`` at the start of a line (also inside a
#: notebook's JSON, where a source line starts with a quote).
_IMPORT = re.compile(rb"[ \t\f\v\"]*(?:from|import)[ \t]+" + _PACKAGES)
_DYNAMIC = re.compile(rb"(?:import_module|__import__)\([ \t]*['\"]" + _PACKAGES)
#: What a path to one of the grader's answer files ends with, inside a string literal.
_RUBRIC = re.compile(rb"[\w.-]+\.ya?ml")
_WORD = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
SCANNED_SUFFIXES = {".py", ".ipynb"}
MAX_SCAN_BYTES = 5 * 1024 * 1024
#: Bytes read in all (a course submission's sources are well under 1 MB).
MAX_TOTAL_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Violation:
    """One suspicious line: where and what it tried."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def answer_file(line: bytes) -> str | None:
    """The grader file a string literal in ``line`` names ('.../rubrics/pa2.yaml', 'golden...'), or None.

    Each stretch between two quotes is looked at once, from its end: linear in the line.
    """
    pieces = re.split(rb"['\"]", line)
    for piece in pieces[1:-1]:  # stretches that have a quote on both sides
        word = piece[len(piece.rstrip(_WORD)):]  # the name-like characters just before the closing quote
        if b"golden" in word:
            return word[word.rindex(b"golden"):].decode()
        head, slash, name = piece.rpartition(b"/")
        if slash and head.endswith(b"rubrics") and _RUBRIC.fullmatch(name):
            return "rubrics/" + name.decode()
    return None


def scan_source(rel: str, data: bytes) -> list[Violation]:
    """Violations in one file's bytes, with their line numbers."""
    found = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if b"import" not in line and b"rubrics/" not in line and b"golden" not in line:
            continue
        hits = [m.group(1).decode() for m in (_IMPORT.match(line), _DYNAMIC.search(line)) if m]
        found += [Violation(rel, number, f"imports the grader's {package} package") for package in hits[:1]]
        if b"rubrics/" in line or b"golden" in line:
            name = answer_file(line)
            if name:
                found.append(Violation(rel, number, f"reads the grader's file {name}"))
    return found


def scan(root: Path, notes: list[str] | None = None) -> list[Violation]:
    """Look through the submission's source files (symlinks not followed, big files skipped).

    What was not read (a file too big, the total cap reached) is appended to ``notes``.
    """
    notes = [] if notes is None else notes
    found, total = [], 0
    for entry in tree.walk(root):
        if entry.kind != "file" or Path(entry.rel).suffix not in SCANNED_SUFFIXES:
            continue
        try:
            size = Path(entry.path).stat().st_size
            if size > MAX_SCAN_BYTES:
                notes.append(f"{entry.rel}: {size} bytes, more than the {MAX_SCAN_BYTES} scanned per file; not scanned")
                continue
            if total + size > MAX_TOTAL_BYTES:
                notes.append(f"{entry.rel}: the scan stops after {MAX_TOTAL_BYTES} bytes in all; not scanned")
                continue
            with open(entry.path, "rb") as f:
                data = f.read(MAX_SCAN_BYTES + 1)[:MAX_SCAN_BYTES]  # the file may have grown since
        except OSError:
            continue
        total += len(data)
        found += scan_source(entry.rel, data)
    return found
