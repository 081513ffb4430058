"""os._exit(0) in the middle of Pooling.backward: no reply, no cleanup."""
import os

import common.layers as layers


def backward(self, dout):
    os._exit(0)


class Patch:
    layers.Pooling.backward = backward
