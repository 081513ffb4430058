"""grader: sandboxed autograder for from-scratch MNIST networks (NumPy and PyTorch)."""

import os as _os

# The grader's torch (the deliverables' test-set pass, in a background thread) shares the cores with
# the worker's: OpenMP threads that spin while idle burned ~20 CPU-s of a PA2 grading (benchmarks/
# deliverables.py). Read when torch loads, so set before any import of it; a user's setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: The variables that size numpy's BLAS and torch's OpenMP thread pools (read when they load).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

__version__ = "0.1.0"
