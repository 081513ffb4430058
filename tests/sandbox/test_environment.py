"""The grader's own environment is never charged to the student: the worker's self-check, the
interpreter wherever it lives, memory limits that fit either torch build (issue: the default
CUDA wheel and virtualenvs under /tmp broke the sandbox silently)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import sandbox as sb
from grader.grade import grade
from grader.plan import Plan
from grader.session import suspect_environment

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "submissions" / "sample"
FUNCTIONAL = ROOT / "tests" / "submissions" / "correct_functional"
needs_bwrap = pytest.mark.skipif(sb.probe("bwrap")[0] is None, reason=f"bubblewrap: {sb.probe('bwrap')[1]}")


def broken_python(folder: Path, torch_error: str) -> Path:
    """An interpreter whose ``import torch`` fails the way a broken install does."""
    fake = folder / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"raise ImportError({torch_error!r})\n")
    script = folder / "python"
    script.write_text(f"#!/bin/sh\nPYTHONPATH={folder / 'site'} exec {sys.executable} \"$@\"\n")
    script.chmod(0o755)
    return script


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=600)


def test_a_worker_that_cannot_import_torch_is_a_grader_error_not_a_score(tmp_path, monkeypatch):
    python = broken_python(tmp_path, "libtorch_cpu.so: failed to map segment from shared object")
    monkeypatch.setenv("GRADER_WORKER_PYTHON", str(python))
    with pytest.raises(sb.GraderEnvironmentError) as caught:
        grade(FUNCTIONAL, assignment="hw7", seed=1)
    text = str(caught.value)
    assert "importing torch" in text and "failed to map segment" in text
    assert "not the submission's fault" in text and "no score" in text


def test_cli_exits_3_with_no_report_when_the_self_check_fails(tmp_path):
    python = broken_python(tmp_path, "No module named 'torch._C'")
    out = tmp_path / "report.json"
    done = run_cli(FUNCTIONAL, "--assignment", "hw7", "--json", out, env={"GRADER_WORKER_PYTHON": str(python)})
    assert done.returncode == 3, done.stderr
    assert "grader error" in done.stderr and "torch._C" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()  # no score at all, not a 0


def test_a_memory_limit_too_small_for_the_libraries_is_a_grader_error(tmp_path):
    done = run_cli(FUNCTIONAL, "--assignment", "hw7", "--memory-mb", "120", "--json", tmp_path / "r.json")
    assert done.returncode == 3, done.stderr
    assert "120 MB" in done.stderr and "raise --memory-mb" in done.stderr
    assert not (tmp_path / "r.json").exists()


def test_version_names_the_torch_build_and_the_sandbox():
    done = run_cli("--version")
    assert done.returncode == 0, done.stderr
    import torch

    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
    assert f"torch {torch.__version__} ({build})" in done.stdout
    assert "sandbox " in done.stdout and "address space" in done.stdout


@needs_bwrap
def test_bubblewrap_runs_a_grader_installed_in_a_virtualenv_under_tmp(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([str(python), "-m", "grader", FUNCTIONAL, "--assignment", "hw7", "--json", "-"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sandbox"]["isolation"] == "bwrap", report["sandbox"]["notes"]
    assert any(str(python) in n for n in report["sandbox"]["notes"])
    layers = [c for c in report["checks"] if c["id"].startswith("layers.")]  # the submission has layers only
    assert len(layers) >= 12 and all(c["status"] == "passed" for c in layers), layers


@needs_bwrap
def test_a_virtualenv_inside_a_hidden_folder_is_shown_again_but_nothing_else(tmp_path):
    """A grader checkout at /srv/x with its virtualenv in /srv/x/.venv: the checkout is hidden from
    the worker, the interpreter is not (so bubblewrap still works)."""
    checkout = Path("/var/tmp") / f"grader-hidden-{os.getpid()}"
    try:
        (checkout / "secret").mkdir(parents=True)
        (checkout / "secret" / "answers.txt").write_text("42")
        venv = checkout / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                       check=True)
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "peek.py").write_text(textwrap.dedent(f"""\
            import os
            def peek():
                return os.path.exists({str(checkout / 'secret' / 'answers.txt')!r})
            """))
        env = {"GRADER_WORKER_PYTHON": str(venv / "bin" / "python")}
        os.environ.update(env)
        try:
            with sb.Sandbox(tmp_path / "sub", hide=[checkout]) as box:
                assert box.isolation == "bwrap"
                box.request("import_module", {"path": "peek.py"})
                header, out = box.request("call", {"module": "peek", "function": "peek"})
                assert bool(out["out0"]) is False
        finally:
            del os.environ["GRADER_WORKER_PYTHON"]
    finally:
        subprocess.run(["rm", "-rf", str(checkout)])


def test_suspect_environment_reads_the_allocation_size():
    assert suspect_environment("MemoryError: Unable to allocate 13.7 MiB for an array") == pytest.approx(13.7)
    assert suspect_environment("OSError: libtorch_cpu.so: failed to map segment from shared object") == 0.0
    assert suspect_environment("ValueError: shapes (2,3) and (4,5) not aligned") is None


PLAN = Plan("env", layers=("affine", "relu", "convolution", "softmax"),
            networks=("two_layer_cnn", "two_layer_cnn_torch"),
            network_checks=("architecture", "logits", "gradient", "initial_loss"))


@pytest.mark.slow
def test_verdicts_do_not_depend_on_the_memory_setting(data_dir):
    """The sample's NumPy CNN and its torch twin, graded at the default limit and at four times it:
    the same verdicts, all passed (the CUDA-wheel failure showed as MemoryError at the default)."""
    verdicts = []
    for memory in (None, 4096):
        report = grade(SAMPLE, assignment=PLAN, data_dir=data_dir, seed=3,
                       limit_overrides={"memory_mb": memory} if memory else None)
        verdicts.append({c.id: c.status for c in report.checks})
    assert verdicts[0] == verdicts[1]
    assert set(verdicts[0].values()) == {"passed"}, verdicts[0]


FORGED = '''\
import numpy as np


class Relu:
    def forward(self, x):
        raise MemoryError("Unable to allocate 1.00 MiB for an array with shape (131072,) and data type float64")

    def backward(self, dout):
        return dout
'''


def test_a_forged_memory_error_is_replayed_and_then_charged_to_the_submission(tmp_path, monkeypatch):
    """A MemoryError far below the limit may be the grader's: it is replayed without student code
    (once per submission); when the replay succeeds, the failure is the submission's."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(FORGED)
    replays = []
    original = sb.Sandbox.recheck
    monkeypatch.setattr(sb.Sandbox, "recheck", lambda box, alloc_mb: (replays.append(alloc_mb), original(box, alloc_mb)))
    report = grade(sub, assignment=Plan("forged", layers=("relu",), networks=()), seed=1)
    forward = report.by_id()["layers.relu.forward"]
    assert forward.status == "error" and "MemoryError: Unable to allocate 1.00 MiB" in forward.message
    assert len(replays) == 1 and 1 < replays[0] < sb.Limits().memory_mb / 2


def test_a_probe_answered_by_another_interpreter_does_not_count():
    """As nobody, a virtualenv's python can fail to reach its base interpreter and a system
    Python answers instead: the fallback must notice, not grade with the wrong interpreter."""
    assert sb._run_probe([sys.executable, "-s", "-c", sb._IDENTIFY], sb._identity(sys.executable)) is None
    why = sb._run_probe(["/bin/echo", "someone else"], sb._identity(sys.executable))
    assert why and "another interpreter answered" in why
