"""Shared machinery of the hostile corpus: build a case's submission, grade it, and check that
the grader and everything outside the worker's copy came out unharmed."""

from __future__ import annotations

import builtins
import hashlib
import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from grader import sandbox as sb
from grader.grade import grade
from grader.plan import Plan
from grader.report import json_report
from tests.samples import copy_numpy_sample
from tests.sandbox.test_sandbox import processes_with

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "hostile" / "cases"

#: Every layer, one network without training: hostile code sits in Pooling (which the network
#: does not use), so "the other checks still graded" means every other check passes.
PLAN = Plan("hostile", layers=("affine", "relu", "convolution", "pooling", "softmax"),
            networks=("two_layer_cnn",), network_checks=("architecture", "logits", "gradient"))
LIMITS = sb.Limits(call_timeout=4, load_timeout=10, total_timeout=240, memory_mb=700)  # the NumPy part loads in ~0.3 s
POOLING = ("layers.pooling.forward", "layers.pooling.backward", "layers.pooling.gradcheck")


def materialise(case: str, dest: Path, **values: str) -> Path:
    """The sample's NumPy part (every hostile plan grades NumPy code only: ``tests/samples.py``) with
    the case's files laid over it; ``{{NAME}}`` in a case file is replaced by ``values[NAME]`` (paths a
    determined student could find out)."""
    copy_numpy_sample(dest)
    source = CASES / case
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = path.read_bytes()
            for name, value in values.items():
                data = data.replace(f"{{{{{name}}}}}".encode(), str(value).encode())
            target.write_bytes(data)
    return dest


def digest(folder: Path) -> dict[str, str]:
    """Content hash of every file under ``folder`` (symlinks by target), to prove nothing changed."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if "__pycache__" in rel or ".pytest_cache" in rel or rel.startswith(".git"):
            continue
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def files_around(sub: Path, world: dict) -> dict:
    """Digests of everything a submission must not change: its original folder, a folder beside
    it, and the grader's code, reference and rubrics."""
    return {"sub": digest(sub), "outside": digest(world["outside"]),
            **{name: digest(ROOT / name) for name in ("grader", "reference", "rubrics")}}


def grader_state() -> dict:
    """What a submission would have to change in the grader's own process to cheat or break it."""
    return {"allclose": np.allclose, "assert_allclose": np.testing.assert_allclose, "max": np.max,
            "builtins": dict(vars(builtins)), "cwd": os.getcwd(), "path": list(sys.path),
            "modules": {n for n in sys.modules if n.startswith(("grader", "reference"))}}


def statuses(report) -> dict[str, str]:
    return {c.id: c.status for c in report.checks}


def not_passed(report) -> dict[str, str]:
    return {c.id: c.status for c in report.checks if c.status != "passed"}


@pytest.fixture
def world(tmp_path):
    """A submission folder, a folder 'outside' it, and snapshots to compare after grading."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel.txt").write_text("the grader's files: must survive\n")
    (outside / "report.json").write_text('{"score": 0}\n')  # an output path a student might target
    return {"tmp": tmp_path, "outside": outside, "sub": tmp_path / "sub"}


def grade_hostile(case: str, world: dict, isolation: str = "auto", limits: sb.Limits = LIMITS, plan: Plan = PLAN,
                  data_dir=None, **values):
    """Grade a case and assert the invariants every hostile case shares; returns the report."""
    sub = materialise(case, world["sub"], GRADER_ROOT=ROOT, OUTSIDE=world["outside"], SUBMISSION=world["sub"],
                      MARKER=f"HOSTILE-{case}-{os.getpid()}", **values)
    before = files_around(sub, world)
    state = grader_state()
    report = grade(sub, assignment=plan, seed=11, limits=limits, isolation=isolation, data_dir=data_dir)
    # the grader process is unharmed and nothing outside the worker's copy changed
    assert grader_state() == state
    assert files_around(sub, world) == before
    assert processes_with(f"HOSTILE-{case}-{os.getpid()}") == []
    # the score is what the statuses say, never more; the report follows its schema
    assert report.score == sum(c.max_score for c in report.checks if c.status == "passed")
    json_report.validate(json_report.report_dict(report))
    return report


def grade_network_case(world: dict, **kw):
    """Grade the `network` case with a listener open on this machine; asserts nobody connected."""
    with socket.socket() as server:
        server.bind(("0.0.0.0", 0))
        server.listen()
        server.setblocking(False)
        report = grade_hostile("network", world, PORT=server.getsockname()[1], HOST_IP=outward_ip(), **kw)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody called
    assert "CONNECTED" not in report.output, report.output
    return report


def outward_ip() -> str:
    """This machine's address on its network (127.0.0.1 if it has none)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
