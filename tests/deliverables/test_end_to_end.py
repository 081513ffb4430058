"""One sandboxed grading of a small submission (the MLP only) with its weights and deliverables:
the model is evaluated in the worker, and a forged confusion matrix fails exactly its own check."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from grader.grade import grade
from grader.deliverables import CHECKS
from grader.plan import Plan
from reference import data as mnist

from tests.deliverables import planting

SAMPLE = Path(__file__).resolve().parents[2] / "submissions" / "sample"
KEY = "three_layer_nn"


def test_mlp_deliverables_are_checked_against_the_model_and_a_forged_matrix_fails_alone(tmp_path, data_dir):
    sub = tmp_path / "sub"
    shutil.copytree(SAMPLE / "common", sub / "common")
    (sub / "pa2").mkdir()
    shutil.copy(SAMPLE / "pa2" / "networks.py", sub / "pa2" / "networks.py")
    x, t = mnist.load_mnist("test", data_dir=data_dir, dtype=np.float32)
    written = planting.plant(sub, KEY, planting.seeded_network(KEY), x, t)
    forged = written["matrix"].copy()
    r = int(forged.max(axis=1).argmax())            # the row with the largest cell
    c = int(forged[r].argmax())
    forged[r, c] -= 5
    forged[r, (c + 1) % 10] += 5                     # row sums unchanged: consistent, but not the model's
    np.savetxt(sub / "results" / KEY / "confusion.csv", forged, fmt="%d", delimiter=",")

    plan = Plan(name="deliverables-e2e", layers=(), networks=(KEY,), network_checks=("architecture", "logits", *CHECKS),
                deliverables={})
    report = grade(sub, assignment=plan, data_dir=data_dir)
    results = {r.id: r for r in report.checks}
    assert results[f"{KEY}.architecture"].ok and results[f"{KEY}.logits"].ok
    failing = sorted(i for i, r in results.items() if not r.ok)
    assert failing == [f"{KEY}.confusion_matrix"], {i: results[i].message for i in failing}
    cm = results[f"{KEY}.confusion_matrix"]
    assert cm.diagnosis == "not_the_model"
    assert cm.figures["model_matrix"] == written["matrix"].tolist()   # the handed-in weights ran in the worker
    for kind in ("top3", "loss_log", "accuracy"):
        res = results[f"{KEY}.{kind}"]
        assert res.figures["model_source"] == "your network", (kind, res.message)
    assert results[f"{KEY}.accuracy"].figures["measured"] == written["accuracy"]
