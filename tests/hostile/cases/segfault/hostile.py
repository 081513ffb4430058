"""Dereferences a null pointer through ctypes in Pooling.backward."""
import ctypes

import common.layers as layers


def backward(self, dout):
    return ctypes.string_at(0)


class Patch:
    layers.Pooling.backward = backward
