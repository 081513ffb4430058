"""Worker ops for the deliverable checks: load handed-in weights into the student's own network,
evaluate many images in small chunks, and hand back what a CAM is computed from.

Self-contained (stdlib, numpy, torch). Pickles (.pkl, .pt) are opened only here, in the sandbox.
The parent sends images only, never labels (docs/architecture.md, "What may cross").
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from . import ops
from .guard import ROOT, student_stdout

#: Largest weights file the worker opens.
MAX_WEIGHTS_BYTES = 256 << 20
#: Images per forward pass: the textbook im2col of a 10x10x20 conv is ~4 MB per image.
DEFAULT_CHUNK = 16


class WeightsError(ValueError):
    """The weights file cannot be used: says which file, what was found and what is expected."""


def _root() -> Path:
    return Path(ROOT).resolve()


def _inside(rel: str) -> Path:
    if not isinstance(rel, str) or not rel or os.path.isabs(rel):
        raise WeightsError(f"weights_load: 'path' must be a path relative to the submission, got {rel!r}")
    root = _root()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise WeightsError(f"{rel}: no such file in the submission")
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{rel}: larger than {MAX_WEIGHTS_BYTES >> 20} MB")
    return path


def _as_arrays(obj, rel: str) -> dict[str, np.ndarray]:
    """Name -> array from what a weights file held: a dict (of arrays or tensors), a state_dict,
    an nn.Module, a network object with ``params``, or a dict wrapping one under a usual key."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict) and isinstance(getattr(obj, "params", None), dict):
        obj = obj.params
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "params", "model"):
            inner = obj.get(key)
            if isinstance(inner, dict) or (torch is not None and isinstance(inner, torch.nn.Module)):
                return _as_arrays(inner, rel)
        out = {}
        for name, value in obj.items():
            if torch is not None and isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
                out[str(name)] = np.asarray(value, dtype=np.float64)
        if out:
            return out
    raise WeightsError(f"{rel}: holds {type(obj).__name__}, not a dict of parameter arrays "
                       f"(save the network's params dict or its state_dict)")


def read_weights(rel: str) -> tuple[dict[str, np.ndarray], str]:
    """(arrays by name, format) of a weights file: .npz (no pickles), .pkl, .pt/.pth."""
    path = _inside(rel)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: np.asarray(data[k], dtype=np.float64) for k in data.files}, "npz"
        except (ValueError, OSError) as exc:
            raise WeightsError(f"{rel}: not a readable .npz of numeric arrays ({exc})") from None
    if suffix == ".pkl":
        with open(path, "rb") as f:
            return _as_arrays(pickle.load(f), rel), "pickle"
    if suffix in (".pt", ".pth"):
        import torch

        return _as_arrays(torch.load(path, map_location="cpu", weights_only=False), rel), "torch"
    raise WeightsError(f"{rel}: unknown weights format '{suffix}' (use .npz, .pt or .pkl)")


def _assign(net, arrays: dict[str, np.ndarray], rel: str) -> str:
    """Put the arrays into the network; returns the layout they were in ("numpy" or "torch")."""
    names = net.param_names()
    missing = [n for n in names if n not in arrays]
    if missing:
        raise WeightsError(f"{rel}: no array for parameter(s) {', '.join(missing[:8])} (the file has "
                           f"{', '.join(list(arrays)[:12]) or 'none'}; keys must be the network's parameter names)")
    if getattr(net, "family", "") != "torch":
        net.set_params({n: arrays[n] for n in names})
        return "numpy"
    import torch

    layout = "numpy"
    with torch.no_grad():
        for name in names:
            p, value = net.named[name], arrays[name]
            if tuple(p.shape) == value.shape:   # the state_dict layout (Linear weight (out, in))
                layout = "torch" if name in net.transposed else layout
            elif name in net.transposed and tuple(p.shape) == value.T.shape:
                value = value.T                 # the NumPy layout (in, out)
            else:
                raise WeightsError(f"{rel}: '{name}' has shape {value.shape}, the network's is {tuple(p.shape)}")
            p.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        buffers = dict(net.module.named_buffers())
        for name, value in arrays.items():
            if name in buffers and tuple(buffers[name].shape) == value.shape:
                buffers[name].copy_(torch.from_numpy(value).to(buffers[name].dtype))
    return layout


def op_weights_load(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Load the weights file at ``path`` into network ``handle``; reply with what was loaded."""
    net = ops._net(header)
    rel = header.get("path")
    with student_stdout():
        values, fmt = read_weights(rel)
        layout = _assign(net, values, rel)
    net._float32 = None  # a float32 copy made before holds the old weights
    unused = sorted(set(values) - set(net.param_names()))
    return {"format": fmt, "layout": layout, "family": getattr(net, "family", ""), "loaded": net.param_names(),
            "unused": unused[:50]}, {}


def _float32_module(net):
    """A float32 copy of a torch network's module (cached until new weights are loaded), or None
    when the module cannot be copied: the student's own model, evaluated as it was trained."""
    cached = getattr(net, "_float32", None)
    if cached is None:
        import copy

        try:
            cached = copy.deepcopy(net.module).float().eval()
        except Exception:  # a module that refuses deepcopy: evaluate it in float64 instead
            cached = False
        net._float32 = cached
    return cached or None


def op_net_logits_chunked(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Logits of images ``x`` (N, ...), computed ``chunk`` images at a time to bound memory.

    With ``float32`` a torch network runs as a float32 copy of its module (what frameworks train
    in; several times faster than float64 for convolutions); NumPy networks always get float64."""
    net = ops._net(header)
    x = arrays.get("x")
    if x is None:
        raise ops.OpError("net_logits_chunked: the request has no array 'x'")
    chunk = max(1, min(int(header.get("chunk") or DEFAULT_CHUNK), 1000))
    out = []
    with student_stdout():
        module = _float32_module(net) if header.get("float32") and getattr(net, "family", "") == "torch" else None
        if module is not None:
            import torch

            with torch.no_grad():
                for start in range(0, len(x), chunk):
                    part = net._flat_input(np.asarray(x[start:start + chunk], dtype=np.float32))
                    out.append(module(torch.from_numpy(np.ascontiguousarray(part))).double().numpy())
        else:
            for start in range(0, len(x), chunk):
                part = np.asarray(x[start:start + chunk], dtype=np.float64)
                out.append(np.asarray(net.logits(part), dtype=np.float64))
    return {"dtype": "float32" if module is not None else "float64"}, \
        {"logits": np.concatenate(out) if out else np.zeros((0, 10))}


def _final_affine(params: dict[str, np.ndarray]) -> tuple[str | None, np.ndarray | None]:
    """The last 2-D parameter in the network's order: the final affine weight, (in, out)."""
    name = next((n for n in reversed(list(params)) if params[n].ndim == 2), None)
    return name, None if name is None else params[name]


def op_cam_inputs(header: dict, arrays: dict) -> tuple[dict, dict]:
    """For one image ``x`` (1, ...): the last conv layer's feature maps, the final affine weights
    (NumPy layout) and the logits: everything a CAM is computed from."""
    net = ops._net(header)
    x = arrays.get("x")
    if x is None:
        raise ops.OpError("cam_inputs: the request has no array 'x'")
    with student_stdout():
        features, source = net.features(np.asarray(x, dtype=np.float64))
        logits = np.asarray(net.logits(np.asarray(x, dtype=np.float64)), dtype=np.float64)
        name, W = _final_affine(net.get_params())
    reply = {"logits": logits}
    if features is not None:
        reply["features"] = np.asarray(features, dtype=np.float64)
    if W is not None:
        reply["W_fc"] = W
    return {"features_from": source, "final_param": name}, reply


#: The deliverable ops, one line each (main.py serves them with the others).
OPS = {"weights_load": op_weights_load, "net_logits_chunked": op_net_logits_chunked,
             "cam_inputs": op_cam_inputs}
