"""Load a submission's files: walk the copy, filter and convert them, import them one by one.

The submission is a writable temporary copy: every ``.py`` file is filtered with
:mod:`.source_filter` and written back, every notebook is converted to a sibling module
(:mod:`.notebook`), before anything is imported. Then each file is imported under its canonical
dotted name (or a private alias when that name is taken or not a Python name), statement by
statement (:mod:`.tolerant`), with display-only packages stubbed (:mod:`.stubs`). A file that
fails is recorded in its :class:`~.inventory.FileStatus` and the next one still loads.
"""

from __future__ import annotations

import ast
import importlib
import keyword
import os
import re
import sys
import traceback
import types
from contextlib import contextmanager
from pathlib import Path

from . import missing_imports, stubs, tolerant
from . import notebook as nbconv
from .file_import import import_file
from .guard import restore_builtins, student_stdout
from .inventory import FileStatus, Inventory
from .source_filter import SourceError, _bound_names, filter_source, read_source

SKIP_DIRS = frozenset({"__pycache__", "venv", "env", "site-packages", "node_modules", "__MACOSX",
                       "_gradeworker", "dist-packages"})
MAX_FILE_BYTES = 5 * 1024 * 1024
#: A notebook file may be this large (outputs are dropped on reading; its code must fit MAX_CODE_BYTES).
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


def load_files(inv: Inventory, skip: dict[str, str], on_file=None) -> None:
    """Filter and import every file under ``inv.root`` into ``inv.files`` / ``inv.modules``.

    ``skip`` maps files (relative paths) to the reason they are not imported: the parent sends
    the files whose import hung or killed an earlier worker. ``on_file(rel)`` is called before
    each import, so the parent can tell which file that was.
    """
    root = inv.root
    sys.dont_write_bytecode = True
    stubs.WARNINGS.clear()
    tolerant.FAILURES.clear()
    missing_imports.STUBBED.clear()
    stubs.install(root)
    tolerant.install(root)
    py_files, notebooks = _walk(root, inv.warnings)
    jobs = _prepare(root, py_files, notebooks, inv)
    _index_definitions(jobs)
    _extend_sys_path(root, [p for p, _ in jobs])
    for path, status in jobs:
        if status.path in skip:
            status.status, status.error = "error", str(skip[status.path])
        if status.status != "ok":
            continue
        if on_file is not None:
            on_file(status.path)
        module = _import(root, path, status)
        restore_builtins()  # a file that replaced max() must not break the import of the next
        if module is not None:
            inv.modules[status.module] = module
    _collect_failures(jobs)
    inv.warnings += stubs.WARNINGS + missing_imports.warnings()


def _index_definitions(jobs: list[tuple[Path, FileStatus]]) -> None:
    """Which top-level names each prepared file defines, imports aside (failed imports are resolved with it)."""
    missing_imports.INDEX.clear()
    for path, status in jobs:
        if status.status != "ok":
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
            continue
        names = set().union(set(), *[_bound_names(n) for n in tree.body
                                     if not isinstance(n, (ast.Import, ast.ImportFrom))])
        missing_imports.INDEX[str(path.resolve())] = (status.module, names)


def _collect_failures(jobs: list[tuple[Path, FileStatus]]) -> None:
    """Give each file its failed statements, placed by cell for notebooks."""
    for path, status in jobs:
        for r in tolerant.FAILURES.get(str(path.resolve()), []):
            cell, cell_line = status.line_map.cells.get(r["line"], (None, None)) if status.line_map else (None, None)
            r["where"] = f"{status.path}, " + (f"cell {cell}, line {cell_line}" if cell is not None else f"line {r['line']}")
            status.failed.append({"line": r["line"], "cell": cell, "cell_line": cell_line, "text": r["text"],
                                  "error": r["error"], "names": r["names"], "resolution": r["resolution"]})



def _walk(root: Path, warnings: list[str]) -> tuple[list[Path], list[Path]]:
    py, nb = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                             and not (Path(dirpath, d) / "pyvenv.cfg").exists())
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if name.startswith(".") or not name.endswith((".py", ".ipynb")):
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            limit = MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_FILE_BYTES
            if size > limit:
                warnings.append(f"{path.relative_to(root).as_posix()}: larger than {limit // 2**20} MB, not loaded")
                continue
            (py if name.endswith(".py") else nb).append(path)
    return py, nb


def _prepare(root: Path, py_files: list[Path], notebooks: list[Path], inv: Inventory) -> list[tuple[Path, FileStatus]]:
    """Filter every file and write the result into the copy, before anything is imported."""
    jobs = []
    taken = {p.resolve() for p in py_files}
    for path in py_files:
        rel = path.relative_to(root).as_posix()
        status = FileStatus(rel, "py", module_name(root, path))
        inv.files.append(status)
        try:
            text, warnings = read_source(path)
            inv.warnings += warnings
            kept, status.dropped = filter_source(text, rel)
            path.write_text(kept, encoding="utf-8")
        except SourceError as exc:
            status.status, status.error = "error", str(exc)
        except OSError as exc:
            status.status, status.error = "error", f"cannot read or write the file: {exc}"
        jobs.append((path, status))
    for path in notebooks:
        rel = path.relative_to(root).as_posix()
        target = _notebook_target(path, taken)
        taken.add(target.resolve())
        status = FileStatus(rel, "ipynb", module_name(root, target))
        inv.files.append(status)
        if target.stem != path.stem:
            inv.warnings.append(f"{rel}: imported as module '{status.module}' (the name '{path.stem}' was taken "
                                f"or is not a valid module name)")
        try:
            source, status.dropped, warnings, status.line_map = nbconv.convert(path)
            inv.warnings += warnings
            target.write_text(source, encoding="utf-8")
        except nbconv.NotebookError as exc:
            status.status, status.error = "error", str(exc)
        except OSError as exc:
            status.status, status.error = "error", f"cannot write the converted notebook: {exc}"
        jobs.append((target, status))
    return jobs


def _notebook_target(path: Path, taken: set[Path]) -> Path:
    stem = nbconv.module_stem(path.stem)
    candidate = path.with_name(stem + ".py")
    n = 1
    while candidate.resolve() in taken:  # a .py of the same name (often the notebook's export)
        candidate = path.with_name(f"{stem}_ipynb{'' if n == 1 else n}.py")
        n += 1
    return candidate


def module_name(root: Path, path: Path) -> str:
    """Dotted name relative to the root; ``pkg/__init__.py`` -> ``pkg``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts and parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _importable_name(name: str) -> bool:
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in name.split("."))


def _extend_sys_path(root: Path, paths: list[Path]) -> None:
    """The root first, then every directory holding modules (as running the scripts would)."""
    dirs = [str(root)] + sorted({str(p.parent) for p in paths} - {str(root)})
    for d in reversed(dirs):
        if d not in sys.path:
            sys.path.insert(0, d)


def _import(root: Path, path: Path, status: FileStatus) -> types.ModuleType | None:
    name = status.module
    existing = sys.modules.get(name)
    try:
        with _in_directory(path.parent), student_stdout():
            if existing is not None and _module_file(existing) == path.resolve():
                module = existing  # already imported by a sibling (``from common.layers import *``)
            elif _importable_name(name) and not _shadowed(name, root):
                module = importlib.import_module(name)
                if _module_file(module) != path.resolve():
                    module = _import_file(name, path)
            else:
                module = _import_file(name, path)
        return module
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the next file still loads
        status.status = "error"
        status.error = describe_import_error(exc, root, status)
        return None


def _shadowed(name: str, root: Path) -> bool:
    """The top-level package name is already taken by a module outside the submission."""
    top = sys.modules.get(name.split(".")[0])
    if top is None:
        return False
    f = _module_file(top)
    locations = [Path(p).resolve() for p in getattr(top, "__path__", [])]
    inside = (f is not None and root in f.parents) or any(root == p or root in p.parents for p in locations)
    return not inside


def _import_file(name: str, path: Path) -> types.ModuleType:
    """Import a file under a private unique name (module name not importable or taken)."""
    alias = "_submission_" + re.sub(r"\W", "_", name)
    if alias in sys.modules and _module_file(sys.modules[alias]) == path.resolve():
        return sys.modules[alias]
    return import_file(alias, path, tolerant.TolerantLoader(alias, str(path)))


def _module_file(module) -> Path | None:
    f = getattr(module, "__file__", None)
    try:
        return Path(f).resolve() if f else None
    except (OSError, TypeError):
        return None


@contextmanager
def _in_directory(directory: Path):
    """chdir while a module runs (``sys.path.append(os.pardir)``), then pin relative sys.path."""
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        for i, entry in enumerate(sys.path):
            if isinstance(entry, str) and entry != "" and not os.path.isabs(entry):
                sys.path[i] = os.path.normpath(os.path.join(directory, entry))
        os.chdir(before)


def describe_import_error(exc: BaseException, root: Path, status: FileStatus) -> str:
    """``ModuleNotFoundError: No module named 'x' (ch07/net.py, line 5)``: the student's line."""
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = (exc.filename, exc.lineno)
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            p = Path(frame.filename).resolve()
        except (OSError, ValueError):
            continue
        if root in p.parents:
            where = (str(p), frame.lineno)
    message = f"{type(exc).__name__}: {exc}"
    if where:
        p = Path(where[0])
        try:
            rel = p.resolve().relative_to(root).as_posix()
        except (ValueError, OSError):
            rel = str(p)
        line = f"line {where[1]}"
        if status.line_map is not None and rel == module_name_path(status):
            line = status.line_map.where(where[1])
            rel = status.path
        message += f" ({rel}, {line})"
    return message


def module_name_path(status: FileStatus) -> str:
    return status.module.replace(".", "/") + ".py" if status.module else ""

