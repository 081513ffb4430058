"""Reference NumPy and PyTorch implementations of the course's networks (golden outputs).

Never imports :mod:`grader`: the grader depends on the reference, not the other way round.
"""
