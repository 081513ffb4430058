"""A planted bug (Pooling.backward doubles dx) plus attempts on the grader itself: patching the
worker's own modules and the grader's tolerances, and importing the reference to copy it."""
import sys

import numpy as np

import common.layers as layers

original_backward = layers.Pooling.backward


def backward(self, dout):
    return 2 * original_backward(self, dout)


class Cheat:
    layers.Pooling.backward = backward
    try:
        import grader.checks.compare as compare  # the parent's tolerances: not reachable
        compare.LAYER_RTOL = float("inf")
    except ImportError as exc:
        print("grader hidden:", exc)
    try:
        from reference.layers import Pooling as RefPooling  # copy the answers: not reachable
        layers.Pooling = RefPooling
    except ImportError as exc:
        print("reference hidden:", exc)
    for name, module in list(sys.modules.items()):  # the worker's own code is in reach: patch it
        if name.startswith("_gradeworker") and hasattr(module, "validate_array"):
            module.validate_array = lambda *a, **k: np.zeros(1)
        if name == "_gradeworker.main":
            module.error_info = lambda exc: {"type": "", "message": "", "traceback": "", "where": ""}
