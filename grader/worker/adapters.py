"""One interface over the three API families students use.

:class:`LayerAdapter` runs one layer: ``forward(x[, t])`` and ``backward(dout) -> (dx, grads)``.

- ``class`` family (the handout, DLFS): ``Affine(W, b)``, ``Relu()``, ``LeakyRelu(alpha)``,
  ``Convolution(W, b, stride=, pad=)``, ``Pooling(pool_h, pool_w, stride=, pad=)``,
  ``Flatten()``, ``SoftmaxWithLoss()``; ``backward`` returns ``dx``, gradients are read from
  ``dW``/``db`` (or ``dw``, ``grad_W``, ``W_grad``, a ``grads`` dict, or a returned
  ``(dx, dW, db)`` tuple).
- ``functional`` family (CS231n): ``*_forward(x, ...) -> (out, cache)``,
  ``*_backward(dout, cache) -> dx`` or ``(dx, dw, db)``; ``conv_param = {"stride", "pad"}``,
  ``pool_param = {"pool_height", "pool_width", "stride"}`` (no padding in that API);
  ``softmax_loss(x, y) -> (loss, dx)`` with class-index labels. ``affine_forward``'s ``w`` is
  ``(D, M)`` with ``x`` reshaped to ``(N, D)``: the same layout as DLFS, so W passes unchanged.

:class:`NetworkAdapter` runs one network in the NumPy parameter layout (Affine/Linear
``(in, out)``, conv ``(FN, C, FH, FW)``): ``param_names``, ``get_params``, ``set_params``
(in place), ``logits``, ``loss``, ``gradient``, ``features``, ``sgd_step``. The ``class`` family
uses the handout's ``params``/``predict``/``loss``/``gradient``; the ``torch`` family wraps an
``nn.Module`` in float64 (autograd, ``F.cross_entropy``, ``torch.optim.SGD``).

Student code always receives copies of the arrays (students mutate their inputs), and every
output goes through ``np.asarray``.
"""

from __future__ import annotations

import inspect
import random
from typing import Any

import numpy as np

GRAD_NAMES = {"W": ("dW", "dw", "grad_W", "gradW", "W_grad", "dweight", "dWeight"),
              "b": ("db", "dB", "grad_b", "gradb", "b_grad", "dbias")}
PARAM_LAYERS = ("affine", "convolution")

#: Constructor arguments filled in when a network's constructor requires them.
KNOWN_NETWORK_ARGS = {"input_size": 784, "input_dim": (1, 28, 28), "input_shape": (1, 28, 28),
                      "output_size": 10, "num_classes": 10, "n_classes": 10, "output_dim": 10,
                      "hidden_size_list": [100, 50], "hidden_sizes": [100, 50], "hidden_size": 100,
                      "weight_init_std": 0.01}


class AdapterError(TypeError):
    """The student's symbol does not fit the API family it was taken for; says what was expected."""


def _copy(a):
    return None if a is None else np.array(a, copy=True)


def _binds(fn, *args, **kwargs) -> bool:
    """Whether ``fn(*args, **kwargs)`` matches fn's signature (without calling it)."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
        return True
    except TypeError:
        return False
    except ValueError:  # builtins without a signature: assume yes
        return True


def _construct(cls, attempts, what: str):
    """Call cls with the first argument list its signature accepts."""
    for args, kwargs in attempts:
        if _binds(cls, *args, **kwargs):
            return cls(*args, **kwargs)
    shown = " or ".join(f"({', '.join([*map(_short, args), *(f'{k}=...' for k in kwargs)])})"
                        for args, kwargs in attempts)
    raise AdapterError(f"{getattr(cls, '__qualname__', cls)} cannot be constructed as the handout's {what}: "
                       f"tried {shown}; its signature is {_signature(cls)}")


def _short(a) -> str:
    return f"array{a.shape}" if isinstance(a, np.ndarray) else repr(a)


def _signature(fn) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(unknown)"


def _labels_as_indices(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t)
    return t.argmax(axis=1) if t.ndim == 2 else t.astype(np.int64)


# ----------------------------------------------------------------------------- layers

class LayerAdapter:
    """A fresh student layer for one forward (and backward) with the given params and config."""

    def __init__(self, key: str, family: str, symbol, params: dict[str, np.ndarray] | None = None,
                 config: dict | None = None, backward_fn=None):
        self.key, self.family, self.symbol = key, family, symbol
        self.params = {k: v for k, v in (params or {}).items() if v is not None}
        self.config = dict(config or {})
        self.backward_fn = backward_fn
        self.obj = self._construct() if family == "class" else None
        self.cache = None
        self.t = None

    @classmethod
    def from_found(cls, found, params=None, config=None) -> "LayerAdapter":
        return cls(found.key, found.family, found.obj, params, config, backward_fn=found.backward)

    # -- class family

    def _construct(self):
        cls, c, p = self.symbol, self.config, self.params
        key = self.key
        if key == "affine":
            return _construct(cls, [((_copy(p["W"]), _copy(p["b"])), {})], "Affine(W, b)")
        if key == "convolution":
            W, b = _copy(p["W"]), _copy(p["b"])
            stride, pad = c.get("stride", 1), c.get("pad", 0)
            obj = _construct(cls, [((W, b), {"stride": stride, "pad": pad}), ((W, b, stride, pad), {}),
                                   ((W, b), {})], "Convolution(W, b, stride, pad)")
            self._set_if_missing(obj, stride=stride, pad=pad)
            return obj
        if key == "pooling":
            ph, pw = c.get("pool_h", 2), c.get("pool_w", 2)
            stride, pad = c.get("stride", 2), c.get("pad", 0)
            return _construct(cls, [((ph, pw), {"stride": stride, "pad": pad}), ((ph, pw, stride, pad), {}),
                                    ((ph, pw, stride), {})] + ([((ph, pw), {})] if stride == 2 and pad == 0 else []),
                              "Pooling(pool_h, pool_w, stride, pad)")
        if key == "lrelu":
            if "alpha" not in c:
                return _construct(cls, [((), {})], "LeakyRelu()")
            alpha = c["alpha"]
            if _binds(cls, alpha):
                return cls(alpha)
            obj = _construct(cls, [((), {})], "LeakyRelu(alpha)")
            for name in ("alpha", "negative_slope", "slope", "a"):
                if hasattr(obj, name):
                    setattr(obj, name, alpha)
                    break
            else:
                obj.alpha = alpha
            return obj
        return _construct(cls, [((), {})], f"{cls.__name__}()")

    @staticmethod
    def _set_if_missing(obj, **values):
        for name, value in values.items():
            if getattr(obj, name, None) is None:
                try:
                    setattr(obj, name, value)
                except AttributeError:
                    pass

    # -- the interface

    def forward(self, x, t=None):
        """The layer's output (softmax: the mean loss)."""
        if self.family == "class":
            if self.key == "softmax":
                return np.asarray(self.obj.forward(_copy(x), _copy(t)))
            return np.asarray(self.obj.forward(_copy(x)))
        return np.asarray(self._functional_forward(_copy(x), t))

    def backward(self, dout=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(dx, {"W": dW, "b": db}) — gradients only for affine/convolution, None if not found."""
        if self.family == "functional":
            return self._functional_backward(dout)
        if self.key == "softmax":
            d = 1.0 if dout is None else float(np.asarray(dout))
            result = self.obj.backward(d) if _binds(self.obj.backward, d) else self.obj.backward()
        else:
            result = self.obj.backward(_copy(dout))
        grads: dict[str, Any] = {}
        if isinstance(result, tuple) and len(result) == 3 and self.key in PARAM_LAYERS:
            result, grads["W"], grads["b"] = result  # (dx, dW, db) returned instead of stored
        if self.key in PARAM_LAYERS:
            for name, candidates in GRAD_NAMES.items():
                if grads.get(name) is None:
                    grads[name] = self._read_grad(name, candidates)
        if isinstance(result, tuple):
            result = result[0]
        return np.asarray(result), {k: None if v is None else np.asarray(v) for k, v in grads.items()}

    def _read_grad(self, name, candidates):
        for attr in candidates:
            value = getattr(self.obj, attr, None)
            if value is not None:
                return value
        for attr in ("grads", "grad", "gradients"):
            table = getattr(self.obj, attr, None)
            if isinstance(table, dict):
                for k in (name, name.lower(), "d" + name, "d" + name.lower()):
                    if table.get(k) is not None:
                        return table[k]
        return None

    # -- functional family

    def _functional_forward(self, x, t):
        f, c, p = self.symbol, self.config, self.params
        key = self.key
        if key == "affine":
            out, self.cache = f(x, _copy(p["W"]), _copy(p["b"]))
        elif key == "relu":
            out, self.cache = f(x)
        elif key == "lrelu":
            alpha = c.get("alpha", 0.01)
            params = list(inspect.signature(f).parameters)
            arg = {"alpha": alpha} if len(params) > 1 and "param" in params[1] else alpha
            out, self.cache = f(x, arg)
        elif key == "convolution":
            conv_param = {"stride": c.get("stride", 1), "pad": c.get("pad", 0)}
            out, self.cache = f(x, _copy(p["W"]), _copy(p["b"]), conv_param)
        elif key == "pooling":
            if c.get("pad", 0):
                raise AdapterError("the CS231n max_pool API has no padding; padded pooling cannot be run")
            pool_param = {"pool_height": c.get("pool_h", 2), "pool_width": c.get("pool_w", 2),
                          "stride": c.get("stride", 2)}
            out, self.cache = f(x, pool_param)
        elif key == "softmax":
            loss, self.cache = f(x, _labels_as_indices(t))  # cache holds dx
            return loss
        else:
            raise AdapterError(f"no functional API is known for layer '{key}'")
        return out

    def _functional_backward(self, dout):
        if self.key == "softmax":
            scale = 1.0 if dout is None else float(np.asarray(dout))
            return np.asarray(self.cache) * scale, {}
        result = self.backward_fn(_copy(dout), self.cache)
        grads = {}
        if self.key in PARAM_LAYERS:
            if not (isinstance(result, tuple) and len(result) >= 3):
                raise AdapterError(f"{getattr(self.backward_fn, '__name__', 'backward')} should return (dx, dw, db)")
            result, grads["W"], grads["b"] = result[:3]
            grads = {k: np.asarray(v) for k, v in grads.items()}
        elif isinstance(result, tuple):
            result = result[0]
        return np.asarray(result), grads


# ----------------------------------------------------------------------------- networks

def seed_everything(seed: int | None) -> None:
    """Seed the generators student code may draw its initial weights from."""
    if seed is None:
        return
    np.random.seed(seed % 2**32)
    random.seed(seed)
    import sys
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _fill_required(cls, kwargs: dict) -> dict:
    """Add well-known arguments (input_size=784, ...) a constructor requires but was not given."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return kwargs
    out = dict(kwargs)
    for name, p in params.items():
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) \
                and name not in out and name in KNOWN_NETWORK_ARGS:
            out[name] = KNOWN_NETWORK_ARGS[name]
    return out


class NetworkAdapter:
    """Base: a student network in the NumPy parameter layout."""

    family = "?"

    @staticmethod
    def create(found, kwargs: dict | None = None, seed: int | None = None) -> "NetworkAdapter":
        """Construct the student's network (class or factory function) with the given kwargs."""
        kwargs = {**found.kwargs, **(kwargs or {})}
        if found.family == "torch":
            import torch  # only now: the submission uses torch
            torch.set_default_dtype(torch.float64)
        seed_everything(seed)
        target = found.obj
        net = target(**_fill_required(target, kwargs))
        import sys
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(net, torch.nn.Module):
            return TorchNetwork(net)
        return ClassNetwork(net)

    def param_names(self) -> list[str]:
        raise NotImplementedError

    def _flat_input(self, x: np.ndarray) -> np.ndarray:
        """MLPs (first parameter a 2-D weight) get (N, 784) rather than images."""
        return x.reshape(len(x), -1) if x.ndim > 2 and self._first_param_2d() else x

    def _first_param_2d(self) -> bool:
        raise NotImplementedError


class ClassNetwork(NetworkAdapter):
    """The handout's API: ``params`` dict, ``predict``, ``loss``, ``gradient``, ``layers``."""

    family = "class"

    def __init__(self, net):
        self.net = net
        params = getattr(net, "params", None)
        if not isinstance(params, dict):
            raise AdapterError(f"{type(net).__qualname__} has no params dict (the handout's network keeps its "
                               f"weights in self.params = {{'W1': ..., 'b1': ...}})")

    @property
    def params(self) -> dict:
        return self.net.params

    def param_names(self) -> list[str]:
        return list(self.params)

    def _first_param_2d(self) -> bool:
        first = next(iter(self.params.values()), None)
        return np.ndim(first) == 2

    def get_params(self) -> dict[str, np.ndarray]:
        return {k: np.array(v, dtype=np.float64, copy=True) for k, v in self.params.items()}

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        """Copy into the existing arrays: the layers hold references to them."""
        for name, value in values.items():
            if name not in self.params:
                raise KeyError(f"the network has no parameter '{name}' (it has {', '.join(self.params)})")
            target = self.params[name]
            if not isinstance(target, np.ndarray):
                raise AdapterError(f"params['{name}'] is a {type(target).__name__}, not a NumPy array")
            value = np.asarray(value)
            if target.shape != value.shape:
                raise ValueError(f"params['{name}'] has shape {target.shape}, the grader sent {value.shape}")
            target[...] = value

    def logits(self, x):
        return np.asarray(self.net.predict(self._flat_input(_copy(x))))

    def loss(self, x, t) -> float:
        return float(np.asarray(self.net.loss(self._flat_input(_copy(x)), _copy(t))))

    def gradient(self, x, t) -> dict[str, np.ndarray]:
        grads = self.net.gradient(self._flat_input(_copy(x)), _copy(t))
        if not isinstance(grads, dict):
            raise AdapterError(f"gradient() returned {type(grads).__name__}, expected a dict shaped like params")
        return {k: np.asarray(grads[k]) if k in grads else None for k in self.params}

    def features(self, x) -> tuple[np.ndarray | None, str | None]:
        """(output of the last conv layer's activation, where it came from) — best effort."""
        if callable(getattr(self.net, "feature_maps", None)):
            return np.asarray(self.net.feature_maps(_copy(x))), "feature_maps"
        layers = getattr(self.net, "layers", None)
        seq = list(layers.values()) if isinstance(layers, dict) else list(layers) if isinstance(layers, (list, tuple)) else []
        last_conv = max((i for i, layer in enumerate(seq) if _is_conv_layer(layer)), default=None)
        if last_conv is None:
            return None, None
        stop, source = last_conv, "conv"
        if last_conv + 1 < len(seq) and _is_activation(seq[last_conv + 1]):
            stop, source = last_conv + 1, "activation"
        out = self._flat_input(_copy(x))
        for layer in seq[: stop + 1]:
            fwd = layer.forward
            out = fwd(out, train_flg=False) if _accepts(fwd, "train_flg") else fwd(out)
        return np.asarray(out), source

    def sgd_step(self, x, t, lr: float) -> float:
        """One plain SGD step in place; the batch's loss before the update."""
        grads = self.gradient(x, t)
        loss = self.loss(x, t)
        for name, g in grads.items():
            if g is None:
                raise AdapterError(f"gradient() has no entry for parameter '{name}'")
            self.params[name] -= lr * g
        return loss


def _accepts(fn, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _is_conv_layer(layer) -> bool:
    W = getattr(layer, "W", None)
    name = type(layer).__name__.lower()
    return (isinstance(W, np.ndarray) and W.ndim == 4) or name.startswith("conv")


def _is_activation(layer) -> bool:
    return type(layer).__name__.lower().replace("_", "") in {"relu", "leakyrelu", "lrelu", "sigmoid", "tanh", "elu"}


class TorchNetwork(NetworkAdapter):
    """An ``nn.Module`` in float64; Linear weights are exposed transposed, as ``(in, out)``."""

    family = "torch"

    def __init__(self, module):
        import torch

        self.torch = torch
        self.module = module.double()
        self.module.eval()
        self.named = dict(module.named_parameters())
        self.transposed = set()
        for name in self.named:
            owner, _, leaf = name.rpartition(".")
            sub = module.get_submodule(owner) if owner else module
            if isinstance(sub, torch.nn.Linear) and leaf == "weight":
                self.transposed.add(name)
        self.optimizer = None
        self._lr = None

    def param_names(self) -> list[str]:
        return list(self.named)

    def _first_param_2d(self) -> bool:
        first = next(iter(self.named.values()), None)
        return first is not None and first.ndim == 2

    def _to_numpy(self, name, tensor) -> np.ndarray:
        a = tensor.detach().cpu().numpy().astype(np.float64, copy=True)
        return a.T.copy() if name in self.transposed else a

    def get_params(self) -> dict[str, np.ndarray]:
        return {n: self._to_numpy(n, p) for n, p in self.named.items()}

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        torch = self.torch
        with torch.no_grad():
            for name, value in values.items():
                if name not in self.named:
                    raise KeyError(f"the module has no parameter '{name}' (it has {', '.join(self.named)})")
                value = np.asarray(value, dtype=np.float64)
                if name in self.transposed:
                    value = value.T
                p = self.named[name]
                if tuple(p.shape) != value.shape:
                    shape = value.T.shape if name in self.transposed else value.shape
                    expected = tuple(p.shape)[::-1] if name in self.transposed else tuple(p.shape)
                    raise ValueError(f"parameter '{name}' has shape {expected} (NumPy layout), the grader sent {shape}")
                p.copy_(torch.from_numpy(np.ascontiguousarray(value)))

    def _inputs(self, x, t=None):
        torch = self.torch
        xt = torch.from_numpy(np.array(self._flat_input(np.asarray(x)), dtype=np.float64, copy=True))
        tt = None if t is None else torch.from_numpy(_labels_as_indices(t).copy())
        return xt, tt

    def _loss(self, logits, t):
        return self.torch.nn.functional.cross_entropy(logits, t)

    def logits(self, x):
        xt, _ = self._inputs(x)
        self.module.eval()
        with self.torch.no_grad():
            return np.asarray(self.module(xt).detach().cpu().numpy(), dtype=np.float64)

    def loss(self, x, t) -> float:
        xt, tt = self._inputs(x, t)
        self.module.eval()
        with self.torch.no_grad():
            return float(self._loss(self.module(xt), tt))

    def gradient(self, x, t) -> dict[str, np.ndarray]:
        xt, tt = self._inputs(x, t)
        self.module.eval()
        self.module.zero_grad(set_to_none=True)
        self._loss(self.module(xt), tt).backward()
        return {n: None if p.grad is None else self._to_numpy(n, p.grad) for n, p in self.named.items()}

    def features(self, x) -> tuple[np.ndarray | None, str | None]:
        """Output of the activation module run right after the last Conv2d (or of that conv)."""
        torch = self.torch
        calls: list[tuple[str, Any, Any]] = []  # (kind, input, output) in execution order
        activations = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.ELU, torch.nn.Sigmoid, torch.nn.Tanh,
                       torch.nn.GELU, torch.nn.PReLU)
        hooks = []
        for sub in self.module.modules():
            kind = "conv" if isinstance(sub, torch.nn.Conv2d) else "act" if isinstance(sub, activations) else None
            if kind:
                hooks.append(sub.register_forward_hook(
                    lambda m, inp, out, kind=kind: calls.append((kind, inp[0] if inp else None, out))))
        try:
            xt, _ = self._inputs(x)
            self.module.eval()
            with torch.no_grad():
                self.module(xt)
        finally:
            for h in hooks:
                h.remove()
        last = max((i for i, c in enumerate(calls) if c[0] == "conv"), default=None)
        if last is None:
            return None, None
        conv_out = calls[last][2]
        if last + 1 < len(calls) and calls[last + 1][0] == "act" and calls[last + 1][1] is not None \
                and tuple(calls[last + 1][1].shape) == tuple(conv_out.shape):
            return calls[last + 1][2].detach().cpu().numpy().astype(np.float64), "activation"
        return conv_out.detach().cpu().numpy().astype(np.float64), "conv"

    def sgd_step(self, x, t, lr: float) -> float:
        """One torch.optim.SGD step (created once per handle and learning rate)."""
        torch = self.torch
        if self.optimizer is None or self._lr != lr:
            self.optimizer = torch.optim.SGD(self.module.parameters(), lr=lr)
            self._lr = lr
        xt, tt = self._inputs(x, t)
        self.module.train()
        self.optimizer.zero_grad()
        loss = self._loss(self.module(xt), tt)
        loss.backward()
        self.optimizer.step()
        self.module.eval()
        return float(loss.detach())
