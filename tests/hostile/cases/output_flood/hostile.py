"""Floods stdout and stderr: 200 MB while being imported, 20 MB per Pooling.forward, then a
correct answer, so nothing but the output is wrong."""
import sys

import common.layers as layers

original_forward = layers.Pooling.forward
LINE = "flood " * 170_000 + "\n"  # ~1 MB


def forward(self, x):
    for _ in range(10):
        sys.stdout.write(LINE)
        print(LINE, file=sys.stderr)
    return original_forward(self, x)


class Flood:
    for _ in range(100):
        sys.stdout.write(LINE)
        sys.stderr.write(LINE)
    layers.Pooling.forward = forward
