"""Asks for 50 GB in Pooling.forward."""
import numpy as np

import common.layers as layers


def forward(self, x):
    hoard = np.ones(50 * 1024**3 // 8)
    return hoard


class Patch:
    layers.Pooling.forward = forward
