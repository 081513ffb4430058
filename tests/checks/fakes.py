"""An in-process stand-in for a worker session, so the layer judges are tested without a sandbox.

It implements the `layer_run` and `layer_forward_batch` ops (docs/architecture.md) over
layer classes given by the test, typically the reference's with one mistake planted.
"""

from __future__ import annotations

import numpy as np

from reference import layers as ref

DEFAULT_CLASSES = {"affine": ref.Affine, "relu": ref.Relu, "lrelu": ref.LeakyRelu, "convolution": ref.Convolution,
                   "pooling": ref.Pooling, "softmax": ref.SoftmaxWithLoss, "flatten": ref.Flatten}


def construct(cls, key, arrays, config):
    if key in ("affine",):
        return cls(arrays["W"].copy(), arrays["b"].copy())
    if key == "convolution":
        return cls(arrays["W"].copy(), arrays["b"].copy(), stride=config["stride"], pad=config["pad"])
    if key == "pooling":
        return cls(config["pool_h"], config["pool_w"], stride=config["stride"], pad=config["pad"])
    if key == "lrelu":
        return cls(config["alpha"])
    return cls()


class FakeSession:
    """Runs layer ops in-process on the given classes (key -> class with the handout API)."""

    def __init__(self, **overrides):
        self.classes = dict(DEFAULT_CLASSES, **overrides)

    def has_layer(self, key: str) -> bool:
        return self.classes.get(key) is not None

    def why_missing(self, kind: str, key: str) -> str:
        return ""

    def _forward(self, key, arrays, config):
        layer = construct(self.classes[key], key, arrays, config)
        if key == "softmax":
            return layer, np.asarray(layer.forward(arrays["x"].copy(), arrays["t"].copy()))
        return layer, layer.forward(arrays["x"].copy())

    def call(self, op, header, arrays, timeout=None):
        key, config = header["layer"], header["config"]
        if op == "layer_run":
            layer, out = self._forward(key, arrays, config)
            reply = {"loss" if key == "softmax" else "out": out}
            if key == "softmax" or "dout" in arrays:
                reply["dx"] = layer.backward(1.0 if key == "softmax" else arrays["dout"].copy())
                for name in ("dW", "db"):
                    if getattr(layer, name, None) is not None:
                        reply[name] = getattr(layer, name)
            return {}, reply
        if op == "layer_forward_batch":
            n = len(arrays["x"])
            outs = [self._forward(key, {k: v[i] for k, v in arrays.items()}, config)[1] for i in range(n)]
            return {}, {"out": np.stack(outs)}
        raise AssertionError(f"unexpected op {op}")
