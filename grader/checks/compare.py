"""How student numbers are compared with golden ones: one error measure, documented thresholds.

All comparisons are float64. The error is normwise relative: ``max|a - b| / max(max|a|, max|b|)``.
It is scale free (a loss of 2.3 and a gradient of 1e-3 are judged alike) and is not blown up
by single entries that are near zero, which elementwise relative errors are.
"""

from __future__ import annotations

import numpy as np

#: Layer forward/backward vs the reference. float64 arithmetic in another order gives ~1e-15;
#: 1e-6 leaves room for float32 intermediates while still catching any real mistake.
LAYER_RTOL = 1e-6
#: Softmax-with-loss value: the textbook adds 1e-7 inside the log, which moves the loss by
#: about 1e-7 / p relative, so the loss is compared looser than the gradients.
LOSS_RTOL = 1e-5
#: Student backward vs central differences of the student's own forward (directional
#: derivatives, step 1e-6 on inputs of unit scale, kinks kept out of reach).
GRADCHECK_RTOL = 1e-5
#: Softmax-with-loss: the textbook's 1e-7 inside the log makes its backward (y - t) / N differ
#: from the derivative of its own forward by about 1e-7 / p; the handout accepts that code.
SOFTMAX_GRADCHECK_RTOL = 1e-4
#: Whole networks: same idea, more arithmetic in between.
NETWORK_RTOL = 1e-6
#: Network finite differences: ReLU kinks can be crossed by a step, and the textbook loss
#: (1e-7 inside the log) differs from its own gradient by ~1e-5 relative.
NETWORK_GRADCHECK_RTOL = 1e-3
#: Loss trajectory of a few SGD steps from the reference's weights on the same batches.
TRAJECTORY_RTOL = 1e-5


def gradcheck_tolerance(key: str) -> float:
    """The gradcheck tolerance of a layer key (softmax is looser, see above)."""
    return SOFTMAX_GRADCHECK_RTOL if key == "softmax" else GRADCHECK_RTOL


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Normwise relative error of a against b; inf when shapes differ, 0 for two zero arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


def scalar_rel_error(a: float, b: float, floor: float = 0.0) -> float:
    """Relative error of two scalars (directional derivatives, losses); ``floor`` keeps two
    values that are both ~0 (a dead ReLU's weight) from looking wildly different."""
    scale = max(abs(a), abs(b), floor)
    return 0.0 if scale == 0.0 else abs(a - b) / scale


def fmt(x: float) -> str:
    """A figure for a message: 3 significant digits."""
    return f"{x:.3g}"
