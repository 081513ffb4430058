"""Unbounded recursion in Pooling.backward."""
import common.layers as layers


def deeper(n):
    return deeper(n + 1) + 1


def backward(self, dout):
    return deeper(0)


class Patch:
    layers.Pooling.backward = backward
