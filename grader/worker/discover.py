"""Import a student's submission and find the handout's layers and networks in it.

:func:`load_submission` walks the submission (a writable temporary copy: filtered sources are
written back into it), converts notebooks to sibling modules, filters every module with
:mod:`.source_filter`, imports them all, and returns an :class:`Inventory` of what it found.

Discovery matches class and function names case-insensitively, ignoring ``_``/``-`` and a
``torch``/``pytorch``/``numpy``/``np`` prefix or suffix, against :data:`LAYER_ALIASES`,
:data:`FUNCTIONAL_LAYERS` and :data:`NETWORK_ALIASES`. Only symbols *defined* in the submission
count (``torch.nn.Linear`` imported into a student module is not the student's affine layer).
A network class that subclasses ``torch.nn.Module`` is the ``torch`` family and answers the
``*_torch`` keys; any other class with ``predict``/``loss``/``gradient`` is the ``class`` family.

Manifest
--------
A ``grader.toml`` (or ``submission.yaml``/``submission.yml``, same structure) at the
submission root maps keys to symbols when the names are unusual. A symbol is
``"module:Name"`` where module is a dotted module name relative to the root, a file path
(``"ch07/my_net.py:MyNet"``) or a notebook (``"PA2.ipynb:CNN"``); a bare ``"Name"`` is looked up
in every module. ``Name`` may be dotted (``Outer.Inner``)::

    [layers]
    convolution = "layers:Conv"                       # class family
    affine = { symbol = "mylayers:FC" }               # same, as a table
    pooling = { forward = "fn:pool_fwd", backward = "fn:pool_bwd" }   # functional family

    [networks.two_layer_cnn]
    symbol = "mymodule:MyCNN"       # a class, or a function returning the network
    kwargs = { pool = false }       # passed to the constructor
    family = "class"                # optional: "class" or "torch" (inferred otherwise)

    [networks.my_extra_net]         # any other key is graded if a rubric asks for it
    symbol = "extra:Net"

The parent may also send the manifest with the ``load`` request; that one wins over the files.

Modules that are only for display and often missing from the grader's environment
(matplotlib, seaborn, tqdm, IPython, google.colab, tensorboard, ...) are replaced by inert
stubs when they cannot be imported, so ``import matplotlib.pyplot as plt`` does not stop a
module from loading; a warning says so.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import keyword
import os
import re
import sys
import traceback
import types
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import missing_imports, tolerant
from . import notebook as nbconv
from .guard import restore_builtins
from .source_filter import SourceError, _bound_names, filter_source, read_source

LAYER_KEYS = ("affine", "relu", "lrelu", "convolution", "pooling", "flatten", "softmax")
NETWORK_KEYS = ("three_layer_nn", "three_layer_nn_lrelu", "two_layer_cnn", "three_layer_cnn",
                "two_layer_cnn_torch", "three_layer_cnn_torch", "simple_convnet", "one_conv_net", "lenet")

#: Layer key -> class names (first = the handout's), compared after :func:`normalize`.
LAYER_ALIASES = {
    "affine": ["Affine", "Linear", "Dense", "FullyConnected", "FC", "AffineLayer", "FullyConnectedLayer"],
    "relu": ["Relu", "ReLU", "ReluLayer"],
    "lrelu": ["LeakyRelu", "LeakyReLU", "LReLU", "LRelu", "LeakyReluLayer"],
    "convolution": ["Convolution", "Conv", "Conv2D", "Conv2d", "ConvLayer", "Convolution2D", "ConvolutionLayer"],
    "pooling": ["Pooling", "MaxPool", "MaxPooling", "MaxPool2D", "Pool", "MaxPooling2D", "PoolingLayer"],
    "flatten": ["Flatten", "FlattenLayer"],
    "softmax": ["SoftmaxWithLoss", "SoftmaxLoss", "SoftmaxCrossEntropy", "SoftmaxCrossEntropyLoss",
                "SoftmaxWithCrossEntropy"],
}

#: Layer key -> [(forward, backward)] of the CS231n functional API, preferred first.
FUNCTIONAL_LAYERS = {
    "affine": [("affine_forward", "affine_backward")],
    "relu": [("relu_forward", "relu_backward")],
    "lrelu": [("leaky_relu_forward", "leaky_relu_backward"), ("lrelu_forward", "lrelu_backward")],
    "convolution": [("conv_forward_naive", "conv_backward_naive"), ("conv_forward", "conv_backward"),
                    ("conv_forward_fast", "conv_backward_fast"), ("conv_forward_im2col", "conv_backward_im2col")],
    "pooling": [("max_pool_forward_naive", "max_pool_backward_naive"), ("max_pool_forward", "max_pool_backward"),
                ("max_pool_forward_fast", "max_pool_backward_fast")],
    "softmax": [("softmax_loss", None)],
}

#: Network key (NumPy) -> class names; the ``*_torch`` keys use the same names on nn.Modules.
NETWORK_ALIASES = {
    "three_layer_nn": ["ThreeLayerNet", "ThreeLayerNN", "ThreeLayerNetwork", "ThreeLayerNeuralNet",
                       "ThreeLayerNeuralNetwork", "ThreeLayerMLP", "MLP3", "NN3", "ThreeLayerReluNet",
                       "ThreeLayerNetRelu", "ThreeLayerNNRelu", "MultiLayerNet"],
    "three_layer_nn_lrelu": ["ThreeLayerNetLRelu", "ThreeLayerNNLRelu", "ThreeLayerNetLeakyRelu",
                             "ThreeLayerNNLeakyRelu", "ThreeLayerLeakyReluNet", "ThreeLayerLReluNet",
                             "LeakyReluNet", "ThreeLayerNetworkLeakyRelu", "MLP3LeakyRelu", "NN3LRelu"],
    "two_layer_cnn": ["TwoLayerCNN", "CNN2", "TwoLayerConvNet", "TwoConvNet", "CNN2Layer", "TwoLayerConvNN",
                      "TwoLayerConv", "ConvNet2", "TwoConvLayerNet"],
    "three_layer_cnn": ["ThreeLayerCNN", "CNN3", "ThreeLayerConvNet", "ThreeConvNet", "CNN3Layer",
                        "ThreeLayerConvNN", "ThreeLayerConv", "ConvNet3", "ThreeConvLayerNet"],
    "simple_convnet": ["SimpleConvNet", "SimpleCNN"],
    "one_conv_net": ["OneConvNet", "OneConvNetwork", "SingleConvNet", "OneLayerCNN", "OneConvLayerNet",
                     "SimpleConvNet1", "ConvNet1"],
    "lenet": ["LeNet", "LeNet5", "LeNetModel"],
}
TORCH_NETWORKS = {"two_layer_cnn_torch": "two_layer_cnn", "three_layer_cnn_torch": "three_layer_cnn"}

_AFFIXES = ("pytorch", "torch", "numpy", "np", "pt")
#: Display-only packages replaced by stubs when missing from the grader's environment.
STUB_PACKAGES = frozenset({"matplotlib", "seaborn", "tqdm", "IPython", "google", "tensorboard",
                           "tensorboardX", "wandb", "PIL", "cv2", "sklearn", "pandas", "torchvision",
                           "torchsummary", "plotly", "ipywidgets"}) | {"import_ipynb", "nbimporter"}
#: Notebook importers: not needed, every notebook of the submission is importable by its name.
NOTEBOOK_IMPORTERS = frozenset({"import_ipynb", "nbimporter"})
SKIP_DIRS = frozenset({"__pycache__", "venv", "env", "site-packages", "node_modules", "__MACOSX",
                       "_gradeworker", "dist-packages"})
MAX_FILE_BYTES = 5 * 1024 * 1024
#: A notebook file may be this large (outputs are dropped on reading; its code must fit MAX_CODE_BYTES).
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MANIFEST_FILES = ("grader.toml", "submission.yaml", "submission.yml")


class DiscoveryError(LookupError):
    """The grader asked for something the submission does not provide; says how to map it."""


def normalize(name: str) -> str:
    return re.sub(r"[_\-\s]", "", name).lower()


_NORMALIZED_LAYERS = {key: {normalize(a): i for i, a in enumerate(names)} for key, names in LAYER_ALIASES.items()}
_NORMALIZED_NETS = {key: {normalize(a): i for i, a in enumerate(names)} for key, names in NETWORK_ALIASES.items()}


def _name_variants(name: str) -> list[tuple[str, bool]]:
    """(normalized name, had a framework affix) for the name and the name without an affix."""
    n = normalize(name)
    out = [(n, False)]
    for affix in _AFFIXES:
        if n.startswith(affix) and len(n) > len(affix):
            out.append((n[len(affix):], True))
        if n.endswith(affix) and len(n) > len(affix):
            out.append((n[: -len(affix)], True))
    return out


# ----------------------------------------------------------------------------- results

@dataclass
class Found:
    """One discovered symbol: what the grader calls for a key."""

    key: str
    family: str  # layers: "class" | "functional"; networks: "class" | "torch"
    symbol: str  # qualified name, e.g. "SimpleConvNet" or "affine_forward"
    module: str
    obj: Any = None  # the class/function (functional layers: the forward function)
    backward: Any = None  # functional layers: the backward function
    kwargs: dict = field(default_factory=dict)
    rank: tuple = ()

    def summary(self) -> dict:
        return {"family": self.family, "symbol": self.symbol, "module": self.module}


@dataclass
class FileStatus:
    path: str
    kind: str  # "py" | "ipynb"
    module: str | None
    status: str = "ok"
    error: str | None = None
    dropped: list = field(default_factory=list)
    line_map: Any = None
    failed: list = field(default_factory=list)  # kept statements that raised when the file ran

    def summary(self) -> dict:
        return {"path": self.path, "kind": self.kind, "module": self.module, "status": self.status,
                "error": self.error, "dropped": self.dropped, "failed": self.failed}


@dataclass
class Inventory:
    """Everything :func:`load_submission` learnt about a submission."""

    root: Path
    files: list[FileStatus] = field(default_factory=list)
    modules: dict[str, types.ModuleType] = field(default_factory=dict)
    layers: dict[str, Found] = field(default_factory=dict)
    networks: dict[str, Found] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: {"layers"|"networks": {key: why}} for keys not found whose name a failed statement would bind
    missing_because: dict[str, dict[str, str]] = field(default_factory=lambda: {"layers": {}, "networks": {}})

    def summary(self) -> dict:
        """The ``load`` reply (docs/architecture.md, Worker ops)."""
        return {"files": [f.summary() for f in self.files],
                "layers": {k: v.summary() for k, v in self.layers.items()},
                "networks": {k: v.summary() for k, v in self.networks.items()},
                "warnings": list(self.warnings), "missing_because": self.missing_because}

    def layer(self, key: str) -> Found:
        if key not in self.layers:
            why = self.missing_because["layers"].get(key)
            raise DiscoveryError(missing_message("layers", key) + (f" ({why})" if why else ""))
        return self.layers[key]

    def network(self, key: str) -> Found:
        if key not in self.networks:
            why = self.missing_because["networks"].get(key)
            raise DiscoveryError(missing_message("networks", key) + (f" ({why})" if why else ""))
        return self.networks[key]


def missing_message(kind: str, key: str) -> str:
    if kind == "layers":
        names = ", ".join(LAYER_ALIASES.get(key, [key])[:4])
        funcs = ", ".join(f for f, _ in FUNCTIONAL_LAYERS.get(key, []))
        return (f"layer '{key}' was not found in the submission (looked for classes named {names}, ..."
                + (f" and functions {funcs}" if funcs else "") + "). If it has another name, map it in "
                f"grader.toml at the submission root: [layers] {key} = \"module:ClassName\"")
    names = ", ".join(NETWORK_ALIASES.get(TORCH_NETWORKS.get(key, key), [key])[:4])
    return (f"network '{key}' was not found in the submission (looked for classes named {names}, ...). "
            f"If it has another name, map it in grader.toml at the submission root: "
            f"[networks.{key}] symbol = \"module:ClassName\"")


# ----------------------------------------------------------------------------- loading

def load_submission(root, manifest: dict | None = None, skip: dict[str, str] | None = None,
                    on_file=None) -> Inventory:
    """Filter, import and search a submission copy rooted at ``root`` (files are rewritten).

    ``skip`` maps files (relative paths) to the reason they are not imported: the parent sends
    the files whose import hung or killed an earlier worker. ``on_file(rel)`` is called before
    each import, so the parent can tell which file that was.
    """
    skip = skip or {}
    root = Path(root).resolve()
    inv = Inventory(root)
    sys.dont_write_bytecode = True
    _STUB_WARNINGS.clear()
    tolerant.FAILURES.clear()
    missing_imports.STUBBED.clear()
    install_stubs(root)
    tolerant.install(root)
    if manifest is None:
        manifest = read_manifest(root, inv.warnings)
    py_files, notebooks = _walk(root, inv.warnings)
    jobs = _prepare(root, py_files, notebooks, inv)
    _index_definitions(jobs)
    _extend_sys_path(root, [p for p, _ in jobs])
    for path, status in jobs:
        if status.path in skip:
            status.status, status.error = "error", str(skip[status.path])
        if status.status != "ok":
            continue
        if on_file is not None:
            on_file(status.path)
        module = _import(root, path, status)
        restore_builtins()  # a file that replaced max() must not break the import of the next
        if module is not None:
            inv.modules[status.module] = module
    _collect_failures(jobs)
    inv.warnings += _STUB_WARNINGS + missing_imports.warnings()
    _discover(inv)
    _apply_manifest(inv, manifest or {})
    _explain_missing(inv)
    return inv


def _index_definitions(jobs: list[tuple[Path, FileStatus]]) -> None:
    """Which top-level names each prepared file defines, imports aside (failed imports are resolved with it)."""
    missing_imports.INDEX.clear()
    for path, status in jobs:
        if status.status != "ok":
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
            continue
        names = set().union(set(), *[_bound_names(n) for n in tree.body
                                     if not isinstance(n, (ast.Import, ast.ImportFrom))])
        missing_imports.INDEX[str(path.resolve())] = (status.module, names)


def _collect_failures(jobs: list[tuple[Path, FileStatus]]) -> None:
    """Give each file its failed statements, placed by cell for notebooks."""
    for path, status in jobs:
        for r in tolerant.FAILURES.get(str(path.resolve()), []):
            cell, cell_line = status.line_map.cells.get(r["line"], (None, None)) if status.line_map else (None, None)
            r["where"] = f"{status.path}, " + (f"cell {cell}, line {cell_line}" if cell is not None else f"line {r['line']}")
            status.failed.append({"line": r["line"], "cell": cell, "cell_line": cell_line, "text": r["text"],
                                  "error": r["error"], "names": r["names"], "resolution": r["resolution"]})


def _explain_missing(inv: Inventory) -> None:
    """For each layer/network not found: the failed statement that would have bound one of its names."""
    bound = {}
    for status in inv.files:
        for f in status.failed:
            for name in f["names"]:
                bound.setdefault(normalize(name), f"the statement that would have defined {name} failed "
                                                  f"({status.path}, " + (f"cell {f['cell']}, line {f['cell_line']}"
                                                  if f["cell"] is not None else f"line {f['line']}")
                                 + f": {f['text']}: {f['error']})")
    for kind, aliases, found in (("layers", LAYER_ALIASES, inv.layers), ("networks", NETWORK_ALIASES, inv.networks)):
        for key, names in aliases.items():
            why = next((bound[normalize(n)] for n in names if normalize(n) in bound), None)
            if key not in found and why:
                inv.missing_because[kind][key] = why


def _walk(root: Path, warnings: list[str]) -> tuple[list[Path], list[Path]]:
    py, nb = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                             and not (Path(dirpath, d) / "pyvenv.cfg").exists())
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if name.startswith(".") or not name.endswith((".py", ".ipynb")):
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            limit = MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_FILE_BYTES
            if size > limit:
                warnings.append(f"{path.relative_to(root).as_posix()}: larger than {limit // 2**20} MB, not loaded")
                continue
            (py if name.endswith(".py") else nb).append(path)
    return py, nb


def _prepare(root: Path, py_files: list[Path], notebooks: list[Path], inv: Inventory) -> list[tuple[Path, FileStatus]]:
    """Filter every file and write the result into the copy, before anything is imported."""
    jobs = []
    taken = {p.resolve() for p in py_files}
    for path in py_files:
        rel = path.relative_to(root).as_posix()
        status = FileStatus(rel, "py", module_name(root, path))
        inv.files.append(status)
        try:
            text, warnings = read_source(path)
            inv.warnings += warnings
            kept, status.dropped = filter_source(text, rel)
            path.write_text(kept, encoding="utf-8")
        except SourceError as exc:
            status.status, status.error = "error", str(exc)
        except OSError as exc:
            status.status, status.error = "error", f"cannot read or write the file: {exc}"
        jobs.append((path, status))
    for path in notebooks:
        rel = path.relative_to(root).as_posix()
        target = _notebook_target(path, taken)
        taken.add(target.resolve())
        status = FileStatus(rel, "ipynb", module_name(root, target))
        inv.files.append(status)
        if target.stem != path.stem:
            inv.warnings.append(f"{rel}: imported as module '{status.module}' (the name '{path.stem}' was taken "
                                f"or is not a valid module name)")
        try:
            source, status.dropped, warnings, status.line_map = nbconv.convert(path)
            inv.warnings += warnings
            target.write_text(source, encoding="utf-8")
        except nbconv.NotebookError as exc:
            status.status, status.error = "error", str(exc)
        except OSError as exc:
            status.status, status.error = "error", f"cannot write the converted notebook: {exc}"
        jobs.append((target, status))
    return jobs


def _notebook_target(path: Path, taken: set[Path]) -> Path:
    stem = nbconv.module_stem(path.stem)
    candidate = path.with_name(stem + ".py")
    n = 1
    while candidate.resolve() in taken:  # a .py of the same name (often the notebook's export)
        candidate = path.with_name(f"{stem}_ipynb{'' if n == 1 else n}.py")
        n += 1
    return candidate


def module_name(root: Path, path: Path) -> str:
    """Dotted name relative to the root; ``pkg/__init__.py`` -> ``pkg``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts and parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _importable_name(name: str) -> bool:
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in name.split("."))


def _extend_sys_path(root: Path, paths: list[Path]) -> None:
    """The root first, then every directory holding modules (as running the scripts would)."""
    dirs = [str(root)] + sorted({str(p.parent) for p in paths} - {str(root)})
    for d in reversed(dirs):
        if d not in sys.path:
            sys.path.insert(0, d)


def _import(root: Path, path: Path, status: FileStatus) -> types.ModuleType | None:
    name = status.module
    existing = sys.modules.get(name)
    try:
        with _in_directory(path.parent), student_stdout():
            if existing is not None and _module_file(existing) == path.resolve():
                module = existing  # already imported by a sibling (``from common.layers import *``)
            elif _importable_name(name) and not _shadowed(name, root):
                module = importlib.import_module(name)
                if _module_file(module) != path.resolve():
                    module = _import_file(name, path)
            else:
                module = _import_file(name, path)
        return module
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the next file still loads
        status.status = "error"
        status.error = describe_import_error(exc, root, status)
        return None


def _shadowed(name: str, root: Path) -> bool:
    """The top-level package name is already taken by a module outside the submission."""
    top = sys.modules.get(name.split(".")[0])
    if top is None:
        return False
    f = _module_file(top)
    locations = [Path(p).resolve() for p in getattr(top, "__path__", [])]
    inside = (f is not None and root in f.parents) or any(root == p or root in p.parents for p in locations)
    return not inside


def _import_file(name: str, path: Path) -> types.ModuleType:
    """Import a file under a private unique name (module name not importable or taken)."""
    alias = "_submission_" + re.sub(r"\W", "_", name)
    if alias in sys.modules and _module_file(sys.modules[alias]) == path.resolve():
        return sys.modules[alias]
    spec = tolerant.spec_for_file(alias, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(alias, None)
        raise
    return module


def _module_file(module) -> Path | None:
    f = getattr(module, "__file__", None)
    try:
        return Path(f).resolve() if f else None
    except (OSError, TypeError):
        return None


@contextmanager
def _in_directory(directory: Path):
    """chdir while a module runs (``sys.path.append(os.pardir)``), then pin relative sys.path."""
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        for i, entry in enumerate(sys.path):
            if isinstance(entry, str) and entry != "" and not os.path.isabs(entry):
                sys.path[i] = os.path.normpath(os.path.join(directory, entry))
        os.chdir(before)


@contextmanager
def student_stdout():
    """Student prints go to stderr: stdout may carry the worker protocol."""
    with redirect_stdout(sys.stderr):
        yield


def describe_import_error(exc: BaseException, root: Path, status: FileStatus) -> str:
    """``ModuleNotFoundError: No module named 'x' (ch07/net.py, line 5)``: the student's line."""
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = (exc.filename, exc.lineno)
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            p = Path(frame.filename).resolve()
        except (OSError, ValueError):
            continue
        if root in p.parents:
            where = (str(p), frame.lineno)
    message = f"{type(exc).__name__}: {exc}"
    if where:
        p = Path(where[0])
        try:
            rel = p.resolve().relative_to(root).as_posix()
        except (ValueError, OSError):
            rel = str(p)
        line = f"line {where[1]}"
        if status.line_map is not None and rel == module_name_path(status):
            line = status.line_map.where(where[1])
            rel = status.path
        message += f" ({rel}, {line})"
    return message


def module_name_path(status: FileStatus) -> str:
    return status.module.replace(".", "/") + ".py" if status.module else ""


# ----------------------------------------------------------------------------- stubs

_STUB_WARNINGS: list[str] = []


class _Stub(types.ModuleType):
    """A module/object that accepts any attribute access and call and does nothing."""

    __path__: list = []

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _StubObject(f"{self.__name__}.{name}")


class _StubObject:
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
                if isinstance(sys.modules.get(prefix), _Stub) or not _installed(needs):
                    return self._spec(fullname)
                return None
        if top not in STUB_PACKAGES:
            return None
        if "." in fullname:
            parent = sys.modules.get(fullname.rpartition(".")[0])
            return self._spec(fullname) if isinstance(parent, _Stub) else None
        return None if _installed(top) else self._spec(fullname)

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
        if top in NOTEBOOK_IMPORTERS:
            note = (f"'{top}' is not needed: the grader imports the submission's notebooks as modules "
                    f"itself (from <notebook name> import ... works)")
        if note not in _STUB_WARNINGS:
            _STUB_WARNINGS.append(note)


def _installed(name: str) -> bool:
    top, _, rest = name.partition(".")
    spec = importlib.machinery.PathFinder.find_spec(top)
    if spec is None or not rest:
        return spec is not None
    return importlib.machinery.PathFinder.find_spec(name, spec.submodule_search_locations) is not None


def install_stubs(root: Path) -> None:
    """Put the stub finder first on sys.meta_path (it only answers for missing display packages
    imported by files under ``root``)."""
    _StubFinder.roots.add(root)
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())


# ----------------------------------------------------------------------------- discovery

def _torch_module_class(obj) -> bool:
    torch = sys.modules.get("torch")
    return bool(torch) and isinstance(obj, type) and issubclass(obj, torch.nn.Module)


def _symbols(inv: Inventory):
    """(module name, name, obj) for each class/function a submission module itself defines.

    Re-exports (``from common.layers import *``) and copies made by importing the same file under
    a second name (``from simple_convnet import ...`` next to ``ch07.simple_convnet``) are skipped:
    every file is imported under its canonical name, so each definition is seen there once.
    """
    for mod_name, module in inv.modules.items():
        for name, obj in list(vars(module).items()):
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if sys.modules.get(getattr(obj, "__module__", None) or "") is not module:
                continue
            if getattr(obj, "__name__", None) != name:
                continue  # an alias (``Conv = Convolution``): the class is seen under its own name
            yield mod_name, name, obj


def _discover(inv: Inventory) -> None:
    layers: dict[str, Found] = {}
    networks: dict[str, Found] = {}
    functions: dict[str, tuple[str, Any]] = {}
    for mod_name, name, obj in _symbols(inv):
        depth = mod_name.count(".")
        if inspect.isfunction(obj):
            functions.setdefault(name.lower(), (mod_name, obj))
            continue
        torch_family = _torch_module_class(obj)
        for variant, affixed in _name_variants(name):
            if not torch_family and _is_layer_class(obj):
                for key, aliases in _NORMALIZED_LAYERS.items():
                    if variant in aliases:
                        rank = (0, affixed, aliases[variant], depth, mod_name)
                        _offer(layers, Found(key, "class", obj.__qualname__, mod_name, obj, rank=rank), inv)
            for key, aliases in _NORMALIZED_NETS.items():
                if variant not in aliases:
                    continue
                if torch_family:
                    key = {v: k for k, v in TORCH_NETWORKS.items()}.get(key)
                    if key is None:
                        continue
                elif not _is_network_class(obj):
                    continue
                rank = (affixed, aliases[variant], depth, mod_name)
                _offer(networks, Found(key, "torch" if torch_family else "class", obj.__qualname__, mod_name,
                                       obj, rank=rank), inv)
    for key, pairs in FUNCTIONAL_LAYERS.items():
        for order, (fwd, bwd) in enumerate(pairs):
            if fwd in functions and (bwd is None or bwd.lower() in functions):
                mod_name, f = functions[fwd]
                b = functions[bwd.lower()][1] if bwd else None
                _offer(layers, Found(key, "functional", f.__qualname__, mod_name, f, b, rank=(1, False, order, 0, "")), inv)
                break
    inv.layers.update(layers)
    inv.networks.update(networks)


def _offer(table: dict[str, Found], found: Found, inv: Inventory) -> None:
    current = table.get(found.key)
    if current is None:
        table[found.key] = found
        return
    if current.obj is found.obj:
        return
    best, other = (found, current) if found.rank < current.rank else (current, found)
    table[found.key] = best
    inv.warnings.append(f"{found.key}: using {best.module}:{best.symbol}, also found {other.module}:{other.symbol} "
                        f"(choose another in grader.toml if that is the wrong one)")


def _is_layer_class(cls) -> bool:
    return callable(getattr(cls, "forward", None)) and callable(getattr(cls, "backward", None))


def _is_network_class(cls) -> bool:
    return any(callable(getattr(cls, m, None)) for m in ("predict", "loss", "gradient"))


# ----------------------------------------------------------------------------- manifest

def read_manifest(root: Path, warnings: list[str]) -> dict:
    """The manifest at the submission root as a dict ({} if there is none)."""
    for name in MANIFEST_FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".toml"):
                import tomllib
                with open(path, "rb") as f:
                    data = tomllib.load(f)
            else:
                import yaml
                with open(path, encoding="utf-8") as f:
                    data = yaml.safe_load(f) or {}
        except ImportError:
            warnings.append(f"{name}: PyYAML is not available in the grader; the manifest was ignored")
            return {}
        except Exception as exc:  # tomllib.TOMLDecodeError, yaml.YAMLError
            warnings.append(f"{name}: could not be read ({type(exc).__name__}: {exc}); the manifest was ignored")
            return {}
        if not isinstance(data, dict):
            warnings.append(f"{name}: expected a table of [layers] and [networks.<key>]; ignored")
            return {}
        return data
    return {}


def _apply_manifest(inv: Inventory, manifest: dict) -> None:
    for key, entry in (manifest.get("layers") or {}).items():
        try:
            inv.layers[key] = _manifest_layer(inv, key, entry)
        except DiscoveryError as exc:
            inv.warnings.append(f"manifest [layers] {key}: {exc}")
    for key, entry in (manifest.get("networks") or {}).items():
        try:
            inv.networks[key] = _manifest_network(inv, key, entry)
        except DiscoveryError as exc:
            inv.warnings.append(f"manifest [networks.{key}]: {exc}")


def _manifest_layer(inv: Inventory, key: str, entry) -> Found:
    if isinstance(entry, str):
        entry = {"symbol": entry}
    if not isinstance(entry, dict):
        raise DiscoveryError("expected \"module:Name\" or a table with symbol = ... or forward/backward = ...")
    if "forward" in entry:
        mod, fwd = resolve_symbol(inv, entry["forward"])
        bwd = resolve_symbol(inv, entry["backward"])[1] if entry.get("backward") else None
        if bwd is None and key != "softmax":
            raise DiscoveryError("a functional layer needs backward = \"module:function\"")
        return Found(key, "functional", fwd.__qualname__, mod, fwd, bwd)
    if "symbol" not in entry:
        raise DiscoveryError("missing symbol = \"module:Name\"")
    mod, obj = resolve_symbol(inv, entry["symbol"])
    family = entry.get("family") or ("class" if inspect.isclass(obj) else "functional")
    if family == "functional":
        raise DiscoveryError("for functions give forward = \"module:f\" and backward = \"module:g\"")
    return Found(key, "class", getattr(obj, "__qualname__", str(obj)), mod, obj)


def _manifest_network(inv: Inventory, key: str, entry) -> Found:
    if isinstance(entry, str):
        entry = {"symbol": entry}
    if not isinstance(entry, dict) or "symbol" not in entry:
        raise DiscoveryError("expected symbol = \"module:Name\" (and optionally kwargs, family)")
    mod, obj = resolve_symbol(inv, entry["symbol"])
    family = entry.get("family") or ("torch" if _torch_module_class(obj) else "class")
    if family not in ("class", "torch"):
        raise DiscoveryError(f"family must be \"class\" or \"torch\", not {family!r}")
    kwargs = entry.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise DiscoveryError("kwargs must be a table of constructor arguments")
    return Found(key, family, getattr(obj, "__qualname__", str(obj)), mod, obj, kwargs=dict(kwargs))


def resolve_symbol(inv: Inventory, spec: str) -> tuple[str, Any]:
    """``"module:Name"`` / ``"dir/file.py:Name"`` / ``"nb.ipynb:Name"`` / ``"Name"`` -> (module name, object)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DiscoveryError(f"symbol must be a string like \"module:Name\", not {spec!r}")
    mod_part, _, attr = spec.strip().rpartition(":")
    if mod_part:
        candidates = [_manifest_module(inv, mod_part)]
    else:
        candidates = list(inv.modules)
    for mod_name in candidates:
        obj = inv.modules[mod_name]
        try:
            for part in attr.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return mod_name, obj
    where = f"module '{candidates[0]}'" if mod_part else "any module of the submission"
    raise DiscoveryError(f"'{attr}' was not found in {where}")


def _manifest_module(inv: Inventory, text: str) -> str:
    text = text.strip().replace("\\", "/")
    if text in inv.modules:
        return text
    for status in inv.files:
        if text in (status.path, status.path.rsplit(".", 1)[0]) or text.removesuffix(".py") == status.path.removesuffix(".py"):
            if status.module in inv.modules:
                return status.module
            raise DiscoveryError(f"'{status.path}' did not load: {status.error}")
    dotted = text.removesuffix(".py").replace("/", ".")
    if dotted in inv.modules:
        return dotted
    for status in inv.files:
        if status.module == dotted:
            raise DiscoveryError(f"'{status.path}' did not load: {status.error}")
    known = ", ".join(sorted(inv.modules)[:10])
    raise DiscoveryError(f"no module '{text}' in the submission (loaded modules: {known})")
