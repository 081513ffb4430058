"""grader: sandboxed autograder for from-scratch MNIST networks (NumPy and PyTorch)."""

__version__ = "0.1.0"
