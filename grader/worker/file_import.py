"""Run one file as a module under a chosen name: the worker's one way to import a file by path.

Registered in ``sys.modules`` before it runs (so the file's own and its siblings' imports of that
name see it, as a normal import would) and removed again if running it raises.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def import_file(name: str, path: str | Path, loader=None) -> types.ModuleType:
    """Execute ``path`` as module ``name`` (with ``loader``, e.g. a tolerant one) and return it."""
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {str(path)!r} as a module", name=name, path=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:  # SystemExit too: a half-run module must not stay importable
        sys.modules.pop(name, None)
        raise
    return module
