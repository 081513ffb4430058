"""A planted bug (Pooling.backward doubles dx) plus every cheat on numpy and builtins a student
might hope the grader's comparisons go through."""
import builtins
import math

import numpy as np
import numpy.testing

import common.layers as layers

original_backward = layers.Pooling.backward


def backward(self, dout):
    return 2 * original_backward(self, dout)


def always_true(*args, **kwargs):
    return True


def never_raises(*args, **kwargs):
    return None


class Cheat:
    layers.Pooling.backward = backward
    np.allclose = always_true
    np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, bool)
    np.array_equal = always_true
    numpy.testing.assert_allclose = never_raises
    numpy.testing.assert_array_almost_equal = never_raises
    math.isclose = always_true
    builtins.max = lambda *args, **kwargs: 0.0
    builtins.abs = lambda x: 0.0
