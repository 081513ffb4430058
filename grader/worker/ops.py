"""The submission ops of the worker (docs/architecture.md, "Worker ops").

Each handler is ``handler(header, arrays) -> (reply_header, reply_arrays)``; ``main.py``
dispatches requests to :data:`OPS` and turns exceptions into error replies. Errors raised by
student code propagate unchanged; the grader's own misuse (unknown layer key, a layer the
submission does not have, an unknown handle) raises :class:`OpError` saying what is missing
and how to map it in the manifest.

State lives in module-level registries: the loaded :class:`~.discover.Inventory` and the
network handles. The submission root is the worker's current directory when ``load`` runs,
unless the request gives ``root``.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np

from . import adapters, discover
from .channel import progress
from .guard import student_stdout


class OpError(LookupError):
    """The request cannot be served (nothing loaded, unknown key or handle, missing array)."""


_state: dict = {"inventory": None, "load_key": None, "reply": None, "nets": {}, "next_handle": 1}


def _inventory() -> discover.Inventory:
    if _state["inventory"] is None:
        raise OpError("no submission is loaded: send the 'load' op first")
    return _state["inventory"]


def _need(arrays: dict, name: str, op: str) -> np.ndarray:
    if name not in arrays:
        raise OpError(f"{op}: the request has no array '{name}'")
    return arrays[name]


def _layer(key: str) -> discover.Found:
    if key not in discover.LAYER_KEYS and key not in _inventory().layers:
        raise OpError(f"unknown layer key '{key}' (known: {', '.join(discover.LAYER_KEYS)})")
    return _inventory().layer(key)


def _net(header: dict) -> adapters.NetworkAdapter:
    handle = header.get("handle")
    if handle not in _state["nets"]:
        raise OpError(f"unknown network handle {handle!r}: create the network with 'net_new' first")
    return _state["nets"][handle]


# ----------------------------------------------------------------------------- ops

def op_load(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Import the submission and report files, found layers and networks (once per process)."""
    root = Path(header.get("root") or os.getcwd()).resolve()
    manifest = header.get("manifest")
    key = (str(root), repr(manifest))
    if _state["load_key"] == key:
        return _state["reply"], {}  # sources were rewritten by the first load; do not filter twice
    if _state["inventory"] is not None:
        raise OpError("a different submission is already loaded in this worker; start a new worker")
    skip = header.get("skip") or {}
    if not isinstance(skip, dict):
        raise OpError("load: 'skip' must map file paths to the reason they are left out")
    inventory = discover.load_submission(root, manifest, skip=skip,
                                         on_file=lambda rel: progress(f"importing {rel}"))
    _state.update(inventory=inventory, load_key=key, reply=inventory.summary())
    return _state["reply"], {}


def op_layer_run(header: dict, arrays: dict) -> tuple[dict, dict]:
    """One forward (and backward if ``dout`` was sent; softmax: always) of a fresh layer."""
    key = header.get("layer")
    found = _layer(key)
    x = _need(arrays, "x", "layer_run")
    params = {k: arrays[k] for k in ("W", "b") if k in arrays}
    if key in adapters.PARAM_LAYERS:
        for name in ("W", "b"):
            _need(arrays, name, "layer_run")
    t = _need(arrays, "t", "layer_run") if key == "softmax" else None
    with student_stdout():
        layer = adapters.LayerAdapter.from_found(found, params, header.get("config"))
        out = layer.forward(x, t)
        reply = {"loss" if key == "softmax" else "out": out}
        if key == "softmax" or "dout" in arrays:
            dx, grads = layer.backward(arrays.get("dout"))
            reply["dx"] = dx
            for name, value in grads.items():
                if value is not None:
                    reply["d" + name] = value
    return {}, reply


def op_layer_forward_batch(header: dict, arrays: dict) -> tuple[dict, dict]:
    """K forwards, one per variant along the leading axis of every array."""
    key = header.get("layer")
    found = _layer(key)
    x = _need(arrays, "x", "layer_forward_batch")
    outs = []
    with student_stdout():
        for k in range(len(x)):
            params = {n: arrays[n][k] for n in ("W", "b") if n in arrays}
            t = arrays["t"][k] if "t" in arrays else None
            layer = adapters.LayerAdapter.from_found(found, params, header.get("config"))
            outs.append(layer.forward(x[k], t))
    return {}, {"out": np.stack(outs) if outs else np.zeros((0,))}


def op_net_new(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Construct a network (seeded); reply with a handle, parameter names and initial params.

    Only one network lives at a time: earlier handles are dropped first, because a textbook
    network keeps its last forward pass (im2col buffers of tens of MB) on its layers. What is alive
    after that collection is frozen (``gc.freeze``), so the next one scans only what was made since
    (a full collection with torch imported took 0.18 s, 40 times in a PA2 grading).
    """
    found = _inventory().network(header.get("net"))
    _state["nets"].clear()
    gc.collect()
    gc.freeze()
    with student_stdout():
        net = adapters.NetworkAdapter.create(found, header.get("kwargs") or {}, header.get("seed"))
        params = net.get_params()
    handle = _state["next_handle"]
    _state["next_handle"] += 1
    _state["nets"][handle] = net
    return {"handle": handle, "param_names": net.param_names(), "layout": "numpy", "family": net.family}, params


def op_net_set_params(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Copy the given parameters into the network (in place)."""
    net = _net(header)
    with student_stdout():
        net.set_params(arrays)
    return {}, {}


def op_net_get_params(header: dict, arrays: dict) -> tuple[dict, dict]:
    with student_stdout():
        return {}, _net(header).get_params()


def op_net_eval(header: dict, arrays: dict) -> tuple[dict, dict]:
    """logits / loss / grad.<name> / features of the network on x (and t)."""
    net = _net(header)
    want = header.get("want") or ["logits"]
    unknown = set(want) - {"logits", "loss", "gradient", "features"}
    if unknown:
        raise OpError(f"net_eval: unknown 'want' entries {sorted(unknown)}")
    x = _need(arrays, "x", "net_eval")
    t = arrays.get("t")
    if t is None and ("loss" in want or "gradient" in want):
        raise OpError("net_eval: 'loss' and 'gradient' need the labels array 't'")
    reply, info = {}, {}
    with student_stdout():
        if "logits" in want:
            reply["logits"] = net.logits(x)
        if "loss" in want:
            reply["loss"] = np.asarray(net.loss(x, t), dtype=np.float64)
        if "gradient" in want:
            for name, g in net.gradient(x, t).items():
                if g is not None:
                    reply[f"grad.{name}"] = g
        if "features" in want:
            features, source = net.features(x)
            info["features_from"] = source
            if features is not None:
                reply["features"] = features
    return info, reply


def op_net_train(header: dict, arrays: dict) -> tuple[dict, dict]:
    """S plain SGD steps on the given batches x (S, B, ...), t (S, B); the loss of each."""
    net = _net(header)
    lr = float(header.get("lr", 0.1))
    x, t = _need(arrays, "x", "net_train"), _need(arrays, "t", "net_train")
    if len(x) != len(t):
        raise OpError(f"net_train: x has {len(x)} batches but t has {len(t)}")
    with student_stdout():
        losses = [net.sgd_step(xb, tb, lr) for xb, tb in zip(x, t)]
    return {}, {"losses": np.asarray(losses, dtype=np.float64)}


#: op name -> handler, one line per op; main.py serves the union of this and the other op modules' tables.
OPS = {
    "load": op_load,
    "layer_run": op_layer_run,
    "layer_forward_batch": op_layer_forward_batch,
    "net_new": op_net_new,
    "net_set_params": op_net_set_params,
    "net_get_params": op_net_get_params,
    "net_eval": op_net_eval,
    "net_train": op_net_train,
}


def reset() -> None:
    """Forget the loaded submission and every handle (tests; a worker serves one submission)."""
    _state.update(inventory=None, load_key=None, reply=None, nets={}, next_handle=1)
