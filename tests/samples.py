"""Copies of ``submissions/sample`` for tests: whole, or only its NumPy part.

Importing torch costs a worker about 3 CPU-s, paid again at every restart. A test whose plan grades
no PyTorch network gains nothing from the sample's four torch files, so it grades the NumPy part:
the same layers and NumPy networks, graded about 3.5 s faster (issue 19, goal 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "submissions" / "sample"
#: The sample's files that import torch: its PyTorch twins and the scripts that train and write results.
TORCH_FILES = ("pa2/torch_networks.py", "pa2/make_results.py", "pa2/train_pa2.py", "pa2/write_results.py")


def copy_numpy_sample(dest: Path) -> Path:
    """The sample without its torch files (and without its results: no NumPy-only plan reads them)."""
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "results"))
    for rel in TORCH_FILES:
        (dest / rel).unlink()
    left = [str(p.relative_to(dest)) for p in dest.rglob("*.py") if "torch" in p.read_text()]
    assert not left, f"the sample's NumPy part still mentions torch in {left}: add them to TORCH_FILES"
    return dest


def needs_whole_sample(plan) -> bool:
    """Whether a plan grades a PyTorch network or a deliverable (which reads results/)."""
    from grader import deliverables
    from grader.checks.networks import NETWORKS

    return any(NETWORKS[n].torch for n in plan.networks) or bool(set(plan.network_checks) & set(deliverables.CHECKS))
