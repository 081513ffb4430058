"""The worker's self-check: can this interpreter, under these limits, do what grading needs?

Runs before any student code, in a worker of its own: numpy and torch import, a float64
convolution forward and backward runs in both, and a block of memory can be allocated and
touched. It also measures the address space the installed libraries reserve (``VmPeak``), so
the parent can set ``RLIMIT_AS`` far enough above it that loading torch never fails: the CUDA
build of torch maps gigabytes it never touches, the CPU build well under one.
"""

from __future__ import annotations

import os
import platform
import resource
import sys

import numpy as np

MB = 1024 * 1024


def _status_mb(field: str) -> int:
    """A ``VmPeak``/``VmRSS``-style field of /proc/self/status, in MB (0 if unreadable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _numpy_conv() -> None:
    """A tiny float64 convolution, forward and backward, as the reference computes it."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 1, 8, 8)), rng.standard_normal((3, 1, 3, 3))
    cols = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # (2, 1, 6, 6, 3, 3)
    out = np.einsum("ncijkl,fckl->nfij", cols, w)
    dw = np.einsum("nfij,ncijkl->fckl", np.ones_like(out), cols)
    if not (np.isfinite(out).all() and np.isfinite(dw).all()):
        raise ArithmeticError("a float64 convolution in numpy gave non-finite numbers")


def _torch_conv():
    """The same in torch (the framework networks and the reference's twins need it)."""
    import torch

    x = torch.randn(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(x, w).sum().backward()
    if w.grad is None or not bool(torch.isfinite(w.grad).all()):
        raise ArithmeticError("a float64 convolution in torch gave no finite gradient")
    return torch


def op_selfcheck(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Import, convolve, measure the reserved address space; then, under an address-space limit of
    that plus ``address_space_extra_mb`` (what real workers get), allocate ``alloc_mb`` and convolve again. Raises (an ``ok: false`` reply) at the first step that fails,
    with ``step`` saying which in the message."""
    step = "importing numpy"
    saved_path = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]  # never a student's torch.py
    try:
        _numpy_conv()
        step = "importing torch"
        torch = _torch_conv()
        reserved = _status_mb("VmPeak")
        step = "allocating memory"
        extra = header.get("address_space_extra_mb")
        if isinstance(extra, int) and extra > 0:
            resource.setrlimit(resource.RLIMIT_AS, ((reserved + extra) * MB, resource.getrlimit(resource.RLIMIT_AS)[1]))
        alloc = header.get("alloc_mb", 32)
        block = np.ones(int(alloc) * MB // 8) if isinstance(alloc, int) and alloc > 0 else np.ones(1)
        block[:: 4096 // 8] = 2.0  # touch every page
        step = "computing a convolution under the limits"
        _numpy_conv()
        _torch_conv()
        del block
    except BaseException as exc:
        raise RuntimeError(f"self-check failed while {step}: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path[:] = saved_path
    cuda = getattr(torch.version, "cuda", None)
    return {"python": platform.python_version(), "executable": sys.executable, "numpy": np.__version__,
            "torch": torch.__version__, "torch_cuda": cuda, "torch_threads": torch.get_num_threads(),
            "reserved_mb": reserved, "rss_mb": _status_mb("VmRSS")}, {}
