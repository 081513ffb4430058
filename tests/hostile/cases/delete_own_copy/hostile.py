"""Deletes all its own files from Pooling.forward, then ends the process: the worker the grader
starts next must find the submission intact (the checks after pooling still pass)."""
import os
import shutil

import common.layers as layers


def forward(self, x):
    root = os.getcwd()
    for name in os.listdir(root):
        path = os.path.join(root, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    os._exit(1)


class Patch:
    layers.Pooling.forward = forward
