"""The spec networks as float64 torch ``nn.Module``s, and weight transfer to and from NumPy.

The NumPy layout (``reference.networks``) keeps Affine weights as (in, out); torch's
``nn.Linear.weight`` is (out, in), so transfers transpose them. Conv weights are
(FN, C, FH, FW) in both. Parameters are matched by order: the i-th Conv2d/Linear module
(in registration order) holds W{i} and b{i}.
"""

import numpy as np
import torch
from torch import nn

from reference.networks import _pair, normalise_layer, output_shape


class TorchNetwork(nn.Module):
    """A spec network in torch (float64): ``forward(x)`` returns logits.

    Accepts images (N, *input_shape) or flat rows (N, prod(input_shape)). A flatten is
    inserted before any Linear whose input is not flat, as the NumPy Affine does.
    """

    def __init__(self, spec, input_shape=(1, 28, 28)):
        super().__init__()
        shapes = output_shape(spec, input_shape)   # validates the spec, naming bad layers
        self.spec = [normalise_layer(layer) for layer in spec]
        self.input_shape = tuple(input_shape)
        modules = []
        in_shape = self.input_shape
        for layer, out_shape in zip(self.spec, shapes):
            kind = layer["type"]
            if kind == "conv":
                modules.append(nn.Conv2d(in_shape[0], layer["filters"], _pair(layer["size"]),
                                         stride=layer["stride"], padding=layer["pad"]))
            elif kind == "relu":
                modules.append(nn.ReLU())
            elif kind == "lrelu":
                modules.append(nn.LeakyReLU(layer["alpha"]))
            elif kind == "pool":
                modules.append(nn.MaxPool2d(_pair(layer["size"]), stride=layer["stride"],
                                            padding=layer["pad"]))
            elif kind == "flatten":
                modules.append(nn.Flatten())
            elif kind == "affine":
                if len(in_shape) != 1:
                    modules.append(nn.Flatten())
                modules.append(nn.Linear(int(np.prod(in_shape)), layer["units"]))
            in_shape = out_shape
        self.layers = nn.Sequential(*modules).to(torch.float64)

    def forward(self, x):
        x = torch.as_tensor(x, dtype=torch.float64)
        return self.layers(x.reshape((x.shape[0],) + self.input_shape))


def _parametrised(module):
    """The Conv2d and Linear modules of ``module`` in registration order (W1/b1, W2/b2, ...)."""
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _to_numpy_layout(m, weight):
    """A torch weight (or its gradient) as a NumPy-layout float64 array."""
    array = weight.detach().to(torch.float64).cpu().numpy()
    return array.T.copy() if isinstance(m, nn.Linear) else array.copy()


def load_numpy_params(module, params):
    """Copy NumPy-layout params (W1, b1, ...) into ``module`` in place (Linear W transposed)."""
    with torch.no_grad():
        for k, m in enumerate(_parametrised(module), start=1):
            for name, target in ((f"W{k}", m.weight), (f"b{k}", m.bias)):
                value = np.asarray(params[name], dtype=np.float64)
                if isinstance(m, nn.Linear) and name.startswith("W"):
                    value = value.T
                if tuple(value.shape) != tuple(target.shape):
                    raise ValueError(f"{name}: expected shape {tuple(target.shape)} "
                                     f"(torch layout), got {tuple(value.shape)}")
                target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def numpy_params(module):
    """The module's parameters as a NumPy-layout dict {W1, b1, W2, b2, ...} (copies)."""
    params = {}
    for k, m in enumerate(_parametrised(module), start=1):
        params[f"W{k}"] = _to_numpy_layout(m, m.weight)
        params[f"b{k}"] = m.bias.detach().to(torch.float64).cpu().numpy().copy()
    return params


def numpy_gradients(module):
    """The parameters' ``.grad`` as a NumPy-layout dict {W1, b1, ...}; call after backward()."""
    grads = {}
    for k, m in enumerate(_parametrised(module), start=1):
        if m.weight.grad is None or m.bias.grad is None:
            raise ValueError(f"W{k}/b{k} have no gradient: run loss.backward() first")
        grads[f"W{k}"] = _to_numpy_layout(m, m.weight.grad)
        grads[f"b{k}"] = m.bias.grad.detach().to(torch.float64).cpu().numpy().copy()
    return grads


def to_torch(np_net):
    """A TorchNetwork with the same spec, input shape and weights as a NumPy ``Network``."""
    module = TorchNetwork(np_net.spec, np_net.input_shape)
    return load_numpy_params(module, np_net.params)
