"""Check every array a worker returns before the grader uses it (parent side).

The result is always a fresh plain ``np.ndarray`` (never a subclass, never a view of worker
data); anything unusable raises :class:`InvalidOutput` with a message for the student.
"""

from __future__ import annotations

import numbers

import numpy as np

DEFAULT_MAX_ELEMENTS = 50_000_000


class InvalidOutput(ValueError):
    """A value returned by the student's code that the grader cannot use; says what and why."""


def _shape_text(shape) -> str:
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def validate_array(name: str, arr, shape: tuple | None = None, dtype_kind: str = "f", finite: bool = True,
                   max_elements: int = DEFAULT_MAX_ELEMENTS) -> np.ndarray:
    """A clean copy of ``arr``: float64 for ``dtype_kind="f"``, int64 for ``"i"``.

    ``shape`` is None (any) or a tuple whose entries may be None (any size on that axis).
    Raises ``InvalidOutput`` naming ``name`` when the value is missing, not numeric, has the
    wrong shape, is too large, or (with ``finite``) holds NaN or infinity.
    """
    if arr is None:
        raise InvalidOutput(f"{name}: nothing was returned (None)")
    try:
        base = np.asarray(arr)
    except Exception as exc:
        raise InvalidOutput(f"{name}: {type(arr).__name__} cannot be read as an array ({exc})") from None
    kind = base.dtype.kind
    if kind not in "biuf":
        what = "complex" if kind == "c" else str(base.dtype)
        raise InvalidOutput(f"{name}: dtype {what} is not a number")
    if base.size > max_elements:
        raise InvalidOutput(f"{name}: {base.size} elements is more than the {max_elements} accepted")
    if shape is not None:
        shape = tuple(shape)
        if base.ndim == 0 and len(shape) > 0:
            raise InvalidOutput(f"{name}: is a 0-d scalar, expected an array of shape {_shape_text(shape)}")
        if base.ndim != len(shape) or any(e is not None and e != s for s, e in zip(base.shape, shape)):
            raise InvalidOutput(f"{name}: returned shape {_shape_text(base.shape)} but expected {_shape_text(shape)}")
    if dtype_kind == "i":
        if kind == "f":
            if not np.all(np.isfinite(base)) or np.any(base != np.round(base)):
                raise InvalidOutput(f"{name}: holds non-integer values, expected integers")
        out = np.array(base, dtype=np.int64, copy=True)
    else:
        out = np.array(base, dtype=np.float64, copy=True)
        if finite:
            _check_finite(name, out)
    return out


def _check_finite(name: str, out: np.ndarray) -> None:
    nan = int(np.count_nonzero(np.isnan(out)))
    inf = int(np.count_nonzero(np.isinf(out)))
    problems = []
    if nan:
        problems.append(f"NaN at {nan} position{'s' if nan != 1 else ''}")
    if inf:
        problems.append(f"infinity at {inf} position{'s' if inf != 1 else ''}")
    if problems:
        raise InvalidOutput(f"{name}: contains {' and '.join(problems)}")


def validate_scalar(name: str, value) -> float:
    """A finite float from a 0-d array, a size-1 array or a Python/NumPy number (e.g. a loss)."""
    if value is None:
        raise InvalidOutput(f"{name}: nothing was returned (None)")
    if isinstance(value, bool):
        raise InvalidOutput(f"{name}: is a bool, expected a number")
    if isinstance(value, numbers.Real):
        result = float(value)
    else:
        arr = validate_array(name, value, finite=False)
        if arr.size != 1:
            raise InvalidOutput(f"{name}: returned shape {_shape_text(arr.shape)} but expected a single number")
        result = float(arr.reshape(()))
    if not np.isfinite(result):
        raise InvalidOutput(f"{name}: is {result}, expected a finite number")
    return result
