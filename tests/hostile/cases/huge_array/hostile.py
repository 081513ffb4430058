"""Returns a 2 GB array from Pooling.forward (zero-stride view: cheap to make, huge to send)."""
import numpy as np

import common.layers as layers


def forward(self, x):
    return np.broadcast_to(np.float64(0.5), (2, 128, 1024, 1024))


class Patch:
    layers.Pooling.forward = forward
