"""The submission's manifest: symbols mapped to keys by hand when their names are unusual.

A ``grader.toml`` (or ``submission.yaml``/``submission.yml``, same structure) at the
submission root maps keys to symbols; an entry always wins over what matching found. A symbol is
``"module:Name"`` where module is a dotted module name relative to the root, a file path
(``"ch07/my_net.py:MyNet"``) or a notebook (``"PA2.ipynb:CNN"``); a bare ``"Name"`` is looked up
in every module. ``Name`` may be dotted (``Outer.Inner``)::

    [layers]
    convolution = "layers:Conv"                       # class family
    affine = { symbol = "mylayers:FC" }               # same, as a table
    pooling = { forward = "fn:pool_fwd", backward = "fn:pool_bwd" }   # functional family

    [networks.two_layer_cnn]
    symbol = "mymodule:MyCNN"       # a class, or a function returning the network
    kwargs = { pool = false }       # passed to the constructor
    family = "class"                # optional: "class" or "torch" (inferred otherwise)

    [networks.my_extra_net]         # any other key is graded if a rubric asks for it
    symbol = "extra:Net"

The parent may also send the manifest with the ``load`` request; that one wins over the files.
"""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path
from typing import Any

from .inventory import DiscoveryError, Found, Inventory
from .matching import torch_module_class

MANIFEST_FILES = ("grader.toml", "submission.yaml", "submission.yml")


def read_manifest(root: Path, warnings: list[str]) -> dict:
    """The manifest at the submission root as a dict ({} if there is none)."""
    for name in MANIFEST_FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".toml"):
                with open(path, "rb") as f:
                    data = tomllib.load(f)
            else:
                import yaml  # optional in the worker: only a YAML manifest needs it
                with open(path, encoding="utf-8") as f:
                    data = yaml.safe_load(f) or {}
        except ImportError:
            warnings.append(f"{name}: PyYAML is not available in the grader; the manifest was ignored")
            return {}
        except Exception as exc:  # tomllib.TOMLDecodeError, yaml.YAMLError
            warnings.append(f"{name}: could not be read ({type(exc).__name__}: {exc}); the manifest was ignored")
            return {}
        if not isinstance(data, dict):
            warnings.append(f"{name}: expected a table of [layers] and [networks.<key>]; ignored")
            return {}
        return data
    return {}


def apply_manifest(inv: Inventory, manifest: dict) -> None:
    """Replace what matching found by what the manifest maps; a bad entry is a warning naming it."""
    for key, entry in (manifest.get("layers") or {}).items():
        try:
            inv.layers[key] = _manifest_layer(inv, key, entry)
        except DiscoveryError as exc:
            inv.warnings.append(f"manifest [layers] {key}: {exc}")
    for key, entry in (manifest.get("networks") or {}).items():
        try:
            inv.networks[key] = _manifest_network(inv, key, entry)
        except DiscoveryError as exc:
            inv.warnings.append(f"manifest [networks.{key}]: {exc}")


def _manifest_layer(inv: Inventory, key: str, entry) -> Found:
    if isinstance(entry, str):
        entry = {"symbol": entry}
    if not isinstance(entry, dict):
        raise DiscoveryError("expected \"module:Name\" or a table with symbol = ... or forward/backward = ...")
    if "forward" in entry:
        mod, fwd = resolve_symbol(inv, entry["forward"])
        bwd = resolve_symbol(inv, entry["backward"])[1] if entry.get("backward") else None
        if bwd is None and key != "softmax":
            raise DiscoveryError("a functional layer needs backward = \"module:function\"")
        return Found(key, "functional", fwd.__qualname__, mod, fwd, bwd)
    if "symbol" not in entry:
        raise DiscoveryError("missing symbol = \"module:Name\"")
    mod, obj = resolve_symbol(inv, entry["symbol"])
    family = entry.get("family") or ("class" if inspect.isclass(obj) else "functional")
    if family == "functional":
        raise DiscoveryError("for functions give forward = \"module:f\" and backward = \"module:g\"")
    return Found(key, "class", getattr(obj, "__qualname__", str(obj)), mod, obj)


def _manifest_network(inv: Inventory, key: str, entry) -> Found:
    if isinstance(entry, str):
        entry = {"symbol": entry}
    if not isinstance(entry, dict) or "symbol" not in entry:
        raise DiscoveryError("expected symbol = \"module:Name\" (and optionally kwargs, family)")
    mod, obj = resolve_symbol(inv, entry["symbol"])
    family = entry.get("family") or ("torch" if torch_module_class(obj) else "class")
    if family not in ("class", "torch"):
        raise DiscoveryError(f"family must be \"class\" or \"torch\", not {family!r}")
    kwargs = entry.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise DiscoveryError("kwargs must be a table of constructor arguments")
    return Found(key, family, getattr(obj, "__qualname__", str(obj)), mod, obj, kwargs=dict(kwargs))


def resolve_symbol(inv: Inventory, spec: str) -> tuple[str, Any]:
    """``"module:Name"`` / ``"dir/file.py:Name"`` / ``"nb.ipynb:Name"`` / ``"Name"`` -> (module name, object)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DiscoveryError(f"symbol must be a string like \"module:Name\", not {spec!r}")
    mod_part, _, attr = spec.strip().rpartition(":")
    if mod_part:
        candidates = [_manifest_module(inv, mod_part)]
    else:
        candidates = list(inv.modules)
    for mod_name in candidates:
        obj = inv.modules[mod_name]
        try:
            for part in attr.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return mod_name, obj
    where = f"module '{candidates[0]}'" if mod_part else "any module of the submission"
    raise DiscoveryError(f"'{attr}' was not found in {where}")


def _manifest_module(inv: Inventory, text: str) -> str:
    text = text.strip().replace("\\", "/")
    if text in inv.modules:
        return text
    for status in inv.files:
        if text in (status.path, status.path.rsplit(".", 1)[0]) or text.removesuffix(".py") == status.path.removesuffix(".py"):
            if status.module in inv.modules:
                return status.module
            raise DiscoveryError(f"'{status.path}' did not load: {status.error}")
    dotted = text.removesuffix(".py").replace("/", ".")
    if dotted in inv.modules:
        return dotted
    for status in inv.files:
        if status.module == dotted:
            raise DiscoveryError(f"'{status.path}' did not load: {status.error}")
    known = ", ".join(sorted(inv.modules)[:10])
    raise DiscoveryError(f"no module '{text}' in the submission (loaded modules: {known})")
