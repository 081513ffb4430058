"""Build the three-layer networks through a constructor's activation option.

A common PA1 design is one ``ThreeLayerNN`` class for both networks, with an option for the
activation: ``activation="lrelu"`` (any spelling), ``activation=Relu`` (a layer class),
``use_leaky=True``, or a slope ``alpha=0.01`` whose 0 means ReLU. When the submission has no
Leaky-ReLU network class of its own, ``three_layer_nn_lrelu`` is that class built with the option
set to Leaky ReLU; ``three_layer_nn`` is built with it set to ReLU when the default is something
else. The torch twins (``three_layer_nn_torch``, ``three_layer_nn_lrelu_torch``) the same way, with
``torch.nn.ReLU``/``LeakyReLU`` where the option takes a layer class. Only the constructor's signature (``inspect.signature``) and the string constants of the
submission's source are read to choose the value: nothing is called. The choice is recorded as
:attr:`~.inventory.Found.built_as` and as a warning; manifest entries are never changed.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass, replace
from typing import Any

from .aliases import normalize
from .inventory import Found, Inventory

RELU_KEY, LRELU_KEY = "three_layer_nn", "three_layer_nn_lrelu"
#: (ReLU key, Leaky-ReLU key) of the NumPy networks and of their torch twins.
PAIRS = ((RELU_KEY, LRELU_KEY), ("three_layer_nn_torch", "three_layer_nn_lrelu_torch"))
#: The slope given when the constructor needs one (the reference's three_layer_nn alpha).
DEFAULT_ALPHA = 0.1
_EMPTY = inspect.Parameter.empty

#: Normalized spellings of the activations (see :func:`.aliases.normalize`).
LEAKY_SPELLINGS = frozenset({"lrelu", "leakyrelu", "leaky", "leakyrectifier", "lrectifier"})
RELU_SPELLINGS = frozenset({"relu", "rectifier"})
ACTIVATION_SPELLINGS = LEAKY_SPELLINGS | RELU_SPELLINGS | {"sigmoid", "tanh", "elu", "gelu", "selu", "softplus"}
#: Normalized parameter names that pick the activation (besides names containing "activ"/"nonlin").
CHOICE_NAMES = frozenset({"act", "actfn", "actfunc", "acttype", "actname", "hiddenact", "nonlinearity"})
#: Normalized names of a Leaky-ReLU slope; "alpha" and "slope" alone may mean something else.
SLOPE_NAMES = frozenset({"alpha", "slope", "leak", "leakiness", "negativeslope", "leakyalpha", "lrelualpha",
                         "leakyslope", "lreluslope", "relualpha", "leakyrelualpha", "leakyreluslope"})
_AMBIGUOUS_SLOPES = frozenset({"alpha", "slope"})
_MENTIONS_LEAKY = re.compile(r"leaky|lrelu|negative_slope", re.IGNORECASE)


@dataclass(frozen=True)
class Option:
    """How one constructor chooses its activation."""

    kind: str  # "choice": a string or a layer class; "flag": use_leaky=True; "slope": alpha alone
    name: str
    default: Any = _EMPTY  # inspect.Parameter.empty when the argument is required
    slope: str | None = None  # the slope parameter next to a choice or flag
    slope_default: Any = _EMPTY


def apply(inv: Inventory, manifest_keys: set[str]) -> None:
    """Add ``three_layer_nn_lrelu`` (and fix ``three_layer_nn``) through the ReLU network's option,
    and the same for the torch twins.

    Keys in ``manifest_keys`` (mapped by the manifest) are left exactly as the manifest gave them.
    """
    for relu_key, lrelu_key in PAIRS:
        base = inv.networks.get(relu_key)
        if base is None:
            continue
        try:
            _apply(inv, base, manifest_keys, relu_key, lrelu_key)
        except Exception as exc:  # inspect runs student code (a metaclass, a __signature__): never sink the load
            inv.warnings.append(f"{relu_key}: its constructor's activation option could not be read "
                                f"({type(exc).__name__}: {exc}); map {lrelu_key} in grader.toml if it has one")


def _apply(inv: Inventory, base: Found, manifest_keys: set[str], relu_key: str, lrelu_key: str) -> None:
    option = find_option(base.obj)
    if option is None:
        return
    spellings = _spellings(base.obj, inv)
    if lrelu_key not in inv.networks and lrelu_key not in manifest_keys:
        kwargs = leaky_kwargs(option, spellings, inv, base.family)
        if kwargs is not None:
            found = _built(base, lrelu_key, kwargs)
            inv.networks[lrelu_key] = found
            inv.warnings.append(f"{lrelu_key}: the submission has no Leaky-ReLU network class; built as "
                                f"{found.built_as} (if that is wrong, map it in grader.toml: "
                                f"[networks.{lrelu_key}] symbol = \"module:Class\", kwargs = {{...}})")
    if relu_key not in manifest_keys:
        kwargs = relu_kwargs(option, spellings, inv, base.family)
        if kwargs:
            found = _built(base, relu_key, kwargs)
            inv.networks[relu_key] = found
            why = (f"the constructor requires {option.name}" if option.default is _EMPTY else
                   f"the constructor's default {option.name}={_show(option.default)} is not ReLU")
            inv.warnings.append(f"{relu_key}: built as {found.built_as}, since {why}")


def find_option(obj) -> Option | None:
    """The activation option of a constructor's signature, or None if it has none we can read."""
    try:
        params = [p for p in inspect.signature(obj).parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except (TypeError, ValueError):
        return None
    slope = next((p for p in params if normalize(p.name) in SLOPE_NAMES), None)
    slope_args = {"slope": slope.name, "slope_default": slope.default} if slope is not None else {}
    for p in params:
        if _is_choice(p):
            return Option("choice", p.name, p.default, **slope_args)
    for p in params:
        n = normalize(p.name)
        if ("leaky" in n or "lrelu" in n) and n not in SLOPE_NAMES and (_unset(p.default) or isinstance(p.default, bool)):
            return Option("flag", p.name, p.default, **slope_args)
    if slope is not None and _number_or_unset(slope.default) and (
            normalize(slope.name) not in _AMBIGUOUS_SLOPES or _MENTIONS_LEAKY.search(_source(obj))):
        return Option("slope", slope.name, slope.default)
    return None


def _is_choice(p: inspect.Parameter) -> bool:
    if isinstance(p.default, bool):
        return False
    if isinstance(p.default, str) and normalize(p.default) in ACTIVATION_SPELLINGS:
        return True
    n = normalize(p.name)
    return ("activ" in n or "nonlin" in n or n in CHOICE_NAMES) and (
        _unset(p.default) or isinstance(p.default, str) or callable(p.default))


def _unset(value) -> bool:
    return value is _EMPTY or value is None


def _number_or_unset(value) -> bool:
    return _unset(value) or (isinstance(value, (int, float)) and not isinstance(value, bool))


def leaky_kwargs(option: Option, spellings: list[str], inv: Inventory, family: str = "class") -> dict | None:
    """Constructor arguments for the Leaky-ReLU network, or None when no value can be chosen."""
    if option.kind == "slope":
        positive = not _unset(option.default) and option.default > 0
        return {option.name: option.default if positive else DEFAULT_ALPHA}
    if option.kind == "flag":
        kwargs = {option.name: True}
    else:
        value = _leaky_choice(option.default, spellings, inv, family)
        if value is None:
            return None
        kwargs = {option.name: value}
    if option.slope and _unset(option.slope_default):
        kwargs[option.slope] = DEFAULT_ALPHA
    return kwargs


def relu_kwargs(option: Option, spellings: list[str], inv: Inventory, family: str = "class") -> dict:
    """Constructor arguments that make the network ReLU ({} when its default already is)."""
    default = option.default
    if option.kind == "slope":
        return {option.name: 0.0} if default is _EMPTY or (default is not None and default != 0) else {}
    if option.kind == "flag":
        return {option.name: False} if default is _EMPTY or default is True else {}
    relu_layer = _layer_class(inv, "relu", family)
    if default is None or _is_relu(default, relu_layer):
        return {}
    if default is _EMPTY or isinstance(default, str):
        return {option.name: _pick(spellings, RELU_SPELLINGS, "relu")}
    return {option.name: relu_layer} if relu_layer is not None else {}


def _leaky_choice(default, spellings: list[str], inv: Inventory, family: str = "class"):
    """The value that selects Leaky ReLU, in the style of the default (a string or a layer class)."""
    leaky_layer = _layer_class(inv, "lrelu", family)
    if not _unset(default) and not isinstance(default, str):
        return leaky_layer  # activation=Relu: hand over the submission's own LeakyRelu class
    spelt = _pick(spellings, LEAKY_SPELLINGS, None)
    if spelt is not None:
        return spelt
    relu_layer = _layer_class(inv, "relu", family)
    if isinstance(default, str) and relu_layer is not None and default == relu_layer.__name__ and leaky_layer:
        return leaky_layer.__name__  # getattr(layers, activation): the class's name
    return "lrelu"  # the reference's own spelling


def _is_relu(value, relu_layer) -> bool:
    if isinstance(value, str):
        return normalize(value) in RELU_SPELLINGS
    return value is relu_layer or normalize(getattr(value, "__name__", "")) in RELU_SPELLINGS


def _layer_class(inv: Inventory, key: str, family: str = "class"):
    """The activation class a network of ``family`` is handed: the submission's own layer, or torch's."""
    if family == "torch":
        nn = sys.modules["torch"].nn  # a torch network: the submission imported torch
        return nn.LeakyReLU if key == "lrelu" else nn.ReLU
    found = inv.layers.get(key)
    return found.obj if found is not None and found.family == "class" else None


def _pick(spellings: list[str], wanted: frozenset, fallback: str | None) -> str | None:
    """The first string of the submission that spells the activation (so its own comparisons match)."""
    return next((s for s in spellings if normalize(s) in wanted), fallback)


def _spellings(obj, inv: Inventory) -> list[str]:
    """String constants of the class, then of its module, then of every submission module."""
    owner = inspect.getmodule(obj)
    sources = [_source(obj), _source(owner) if owner is not None else ""]
    sources += [_source(m) for m in inv.modules.values() if m is not owner]
    out: list[str] = []
    for text in sources:
        out += _strings(text)
    return out


def _source(obj) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError, SyntaxError, IndexError):
        return ""


def _strings(text: str) -> list[str]:
    try:
        tree = ast.parse(textwrap.dedent(text))  # a nested class's source is indented
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and len(n.value) <= 40]


def _built(base: Found, key: str, kwargs: dict) -> Found:
    kwargs = {**base.kwargs, **kwargs}
    shown = ", ".join(f"{k}={_show(v)}" for k, v in kwargs.items())
    return replace(base, key=key, kwargs=kwargs, built_as=f"{base.symbol}({shown})")


def _show(value) -> str:
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__name__
    return repr(value)[:60]
