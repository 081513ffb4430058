"""Run a submission module one top-level statement at a time, so a statement that raises costs
only itself: the names defined before and after it stay defined (the last definition wins).

Submission files (under a root given to :func:`install`) are imported through
:class:`TolerantLoader`, whether the grader imports them or a sibling does
(``from common.layers import *``). Each failed statement is recorded in :data:`FAILURES` by file;
a failed import of a module that is nowhere is handed to :mod:`.missing_imports`.
"""

from __future__ import annotations

import __future__
import ast
import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

from . import missing_imports
from .source_filter import _bound_names

#: Resolved file path -> the statements of that file that raised while it was imported.
FAILURES: dict[str, list[dict]] = {}


def describe(exc: BaseException, node: ast.stmt) -> str:
    """``import failed: No module named 'common'`` / ``raised ZeroDivisionError: division by zero``."""
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    if isinstance(node, (ast.Import, ast.ImportFrom)) and isinstance(exc, ImportError):
        return f"import failed: {message}"
    return f"raised {type(exc).__name__}: {message}" if message else f"raised {type(exc).__name__}"


def run_module(module, source: str, path: str) -> None:
    """Execute ``source`` in ``module`` statement by statement, recording the ones that raise.

    A file that does not parse raises SyntaxError as a normal import would (the file fails).
    """
    tree = ast.parse(source, path)
    lines = source.split("\n")
    records = FAILURES[str(Path(path).resolve())] = []
    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                flags |= getattr(getattr(__future__, alias.name, None), "compiler_flag", 0)
        try:
            code = compile(ast.Module([node], type_ignores=[]), path, "exec", flags=flags, dont_inherit=True)
            exec(code, module.__dict__)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the next statement still runs
            record = {"line": node.lineno, "text": lines[node.lineno - 1].strip()[:120],
                      "error": describe(exc, node), "names": sorted(_bound_names(node) - {"*"}),
                      "star": any(a.name == "*" for a in getattr(node, "names", [])), "resolution": None,
                      "where": f"{Path(path).name}, line {node.lineno}"}
            records.append(record)
            try:
                record["resolution"] = missing_imports.resolve(node, exc, module, record)
            except Exception as resolve_exc:  # never let the fallback sink the file
                record["resolution"] = f"could not be resolved ({type(resolve_exc).__name__}: {resolve_exc})"
            del exc


class TolerantLoader(importlib.machinery.SourceFileLoader):
    """A source loader that runs the module with :func:`run_module` (no bytecode cache)."""

    def exec_module(self, module) -> None:
        data = self.get_data(self.path)
        run_module(module, data.decode("utf-8", "surrogateescape"), self.path)


class TolerantFinder(importlib.abc.MetaPathFinder):
    """Finds submission ``.py`` files as the path finder would, and loads them tolerantly."""

    roots: set[Path] = set()

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        if not any(root in Path(spec.origin).resolve().parents for root in self.roots):
            return None
        spec.loader = TolerantLoader(fullname, spec.origin)
        return spec


def install(root: Path) -> None:
    """Load every ``.py`` under ``root`` tolerantly (first on sys.meta_path, after the stubs)."""
    TolerantFinder.roots.add(root)
    if not any(isinstance(f, TolerantFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, TolerantFinder())


def explain_name_error(exc: BaseException) -> str | None:
    """For a NameError on a name a failed statement would have bound: which statement and why."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, NameError) or not name:
        return None
    stars = []
    for records in FAILURES.values():
        for r in records:
            if name in r["names"]:
                return f"the statement that would have defined '{name}' failed ({r['where']}: {r['text']}: {r['error']})"
            if r["star"]:
                stars.append(r)
    if stars:
        r = stars[0]
        return f"'{name}' may have come from a failed import ({r['where']}: {r['text']}: {r['error']})"
    return None
