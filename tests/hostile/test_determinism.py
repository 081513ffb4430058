"""The same submission graded twice, or from another folder, gets the identical report: check
inputs come from a seed derived from the submission's content, training is seeded."""

import shutil

from grader.grade import grade
from grader.checks.training import TrainingBudget
from grader.plan import Plan
from tests.hostile.conftest import LIMITS

PLAN = Plan("determinism", layers=("convolution", "pooling"), networks=("two_layer_cnn",))
BUDGET = TrainingBudget(steps=6, held_out=100, trajectory_steps=2)  # every check, trained briefly


def fingerprint(report):
    return [(c.id, c.status, c.score, c.message, c.figures) for c in report.checks], report.seed


def test_grading_twice_gives_the_identical_report(tmp_path, data_dir, numpy_sample):
    first = grade(numpy_sample, assignment=PLAN, data_dir=data_dir, limits=LIMITS, budget=BUDGET)
    again = grade(numpy_sample, assignment=PLAN, data_dir=data_dir, limits=LIMITS, budget=BUDGET)
    elsewhere = shutil.copytree(numpy_sample, tmp_path / "elsewhere")
    moved = grade(elsewhere, assignment=PLAN, data_dir=data_dir, limits=LIMITS, budget=BUDGET)
    assert fingerprint(first) == fingerprint(again) == fingerprint(moved)
    # every check passes, the trajectory's training included; the two-layer CNN's own training cannot
    # be judged in an affordable budget, so it says so (the same way each time) instead of passing
    assert {c.id: c.status for c in first.checks if c.status != "passed"} == {"two_layer_cnn.training": "skipped"}
    assert "no affordable budget" in first.by_id()["two_layer_cnn.training"].message
    assert first.by_id()["two_layer_cnn.trajectory"].status == "passed"
