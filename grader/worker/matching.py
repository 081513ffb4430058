"""Find the handout's layers and networks among the classes and functions a submission defines.

Class and function names are matched as :mod:`.aliases` describes. Only symbols *defined* in the
submission count (``torch.nn.Linear`` imported into a student module is not the student's affine
layer). A network class that subclasses ``torch.nn.Module`` is the ``torch`` family and answers the
``*_torch`` keys; any other class with ``predict``/``loss``/``gradient`` is the ``class`` family.
Where two symbols answer one key the better-ranked one wins and a warning names both.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from .aliases import (FUNCTIONAL_LAYERS, LAYER_ALIASES, NETWORK_ALIASES, NORMALIZED_LAYERS, NORMALIZED_NETS,
                      TORCH_NETWORKS, name_variants, normalize)
from .inventory import Found, Inventory


def torch_module_class(obj) -> bool:
    """``obj`` is a subclass of ``torch.nn.Module`` (False when the submission never imported torch)."""
    torch = sys.modules.get("torch")
    return bool(torch) and isinstance(obj, type) and issubclass(obj, torch.nn.Module)


def _symbols(inv: Inventory):
    """(module name, name, obj) for each class/function a submission module itself defines.

    Re-exports (``from common.layers import *``) and copies made by importing the same file under
    a second name (``from simple_convnet import ...`` next to ``ch07.simple_convnet``) are skipped:
    every file is imported under its canonical name, so each definition is seen there once.
    """
    for mod_name, module in inv.modules.items():
        for name, obj in list(vars(module).items()):
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if sys.modules.get(getattr(obj, "__module__", None) or "") is not module:
                continue
            if getattr(obj, "__name__", None) != name:
                continue  # an alias (``Conv = Convolution``): the class is seen under its own name
            yield mod_name, name, obj


def match_symbols(inv: Inventory) -> None:
    """Fill ``inv.layers`` and ``inv.networks`` from the symbols of ``inv.modules``."""
    layers: dict[str, Found] = {}
    networks: dict[str, Found] = {}
    functions: dict[str, tuple[str, Any]] = {}
    for mod_name, name, obj in _symbols(inv):
        depth = mod_name.count(".")
        if inspect.isfunction(obj):
            functions.setdefault(name.lower(), (mod_name, obj))
            continue
        torch_family = torch_module_class(obj)
        for variant, affixed in name_variants(name):
            if not torch_family and _is_layer_class(obj):
                for key, aliases in NORMALIZED_LAYERS.items():
                    if variant in aliases:
                        rank = (0, affixed, aliases[variant], depth, mod_name)
                        _offer(layers, Found(key, "class", obj.__qualname__, mod_name, obj, rank=rank), inv)
            for key, aliases in NORMALIZED_NETS.items():
                if variant not in aliases:
                    continue
                if torch_family:
                    key = {v: k for k, v in TORCH_NETWORKS.items()}.get(key)
                    if key is None:
                        continue
                elif not _is_network_class(obj):
                    continue
                rank = (affixed, aliases[variant], depth, mod_name)
                _offer(networks, Found(key, "torch" if torch_family else "class", obj.__qualname__, mod_name,
                                       obj, rank=rank), inv)
    for key, pairs in FUNCTIONAL_LAYERS.items():
        for order, (fwd, bwd) in enumerate(pairs):
            if fwd in functions and (bwd is None or bwd.lower() in functions):
                mod_name, f = functions[fwd]
                b = functions[bwd.lower()][1] if bwd else None
                _offer(layers, Found(key, "functional", f.__qualname__, mod_name, f, b, rank=(1, False, order, 0, "")), inv)
                break
    inv.layers.update(layers)
    inv.networks.update(networks)


def _offer(table: dict[str, Found], found: Found, inv: Inventory) -> None:
    current = table.get(found.key)
    if current is None:
        table[found.key] = found
        return
    if current.obj is found.obj:
        return
    best, other = (found, current) if found.rank < current.rank else (current, found)
    table[found.key] = best
    inv.warnings.append(f"{found.key}: using {best.module}:{best.symbol}, also found {other.module}:{other.symbol} "
                        f"(choose another in grader.toml if that is the wrong one)")


def _is_layer_class(cls) -> bool:
    return callable(getattr(cls, "forward", None)) and callable(getattr(cls, "backward", None))


def _is_network_class(cls) -> bool:
    return any(callable(getattr(cls, m, None)) for m in ("predict", "loss", "gradient"))


def explain_missing(inv: Inventory) -> None:
    """For each layer/network not found: the failed statement that would have bound one of its names
    (``inv.missing_because``)."""
    bound = {}
    for status in inv.files:
        for f in status.failed:
            for name in f["names"]:
                bound.setdefault(normalize(name), f"the statement that would have defined {name} failed "
                                                  f"({status.path}, " + (f"cell {f['cell']}, line {f['cell_line']}"
                                                  if f["cell"] is not None else f"line {f['line']}")
                                 + f": {f['text']}: {f['error']})")
    for kind, aliases, found in (("layers", LAYER_ALIASES, inv.layers), ("networks", NETWORK_ALIASES, inv.networks)):
        for key, names in aliases.items():
            why = next((bound[normalize(n)] for n in names if normalize(n) in bound), None)
            if key not in found and why:
                inv.missing_because[kind][key] = why

