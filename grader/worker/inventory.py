"""What loading a submission learnt: its files, modules, and the layers and networks found in it.

Plain data filled in by :mod:`.loader` (files, modules), :mod:`.matching` and
:mod:`.activation_option` (found symbols) and :mod:`.manifest` (mapped symbols); ``summary()``
is the ``load`` reply (docs/architecture.md, Worker ops).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .aliases import missing_message


class DiscoveryError(LookupError):
    """The grader asked for something the submission does not provide; says how to map it."""


@dataclass
class Found:
    """One discovered symbol: what the grader calls for a key."""

    key: str
    family: str  # layers: "class" | "functional"; networks: "class" | "torch"
    symbol: str  # qualified name, e.g. "SimpleConvNet" or "affine_forward"
    module: str
    obj: Any = None  # the class/function (functional layers: the forward function)
    backward: Any = None  # functional layers: the backward function
    kwargs: dict = field(default_factory=dict)
    rank: tuple = ()
    #: set when the grader chose constructor arguments: "ThreeLayerNN(activation='lrelu')"
    built_as: str | None = None

    def summary(self) -> dict:
        out = {"family": self.family, "symbol": self.symbol, "module": self.module}
        if self.built_as:
            out["built_as"] = self.built_as
        return out


@dataclass
class FileStatus:
    """One file of the submission: where it was imported as, and what went wrong on the way."""

    path: str
    kind: str  # "py" | "ipynb"
    module: str | None
    status: str = "ok"
    error: str | None = None
    dropped: list = field(default_factory=list)
    line_map: Any = None
    failed: list = field(default_factory=list)  # kept statements that raised when the file ran

    def summary(self) -> dict:
        return {"path": self.path, "kind": self.kind, "module": self.module, "status": self.status,
                "error": self.error, "dropped": self.dropped, "failed": self.failed}


@dataclass
class Inventory:
    """Everything :func:`.discover.load_submission` learnt about a submission."""

    root: Path
    files: list[FileStatus] = field(default_factory=list)
    modules: dict[str, types.ModuleType] = field(default_factory=dict)
    layers: dict[str, Found] = field(default_factory=dict)
    networks: dict[str, Found] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: {"layers"|"networks": {key: why}} for keys not found whose name a failed statement would bind
    missing_because: dict[str, dict[str, str]] = field(default_factory=lambda: {"layers": {}, "networks": {}})

    def summary(self) -> dict:
        """The ``load`` reply (docs/architecture.md, Worker ops)."""
        return {"files": [f.summary() for f in self.files],
                "layers": {k: v.summary() for k, v in self.layers.items()},
                "networks": {k: v.summary() for k, v in self.networks.items()},
                "warnings": list(self.warnings), "missing_because": self.missing_because}

    def layer(self, key: str) -> Found:
        return self._get("layers", key)

    def network(self, key: str) -> Found:
        return self._get("networks", key)

    def _get(self, kind: str, key: str) -> Found:
        table = self.layers if kind == "layers" else self.networks
        if key not in table:
            why = self.missing_because[kind].get(key)
            raise DiscoveryError(missing_message(kind, key) + (f" ({why})" if why else ""))
        return table[key]
