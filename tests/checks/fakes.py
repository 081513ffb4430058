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


class NetSession:
    """The net_* ops over a reference network built in-process; records every request.

    ``init``: the student's weight_init_std (0.0: all-zero weights); ``stub``: its gradient is all
    zeros; ``softmax``: predict returns probabilities; ``fail``: op -> exception that op raises.
    """

    def __init__(self, factory="three_layer_nn", options=None, init=0.01, stub=False, softmax=False, fail=None):
        from reference import networks as refnets

        self.refnets, self.factory = refnets, factory
        self.options = {"activation": "relu", "hidden": (100, 50)} if options is None else options
        self.init, self.stub, self.softmax, self.fail = init, stub, softmax, fail or {}
        self.requests, self.timeouts, self.net, self.seeds = [], [], None, []

    def has_network(self, key):
        return True

    def why_missing(self, kind, key):
        return ""

    def _predict(self, x):
        logits = self.net.predict(x)
        if not self.softmax:
            return logits
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def call(self, op, header, arrays=None, timeout=None):
        arrays = arrays or {}
        self.requests.append((op, sorted(arrays)))
        self.timeouts.append((op, timeout))
        if op in self.fail:
            raise self.fail[op]
        if op == "net_new":
            self.seeds.append(header["seed"])
            self.net = self.refnets.Network(getattr(self.refnets, self.factory)(**self.options),
                                            weight_init_std=self.init, seed=header["seed"])
            return {"handle": len(self.seeds), "param_names": list(self.net.params)}, dict(self.net.params)
        if op == "net_set_params":
            for k, v in arrays.items():
                self.net.params[k][...] = v
            return {}, {}
        if op == "net_get_params":
            return {}, {k: v.copy() for k, v in self.net.params.items()}
        if op == "net_eval":
            out = {}
            if "logits" in header["want"]:
                out["logits"] = self._predict(arrays["x"])
            if "loss" in header["want"]:
                out["loss"] = np.asarray(self.net.loss(arrays["x"], arrays["t"]))
            if "gradient" in header["want"]:
                out.update({f"grad.{k}": v for k, v in self.net.gradient(arrays["x"], arrays["t"]).items()})
            return {}, out
        if op == "net_train":
            losses = []
            for x, t in zip(arrays["x"], arrays["t"]):
                grads = self.net.gradient(x, t)
                losses.append(self.net.last_layer.loss)
                for k in self.net.params:
                    self.net.params[k] -= header["lr"] * (0 * grads[k] if self.stub else grads[k])
            return {}, {"losses": np.array(losses)}
        raise AssertionError(f"unexpected op {op}")
