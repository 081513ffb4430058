"""Shared fixtures: where MNIST is for the tests, and a tiny generated IDX dataset."""

from __future__ import annotations

import os

from grader import THREAD_VARIABLES  # the package's __init__ imports neither numpy nor torch

# Under `pytest -n 2` two test processes share the cores. BLAS and OpenMP pools sized for the whole
# machine then oversubscribe it: their threads spin for a core the other process holds, and the
# in-process training tests ran 3-7x slower than alone. One thread per test process (set before
# numpy is imported; the sandbox's workers get their own setting from the grader).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in THREAD_VARIABLES:
        os.environ.setdefault(_var, "1")

import hashlib  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from reference.data import write_idx  # noqa: E402
from tests.samples import copy_numpy_sample  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
#: where CI keeps the small MNIST stand-in, relative to the repository
CI_DATA = REPO_ROOT.parent / "shared" / "data" / "mnist-ci"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The MNIST folder for tests: $GRADER_DATA_DIR, else ../shared/data/mnist-ci; else skip."""
    env = os.environ.get("GRADER_DATA_DIR")
    if env:
        if not Path(env).is_dir():
            pytest.skip(f"GRADER_DATA_DIR={env} is not a folder; point it at the MNIST files "
                        "(e.g. ../shared/data/mnist-ci)")
        return Path(env)
    if CI_DATA.is_dir():
        return CI_DATA
    pytest.skip(f"MNIST not available: set GRADER_DATA_DIR to a folder with the IDX files "
                f"(CI uses ../shared/data/mnist-ci; {CI_DATA} does not exist)")


@pytest.fixture(scope="session")
def numpy_sample(tmp_path_factory) -> Path:
    """One copy per test process of the sample's NumPy part, for plans that grade no torch network."""
    return copy_numpy_sample(tmp_path_factory.mktemp("numpy-sample") / "sample")


def _tiny_split(rng, n, n_classes, size):
    """Images where class c lights up its own horizontal band, plus noise: easy to separate."""
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n,) + size)
    band = size[0] // n_classes
    for c in range(n_classes):
        images[labels == c, c * band:(c + 1) * band] += 180
    return images.astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture
def tiny_idx_dataset(tmp_path):
    """A generated IDX gz dataset (8x8 images, 3 classes, 30 train / 12 test) with SHA256SUMS.

    Returns a namespace: ``dir``, ``size``, ``n_classes``, ``train`` and ``test`` as
    (uint8 images (N, 8, 8), labels) — the arrays that were written.
    """
    rng = np.random.default_rng(0)
    root = tmp_path / "tiny"
    root.mkdir()
    size, n_classes = (8, 8), 3
    splits = {"train": _tiny_split(rng, 30, n_classes, size), "test": _tiny_split(rng, 12, n_classes, size)}
    sums = []
    for kind, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = splits[kind]
        for name, array in ((f"{prefix}-images-idx3-ubyte.gz", images), (f"{prefix}-labels-idx1-ubyte.gz", labels)):
            path = write_idx(root / name, array)
            sums.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}")
    (root / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return SimpleNamespace(dir=root, size=size, n_classes=n_classes, **splits)


def pytest_collection_modifyitems(items):
    """The tests marked slow (a minute or more under `-n 2`) run first, so neither xdist worker is left
    running one alone at the end of the suite; the order among the others is unchanged."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
