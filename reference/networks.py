"""Networks built from a plain-data spec, and the handout's named networks.

A spec is a list of dicts (YAML/JSON friendly), e.g.::

    [{"type": "conv", "filters": 20, "size": 5, "stride": 1, "pad": 0},
     {"type": "relu"},
     {"type": "pool", "size": 2, "stride": 2, "pad": 0},
     {"type": "flatten"},
     {"type": "affine", "units": 10}]

Layer types: ``conv`` (filters, size, stride=1, pad=0 or "same"), ``relu``, ``lrelu``
(alpha=0.01), ``pool`` (size=2, stride=size, pad=0), ``flatten``, ``affine`` (units).
``size`` may be an int or a [height, width] pair. A softmax cross-entropy loss always follows
the last layer. Parameters are named W1, b1, W2, b2, ... in order of the conv/affine layers.
"""

from collections import OrderedDict

import numpy as np

from reference.layers import (Affine, Convolution, Flatten, LeakyRelu, Pooling, Relu,
                              SoftmaxWithLoss)

LAYER_TYPES = ("conv", "relu", "lrelu", "pool", "flatten", "affine")
ACTIVATIONS = ("relu", "lrelu")
# Names of the layer objects in Network.layers (DLFS style: Conv1, Relu1, Pool1, Affine1, ...).
LAYER_NAMES = {"conv": "Conv", "relu": "Relu", "lrelu": "LeakyRelu", "pool": "Pool",
               "flatten": "Flatten", "affine": "Affine"}


# --------------------------------------------------------------------------- spec helpers

def _pair(size):
    """An int or [h, w] as a (h, w) tuple."""
    if isinstance(size, (list, tuple)):
        h, w = size
        return int(h), int(w)
    return int(size), int(size)


def same_pad(size):
    """Padding that keeps the spatial size at stride 1: (size - 1) // 2.

    Exact for odd kernels; an even kernel (e.g. 10x10) has no symmetric "same" padding and
    loses one pixel (28 -> 27).
    """
    h, w = _pair(size)
    if (h - 1) // 2 != (w - 1) // 2:
        raise ValueError(f'pad "same" needs one padding for both axes; kernel {h}x{w} has none')
    return (h - 1) // 2


def _describe(index, layer):
    """'layer 3 (conv {...})': how error messages name a spec entry (1-based)."""
    details = {k: v for k, v in layer.items() if k != "type"}
    return f"layer {index + 1} ({layer.get('type')} {details})" if details else \
        f"layer {index + 1} ({layer.get('type')})"


def normalise_layer(layer):
    """A copy of one layer spec with every default filled in and pad "same" resolved."""
    layer = dict(layer)
    kind = layer.get("type")
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}; expected one of {', '.join(LAYER_TYPES)}")
    if kind == "conv":
        layer.setdefault("stride", 1)
        layer.setdefault("pad", 0)
        if layer["pad"] == "same":
            layer["pad"] = same_pad(layer["size"])
    elif kind == "pool":
        layer.setdefault("size", 2)
        layer.setdefault("stride", _pair(layer["size"])[0])
        layer.setdefault("pad", 0)
    elif kind == "lrelu":
        layer.setdefault("alpha", 0.01)
    return layer


def output_shape(spec, input_shape=(1, 28, 28)):
    """The per-sample shape after each layer of ``spec`` (a list, one tuple per layer).

    Raises ValueError naming the layer when a spec does not fit its input (non-positive
    output size, a conv or pool after the features were flattened, a missing field).
    """
    shape = tuple(input_shape)
    shapes = []
    for index, raw in enumerate(spec):
        where = _describe(index, raw)
        try:
            layer = normalise_layer(raw)
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{where}: {error}") from None
        kind = layer["type"]
        try:
            if kind in ("conv", "pool"):
                if len(shape) != 3:
                    raise ValueError(f"{where}: needs (C, H, W) input, got shape {shape}")
                kh, kw = _pair(layer["size"])
                stride, pad = int(layer["stride"]), int(layer["pad"])
                out_h = (shape[1] + 2 * pad - kh) // stride + 1
                out_w = (shape[2] + 2 * pad - kw) // stride + 1
                if out_h <= 0 or out_w <= 0:
                    raise ValueError(
                        f"{where}: a {kh}x{kw} window (stride {stride}, pad {pad}) does not fit "
                        f"the {shape[1]}x{shape[2]} input; output size {out_h}x{out_w}")
                channels = int(layer["filters"]) if kind == "conv" else shape[0]
                shape = (channels, out_h, out_w)
            elif kind == "flatten":
                shape = (int(np.prod(shape)),)
            elif kind == "affine":
                units = int(layer["units"])
                if units <= 0:
                    raise ValueError(f"{where}: units must be positive, got {units}")
                shape = (units,)
        except KeyError as missing:
            raise ValueError(f"{where}: missing field {missing}") from None
        shapes.append(shape)
    return shapes


# --------------------------------------------------------------------------- the network

class Network:
    """A DLFS-style network built from a spec: params, layers, predict, loss, gradient, ...

    Layer objects hold references to the arrays in ``params``, so in-place updates such as
    ``net.params["W1"] -= lr * grads["W1"]`` are seen by the layers.
    ``weight_init_std`` is a float (W ~ std * N(0, 1)) or "he" (std = sqrt(2 / fan_in));
    biases start at zero. Weights are drawn layer by layer from ``np.random.default_rng(seed)``.
    """

    def __init__(self, spec, input_shape=(1, 28, 28), weight_init_std=0.01, seed=0):
        shapes = output_shape(spec, input_shape)   # validates the spec, naming bad layers
        self.spec = [normalise_layer(layer) for layer in spec]
        self.input_shape = tuple(input_shape)
        rng = np.random.default_rng(seed)
        self.params = {}
        self.layers = OrderedDict()
        counts = {}
        in_shape = self.input_shape
        for layer, out_shape in zip(self.spec, shapes):
            kind = layer["type"]
            counts[kind] = counts.get(kind, 0) + 1
            name = f"{LAYER_NAMES[kind]}{counts[kind]}"
            if kind in ("conv", "affine"):
                k = len(self.params) // 2 + 1
                if kind == "conv":
                    w_shape = (layer["filters"], in_shape[0]) + _pair(layer["size"])
                else:
                    w_shape = (int(np.prod(in_shape)), layer["units"])
                fan_in = int(np.prod(w_shape[1:])) if kind == "conv" else w_shape[0]
                std = np.sqrt(2.0 / fan_in) if weight_init_std == "he" else float(weight_init_std)
                self.params[f"W{k}"] = std * rng.standard_normal(w_shape)
                self.params[f"b{k}"] = np.zeros(w_shape[0] if kind == "conv" else w_shape[1])
                W, b = self.params[f"W{k}"], self.params[f"b{k}"]
                if kind == "conv":
                    self.layers[name] = Convolution(W, b, layer["stride"], layer["pad"])
                else:
                    self.layers[name] = Affine(W, b)
            elif kind == "relu":
                self.layers[name] = Relu()
            elif kind == "lrelu":
                self.layers[name] = LeakyRelu(layer["alpha"])
            elif kind == "pool":
                ph, pw = _pair(layer["size"])
                self.layers[name] = Pooling(ph, pw, layer["stride"], layer["pad"])
            elif kind == "flatten":
                self.layers[name] = Flatten()
            in_shape = out_shape
        self.last_layer = SoftmaxWithLoss()
        self._feature_index = self._find_feature_index()

    # -- plumbing

    def _find_feature_index(self):
        """Index of the layer whose output is the CAM feature map (None without a conv)."""
        convs = [i for i, layer in enumerate(self.spec) if layer["type"] == "conv"]
        if not convs:
            return None
        last = convs[-1]
        if last + 1 < len(self.spec) and self.spec[last + 1]["type"] in ACTIVATIONS:
            return last + 1
        return last

    def _as_input(self, x):
        """Images as float64 (N, *input_shape); accepts (N, 784) for (1, 28, 28) and back."""
        x = np.asarray(x, dtype=np.float64)
        return x.reshape((x.shape[0],) + self.input_shape)

    def _run(self, x, start, stop):
        for layer in list(self.layers.values())[start:stop]:
            x = layer.forward(x)
        return x

    def _backprop(self, dout, start):
        for layer in reversed(list(self.layers.values())[start:]):
            dout = layer.backward(dout)
        return dout

    # -- the handout's API

    def predict(self, x):
        """Logits (N, classes) for a batch of images."""
        return self._run(self._as_input(x), 0, len(self.layers))

    def loss(self, x, t):
        """Mean softmax cross-entropy of the batch (labels as indices or one-hot)."""
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        """Gradients of ``loss(x, t)`` by backpropagation, as a dict shaped like ``params``."""
        self.loss(x, t)
        self._backprop(self.last_layer.backward(1.0), 0)
        grads = {}
        k = 0
        for layer in self.layers.values():
            if isinstance(layer, (Convolution, Affine)):
                k += 1
                grads[f"W{k}"] = layer.dW
                grads[f"b{k}"] = layer.db
        return grads

    def accuracy(self, x, t, batch_size=100):
        """Fraction of correctly classified images, evaluated ``batch_size`` at a time."""
        t = np.asarray(t)
        if t.ndim != 1:
            t = t.argmax(axis=1)
        correct = 0
        for start in range(0, len(t), batch_size):
            logits = self.predict(x[start:start + batch_size])
            correct += int((logits.argmax(axis=1) == t[start:start + batch_size]).sum())
        return correct / len(t)

    def param_shapes(self):
        """Parameter name -> shape, in parameter order."""
        return {name: value.shape for name, value in self.params.items()}

    # -- class activation maps

    def _require_features(self):
        if self._feature_index is None:
            raise ValueError("this network has no conv layer, so it has no feature maps")
        return self._feature_index + 1

    def feature_maps(self, x):
        """Output of the activation after the last conv layer (N, C, H, W): what CAM uses."""
        return self._run(self._as_input(x), 0, self._require_features())

    def logits_from_features(self, A):
        """Logits computed from feature maps ``A`` by the layers after them."""
        return self._run(np.asarray(A, dtype=np.float64), self._require_features(),
                         len(self.layers))

    def feature_gradient(self, x, c):
        """(A, dA) with dA[n] = d logits[n, c] / d A[n]; ``c`` is a class or one per sample.

        Samples do not interact, so backpropagating the sum over the batch gives each
        sample's own gradient.
        """
        start = self._require_features()
        A = self.feature_maps(x)
        logits = self.logits_from_features(A)
        dout = np.zeros_like(logits)
        dout[np.arange(len(logits)), np.broadcast_to(np.asarray(c), (len(logits),))] = 1.0
        return A, self._backprop(dout, start)


# --------------------------------------------------------------------------- named specs

def _conv(filters, size, pad=0):
    return {"type": "conv", "filters": filters, "size": size, "stride": 1,
            "pad": same_pad(size) if pad == "same" else int(pad)}


def _pool():
    return {"type": "pool", "size": 2, "stride": 2, "pad": 0}


def _activation(activation, alpha):
    if activation == "relu":
        return {"type": "relu"}
    if activation == "lrelu":
        return {"type": "lrelu", "alpha": alpha}
    raise ValueError(f'activation must be "relu" or "lrelu", got {activation!r}')


def three_layer_nn(hidden=(100, 50), activation="relu", alpha=0.1):
    """PA1: Affine(784->h1) -> act -> Affine(h1->h2) -> act -> Affine(h2->10)."""
    spec = []
    for units in hidden:
        spec += [{"type": "affine", "units": int(units)}, _activation(activation, alpha)]
    return spec + [{"type": "affine", "units": 10}]


def _cnn(convs, pool, pad):
    spec = []
    for filters, size in convs:
        spec += [_conv(filters, size, pad), {"type": "relu"}]
        if pool:
            spec.append(_pool())
    return spec + [{"type": "flatten"}, {"type": "affine", "units": 10}]


def two_layer_cnn(pool=False, pad=0):
    """PA2: conv 20@5x5 -> relu -> conv 40@10x10 -> relu -> affine 10 (28->24->15)."""
    return _cnn([(20, 5), (40, 10)], pool, pad)


def three_layer_cnn(pool=False, pad=0):
    """PA2: two_layer_cnn plus conv 80@10x10 -> relu before the affine (28->24->15->6)."""
    return _cnn([(20, 5), (40, 10), (80, 10)], pool, pad)


def simple_convnet():
    """DLFS SimpleConvNet: conv 30@5x5 -> relu -> pool 2/2 -> affine 100 -> relu -> affine 10."""
    return [_conv(30, 5), {"type": "relu"}, _pool(), {"type": "flatten"},
            {"type": "affine", "units": 100}, {"type": "relu"}, {"type": "affine", "units": 10}]


def one_conv_net():
    """HW7-1: conv 30@5x5 -> relu -> pool 2/2 -> affine 10."""
    return [_conv(30, 5), {"type": "relu"}, _pool(), {"type": "flatten"},
            {"type": "affine", "units": 10}]


def lenet(hidden=None):
    """HW7-2: conv 4@5x5 -> relu -> pool -> conv 12@5x5 -> relu -> pool -> [affine -> relu ->]
    affine 10 (192 -> 10 by default, as in the seed report)."""
    spec = [_conv(4, 5), {"type": "relu"}, _pool(), _conv(12, 5), {"type": "relu"}, _pool(),
            {"type": "flatten"}]
    if hidden:
        spec += [{"type": "affine", "units": int(hidden)}, {"type": "relu"}]
    return spec + [{"type": "affine", "units": 10}]


NETWORKS = {
    "three_layer_nn": three_layer_nn,
    "two_layer_cnn": two_layer_cnn,
    "three_layer_cnn": three_layer_cnn,
    "simple_convnet": simple_convnet,
    "one_conv_net": one_conv_net,
    "lenet": lenet,
}

_NETWORK_OPTIONS = ("input_shape", "weight_init_std", "seed")


def build(name, **options):
    """Network for a named spec: factory options and Network options (input_shape,
    weight_init_std, seed) may be mixed, e.g. ``build("two_layer_cnn", pool=True, seed=1)``."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; known: {', '.join(NETWORKS)}")
    net_options = {k: options.pop(k) for k in _NETWORK_OPTIONS if k in options}
    return Network(NETWORKS[name](**options), **net_options)
