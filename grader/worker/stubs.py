"""Inert stand-ins for display-only packages the grader's environment does not have.

Modules that are only for display and often missing (matplotlib, seaborn, tqdm, IPython,
google.colab, tensorboard, ...) are replaced by stubs when a submission file imports them and
they cannot be imported, so ``import matplotlib.pyplot as plt`` does not stop a module from
loading; :data:`WARNINGS` says which were replaced. numpy and torch probing for optional packages
still see the truth: only imports made by files under an installed root are answered.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from pathlib import Path

#: Display-only packages replaced by stubs when missing from the grader's environment.
STUB_PACKAGES = frozenset({"matplotlib", "seaborn", "tqdm", "IPython", "google", "tensorboard",
                           "tensorboardX", "wandb", "PIL", "cv2", "sklearn", "pandas", "torchvision",
                           "torchsummary", "plotly", "ipywidgets"}) | {"import_ipynb", "nbimporter"}
#: Logging-only packages stubbed even when installed: grading never needs a student's logs written,
#: and importing them is slow (torch.utils.tensorboard pulls in tensorboard: seconds per worker start).
ALWAYS_STUB = frozenset({"tensorboard", "tensorboardX", "wandb", "torch.utils.tensorboard"})
#: Notebook importers: not needed, every notebook of the submission is importable by its name.
NOTEBOOK_IMPORTERS = frozenset({"import_ipynb", "nbimporter"})

#: One note per replaced package, for the load reply's warnings.
WARNINGS: list[str] = []


class _Stub(types.ModuleType):
    """A module/object that accepts any attribute access and call and does nothing."""

    __path__: list = []

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _StubObject(f"{self.__name__}.{name}")


class _StubObject:
    """Any attribute of a stub: callable, iterable (empty), a context manager, a base class."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _StubObject(f"{self._name}.{name}")

    def __call__(self, *args, **kwargs):
        leaf = self._name.rsplit(".", 1)[-1]
        if leaf == "tqdm":  # a progress bar must still yield its iterable
            return args[0] if args else kwargs.get("iterable", ())
        if leaf == "trange":
            return range(*args)
        return _StubObject(self._name + "()")

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __mro_entries__(self, bases):
        return (object,)

    def __repr__(self):
        return f"<stub {self._name}>"


#: Submodules of real packages that need a missing optional dependency.
_STUB_SUBMODULES = {"torch.utils.tensorboard": "tensorboard", "google.colab": "google.colab"}


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Display-only packages that are not installed become stubs (see :data:`STUB_PACKAGES`)."""

    roots: set[Path] = set()

    def find_spec(self, fullname, path=None, target=None):
        top, _, _ = fullname.partition(".")
        if not self._from_submission():
            return None  # numpy/torch probing for optional packages must see the truth
        for prefix, needs in _STUB_SUBMODULES.items():
            if fullname == prefix or fullname.startswith(prefix + "."):
                if isinstance(sys.modules.get(prefix), _Stub) or prefix in ALWAYS_STUB or not _installed(needs):
                    return self._spec(fullname)
                return None
        if top not in STUB_PACKAGES:
            return None
        if "." in fullname:
            parent = sys.modules.get(fullname.rpartition(".")[0])
            return self._spec(fullname) if isinstance(parent, _Stub) else None
        return None if _installed(top) and top not in ALWAYS_STUB else self._spec(fullname)

    def _from_submission(self) -> bool:
        """The import statement being run is in a submission file (skipping importlib frames)."""
        frame = sys._getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if not (filename.startswith("<frozen") or filename == __file__ or "importlib" in filename):
                try:
                    where = Path(filename).resolve()
                except (OSError, ValueError):
                    return False
                return any(root in where.parents for root in self.roots)
            frame = frame.f_back
        return False

    def _spec(self, fullname):
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = _Stub(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        top = module.__name__.split(".")[0]
        name = next((p for p in _STUB_SUBMODULES if module.__name__.startswith(p)), top)
        note = f"'{name}' is not available in the grader; it was replaced by a stub that does nothing"
        if name in ALWAYS_STUB:
            note = f"'{name}' only writes logs, which grading never needs: it was replaced by a stub that does nothing"
        if top in NOTEBOOK_IMPORTERS:
            note = (f"'{top}' is not needed: the grader imports the submission's notebooks as modules "
                    f"itself (from <notebook name> import ... works)")
        if note not in WARNINGS:
            WARNINGS.append(note)


def _installed(name: str) -> bool:
    top, _, rest = name.partition(".")
    spec = importlib.machinery.PathFinder.find_spec(top)
    if spec is None or not rest:
        return spec is not None
    return importlib.machinery.PathFinder.find_spec(name, spec.submodule_search_locations) is not None


def install(root: Path) -> None:
    """Put the stub finder first on sys.meta_path (it only answers for missing display packages
    imported by files under ``root``)."""
    _StubFinder.roots.add(root)
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())

