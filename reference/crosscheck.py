"""NumPy vs torch on every named network: ``python -m reference.crosscheck``.

Each network is built in NumPy with seeded He weights and small random biases, copied into
its torch twin, and both are run in float64 on the same seeded batch. One line per network:
the relative difference (``reference.gradcheck.rel_difference``) of the logits, of the loss and
the worst over all parameter gradients. Exits 1 if any exceeds ``TOLERANCE``.
"""

import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reference.gradcheck import rel_difference
from reference.networks import NETWORKS, Network
from reference.torch_networks import numpy_gradients, to_torch

TOLERANCE = 1e-10

# (row name, network name, factory options): every network, plus the MLP's Leaky ReLU and
# the CNNs' pool/pad variants (three_layer_cnn with pool alone does not fit 28x28).
VARIANTS = [
    ("three_layer_nn", "three_layer_nn", {}),
    ("three_layer_nn(lrelu)", "three_layer_nn", {"activation": "lrelu"}),
    ("two_layer_cnn", "two_layer_cnn", {}),
    ("two_layer_cnn(pool)", "two_layer_cnn", {"pool": True}),
    ("two_layer_cnn(pad=same)", "two_layer_cnn", {"pad": "same"}),
    ("two_layer_cnn(pool, pad=same)", "two_layer_cnn", {"pool": True, "pad": "same"}),
    ("three_layer_cnn", "three_layer_cnn", {}),
    ("three_layer_cnn(pad=same)", "three_layer_cnn", {"pad": "same"}),
    ("three_layer_cnn(pool, pad=same)", "three_layer_cnn", {"pool": True, "pad": "same"}),
    ("simple_convnet", "simple_convnet", {}),
    ("one_conv_net", "one_conv_net", {}),
    ("lenet", "lenet", {}),
    ("lenet(hidden=100)", "lenet", {"hidden": 100}),
]


@dataclass
class CrosscheckRow:
    """Relative NumPy-vs-torch differences for one network."""

    name: str
    logits: float
    loss: float
    gradients: float   # worst over all parameters
    worst_param: str   # the parameter with the largest gradient difference

    @property
    def worst(self):
        """The largest of the three differences."""
        return max(self.logits, self.loss, self.gradients)


def crosscheck_network(name, spec, batch=4, seed=0, perturb=None):
    """Compare NumPy and torch on one spec; ``perturb(module)`` may alter the torch twin
    after the weights are copied (the tests use it to prove a difference is caught)."""
    net = Network(spec, weight_init_std="he", seed=seed)
    rng = np.random.default_rng(seed + 1)
    for key in net.params:
        if key.startswith("b"):
            net.params[key] += 0.1 * rng.standard_normal(net.params[key].shape)  # in place
    x = rng.random((batch,) + net.input_shape)
    t = rng.integers(0, 10, size=batch)

    module = to_torch(net)
    if perturb is not None:
        perturb(module)
    logits_t = module(torch.from_numpy(x))
    loss_t = F.cross_entropy(logits_t, torch.from_numpy(t))
    loss_t.backward()
    grads_t = numpy_gradients(module)

    logits = net.predict(x)
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    grad_errors = {key: rel_difference(grads[key], grads_t[key]) for key in grads}
    worst_param = max(grad_errors, key=grad_errors.get)
    return CrosscheckRow(name, rel_difference(logits, logits_t.detach().numpy()),
                         rel_difference(loss, loss_t.item()), grad_errors[worst_param], worst_param)


def crosscheck_all(batch=4, seed=0):
    """One CrosscheckRow per entry of ``VARIANTS`` (every network in ``NETWORKS``)."""
    return [crosscheck_network(row_name, NETWORKS[name](**options), batch, seed)
            for row_name, name, options in VARIANTS]


def main():
    """Print the table; exit status 1 if any difference exceeds TOLERANCE."""
    rows = crosscheck_all()
    print(f"{'network':34s} {'logits':>10s} {'loss':>10s} {'gradients':>10s}  worst param")
    for row in rows:
        flag = "" if row.worst <= TOLERANCE else "  FAIL"
        print(f"{row.name:34s} {row.logits:10.2e} {row.loss:10.2e} {row.gradients:10.2e}"
              f"  {row.worst_param}{flag}")
    failed = [row.name for row in rows if not row.worst <= TOLERANCE]
    print(f"{len(rows) - len(failed)}/{len(rows)} networks agree within {TOLERANCE:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
