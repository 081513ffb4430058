"""KeyboardInterrupt from Pooling.backward, as if someone pressed Ctrl-C."""
import common.layers as layers


def backward(self, dout):
    raise KeyboardInterrupt


class Patch:
    layers.Pooling.backward = backward
