"""Code that runs inside the sandboxed worker process.

Self-contained: imports only the standard library, numpy, nbformat and (lazily) torch,
never ``grader`` outside this package nor ``reference``. The sandbox copies this package
into the worker's temporary directory as ``_gradeworker``.
"""
