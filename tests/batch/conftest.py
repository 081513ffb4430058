"""Tiny batches for the batch tests: a one-layer rubric and Relu-only submissions (seconds each)."""

from __future__ import annotations

from pathlib import Path

import pytest

RUBRIC = """\
name: relu-only
layers: [relu]
networks: []
points: {forward: 1, backward: 1, gradcheck: 1}
limits: {call_timeout: 10, load_timeout: 60, total_timeout: 120}
"""

RELU = '''\
import numpy as np


class Relu:
    """ReLU of the textbook ({who})."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout = dout.copy()
        dout[{mask}] = 0
        return dout
'''


def relu_source(who: str, buggy: bool = False) -> str:
    """A Relu layer; the buggy one zeroes the gradient where the input was positive."""
    return RELU.format(who=who, mask="~self.mask" if buggy else "self.mask")


def write_submission(root: Path, sid: str, source: str) -> Path:
    folder = root / sid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layers.py").write_text(source)
    return folder


HOG = "\n\ndef forward_hog(x):\n    import numpy as np\n    return np.ones((1 << 33,))\n\n\nRelu.forward = lambda self, x: forward_hog(x)  # 64 GB: the sandbox stops it\n"


@pytest.fixture(scope="session")
def rubric_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rubric") / "relu.yaml"
    path.write_text(RUBRIC)
    return path


def make_batch(root: Path, hostile: bool = False) -> Path:
    """alice and bob correct, carol buggy; with ``hostile``, dave whose forward asks for 64 GB."""
    write_submission(root, "alice", relu_source("alice"))
    write_submission(root, "bob", relu_source("bob"))
    write_submission(root, "carol", relu_source("carol", buggy=True))
    if hostile:
        write_submission(root, "dave", relu_source("dave") + HOG)
    return root
