"""What a failed import binds when the module it names is neither in the submission nor installed.

``from common.util import im2col`` in a notebook whose ``common/`` stayed on Google Drive: each
asked name is taken from the file itself when it defines it (in an earlier or a later cell), else
from a submission module that defines it (one named like the missing module first); a name found
nowhere is bound to a :class:`Missing` placeholder that says, when used, which import failed.
``from common.functions import *`` takes the names of a submission module named ``functions``.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

#: Resolved file path -> (module name, top-level names the file binds); filled by discover.
INDEX: dict[str, tuple[str, set[str]]] = {}
#: (failed import's record, name) for each name bound to a placeholder; see :func:`warnings`.
STUBBED: list[tuple[dict, str]] = []


class Missing:
    """Stands for a name whose import failed; calling it or reading from it says why."""

    def __init__(self, name: str, record: dict):
        self._name, self._record = name, record

    def _fail(self, *args, **kwargs):
        r = self._record
        raise NameError(f"'{self._name}' is not available: {r['text']} failed ({r['where']}: {r['error']}) and "
                        f"the submission defines no '{self._name}'; add the module to the submission or "
                        f"define '{self._name}' yourself", name=self._name)

    __call__ = __getitem__ = __iter__ = __mro_entries__ = _fail

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        self._fail()

    def __repr__(self):
        return f"<missing {self._name}>"


def resolve(node: ast.stmt, exc: BaseException, module, record: dict) -> str | None:
    """Bind what a failed import asked for; returns what was done, or None if it does not apply."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    if not isinstance(node, (ast.Import, ast.ImportFrom)) or getattr(node, "level", 0):
        return None
    if isinstance(node, ast.ImportFrom):
        if not _names_missing(node.module or "", exc.name):
            return None  # the module exists; something it imports does not
        return _resolve_from(node, module, record)
    done = []
    for alias in node.names:
        if not _names_missing(alias.name, exc.name):
            continue
        target = alias.asname or alias.name.split(".")[0]
        found = _module_named(alias.name.split(".")[-1], module) if (alias.asname or "." not in alias.name) else None
        if found is not None:
            module.__dict__[target] = found
            done.append(f"{target} is the submission's {found.__name__}")
        else:
            module.__dict__[target] = Missing(target, record)
            done.append(f"{target} stubbed")
            _warn(record, target)
    return "; ".join(done) or None


def _resolve_from(node: ast.ImportFrom, module, record: dict) -> str:
    last = (node.module or "").split(".")[-1]
    own = INDEX.get(_file(module), ("", set()))[1]
    if any(a.name == "*" for a in node.names):
        found = _module_named(last, module)
        if found is None:
            return "nothing imported (no module of the submission is named like it)"
        names = getattr(found, "__all__", None) or [n for n in vars(found) if not n.startswith("_")]
        module.__dict__.update({n: getattr(found, n) for n in names if hasattr(found, n)})
        return f"names taken from the submission's {found.__name__}"
    taken, stubbed = [], []
    for alias in node.names:
        target = alias.asname or alias.name
        if alias.name in own:
            taken.append(f"{alias.name} (this file)")
            continue
        found = _definer(alias.name, last, module)
        if found is not None and hasattr(found, alias.name):
            module.__dict__[target] = getattr(found, alias.name)
            taken.append(f"{alias.name} ({found.__name__})")
        else:
            module.__dict__[target] = Missing(alias.name, record)
            stubbed.append(alias.name)
            _warn(record, alias.name)
    parts = ([f"taken from the submission: {', '.join(taken)}"] if taken else []) + \
            ([f"not in the submission, stubbed: {', '.join(stubbed)}"] if stubbed else [])
    return "; ".join(parts)


def _names_missing(wanted: str, missing: str) -> bool:
    """The failed module is the one asked for or one of its parents (not a module it imports)."""
    return wanted == missing or wanted.startswith(missing + ".")


def _file(module) -> str:
    f = getattr(module, "__file__", None)
    return str(Path(f).resolve()) if f else ""


def _definer(name: str, last: str, current) -> object | None:
    """The submission module (other than ``current``) defining ``name``: named ``last`` first."""
    here = _file(current)
    candidates = sorted((mod_name.split(".")[-1] != last, mod_name.count("."), mod_name)
                        for path, (mod_name, names) in INDEX.items() if name in names and path != here)
    for _, _, mod_name in candidates:
        found = _import(mod_name)
        if found is not None:
            return found
    return None


def _module_named(last: str, current) -> object | None:
    """The submission module whose last name component is ``last`` (shallowest first)."""
    here = _file(current)
    for _, mod_name in sorted((m.count("."), m) for path, (m, _) in INDEX.items()
                              if m.split(".")[-1] == last and path != here):
        found = _import(mod_name)
        if found is not None:
            return found
    return None


def _import(mod_name: str):
    try:
        return sys.modules.get(mod_name) or importlib.import_module(mod_name)
    except BaseException:  # a module that cannot be imported cannot lend its names
        return None


def _warn(record: dict, name: str) -> None:
    STUBBED.append((record, name))


def warnings() -> list[str]:
    """One line per stubbed name (built late: discover fills in each record's cell and line)."""
    return [f"{r['where']}: '{name}' comes from a module that is neither in the submission nor installed "
            f"({r['error'].removeprefix('import failed: ')}); it was replaced by a stub that says so when used"
            for r, name in STUBBED]
