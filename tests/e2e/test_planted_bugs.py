"""Each planted bug of tests/submissions/bugs.yaml, applied to a copy of the sample, fails
exactly the checks it should, with the diagnosis it should, and nothing else breaks."""

import shutil
from pathlib import Path

import pytest
import yaml

from grader.grade import grade
from grader.plan import Plan
from grader.report import json_report

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "submissions" / "sample"
BUGS = yaml.safe_load((ROOT / "tests" / "submissions" / "bugs.yaml").read_text())
#: Layers and the NumPy networks' gradients: what a planted layer bug can reach. No training,
#: so each variant grades in seconds.
PLAN = Plan("bugs", layers=("affine", "relu", "lrelu", "convolution", "pooling", "softmax"),
            networks=("three_layer_nn", "three_layer_nn_lrelu", "two_layer_cnn", "three_layer_cnn"),
            network_checks=("architecture", "gradient"))


def materialise(bug: dict, dest: Path) -> Path:
    shutil.copytree(SAMPLE, dest)
    target = dest / bug["file"]
    text = target.read_text()
    assert text.count(bug["old"]) == 1, f"{bug['name']}: snippet not found exactly once in {bug['file']}"
    target.write_text(text.replace(bug["old"], bug["new"]))
    return dest


@pytest.fixture(scope="module")
def clean_report(tmp_path_factory):
    return grade(materialise({"file": "common/layers.py", "old": "class Relu", "new": "class Relu"},
                             tmp_path_factory.mktemp("clean") / "sub"), assignment=PLAN, seed=5)


def test_the_sample_passes_every_check_of_the_bug_plan(clean_report):
    bad = {c.id: c.message for c in clean_report.checks if c.status != "passed"}
    assert bad == {}


@pytest.mark.parametrize("bug", BUGS, ids=[b["name"] for b in BUGS])
def test_planted_bug_is_caught_and_named(bug, tmp_path, clean_report):
    report = grade(materialise(bug, tmp_path / "sub"), assignment=PLAN, seed=5)
    status = {c.id: c.status for c in report.checks}
    for check_id in bug["expect_failed"]:
        assert status[check_id] in ("failed", "error"), (check_id, status[check_id])
    for check_id in bug.get("expect_error", []):
        assert status[check_id] == "error", check_id
    for check_id in bug.get("expect_passed", []):
        assert status[check_id] == "passed", check_id
    # The diagnosis is named on the layer's backward or forward check.
    layer_checks = [c for c in report.checks if c.id.startswith(f"layers.{bug['layer']}.")]
    assert bug["diagnosis"] in {c.diagnosis for c in layer_checks}, [(c.id, c.diagnosis) for c in layer_checks]
    # Nothing outside the bug's reach changed: every check that fails is one the bug explains.
    newly_broken = {i for i, s in status.items() if s != "passed"}
    reach = set(bug["expect_failed"]) | {f"layers.{bug['layer']}.{k}" for k in ("forward", "backward", "gradcheck")}
    reach |= {c for c in newly_broken if c.endswith(".gradient") or c.startswith("layers.pooling.")
              and bug["name"] == "no_stride_in_backward"}
    assert newly_broken <= reach, newly_broken - reach
    assert report.score < sum(c.max_score for c in report.checks)
    json_report.validate(json_report.report_dict(report))
