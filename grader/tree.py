"""Walk a submission's folder safely from the grader's own process (parent side).

A submission is untrusted input before any sandbox applies: a name that is not UTF-8 (a zip made on
Korean Windows, CP949 names), folders nested a thousand deep, or a million entries must neither
crash nor hang the grader. The walk is iterative, never follows symlinks, is bounded in depth and
size, and says what it left out (names shown with their undecodable bytes escaped).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

#: Folders deeper than this are left out (a real course submission is a few levels deep).
MAX_DEPTH = 32
#: Files and folders looked at in all; the rest is left out (a real submission holds dozens).
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Entry:
    """One thing in the folder: ``rel`` is '/'-separated and valid UTF-8."""

    rel: str
    path: str
    kind: str  # "dir" | "file" | "link" | "other"
    depth: int


def printable(name: str) -> str:
    """``name`` safe to print and to encode as UTF-8: undecodable bytes become ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace") if not is_utf8(name) else name


def is_utf8(name: str) -> bool:
    """True when a name read from the file system is valid UTF-8 (no surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(entry: os.DirEntry) -> str:
    try:
        if entry.is_symlink():
            return "link"
        if entry.is_dir(follow_symlinks=False):
            return "dir"
        return "file" if entry.is_file(follow_symlinks=False) else "other"
    except OSError:
        return "other"


def walk(root: str | Path, skipped: list[str] | None = None, *, max_depth: int = MAX_DEPTH,
         max_entries: int = MAX_ENTRIES, prune: tuple[str, ...] = ()) -> Iterator[Entry]:
    """Every entry under ``root`` in sorted depth-first order (a folder before its contents).

    Left out, each with a line in ``skipped``: names that are not UTF-8 (with all they hold),
    folders deeper than ``max_depth``, unreadable folders, everything past ``max_entries``.
    Folders named in ``prune`` are passed over silently (and not yielded).
    """
    skipped = [] if skipped is None else skipped
    seen = 0
    stack: list[tuple[Iterator[os.DirEntry], str, int]] = []  # (entries left, folder's rel path, depth)

    def enter(folder: str, rel: str, depth: int) -> None:
        try:
            with os.scandir(folder) as it:
                entries = sorted(itertools.islice(it, max_entries + 1), key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            skipped.append(f"{printable(rel) or '.'}: cannot be read ({exc.strerror}); not graded")
            return
        stack.append((iter(entries), rel, depth))

    enter(os.fspath(root), "", 0)
    while stack:
        entries, rel_folder, depth = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
        seen += 1
        if seen > max_entries:
            skipped.append(f"more than {max_entries} files and folders: {printable(rel)} and everything "
                           f"after it were not graded")
            return
        if not is_utf8(entry.name):
            skipped.append(f"{printable(rel)}: the name is not valid UTF-8 (a zip made with another code "
                           f"page, e.g. on Korean Windows?); rename it with plain letters. Not graded")
            continue
        kind = _kind(entry)
        if kind == "dir" and entry.name in prune:
            continue
        if kind == "dir" and depth + 1 > max_depth:
            skipped.append(f"{rel}: folders nested more than {max_depth} deep; not graded")
            continue
        yield Entry(rel, entry.path, kind, depth + 1)
        if kind == "dir":
            enter(entry.path, rel, depth + 1)
