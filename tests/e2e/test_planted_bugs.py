"""Each planted bug of tests/submissions/bugs.yaml, applied to a copy of the sample (or of the bug's
`submission`), fails exactly the checks it should, with the diagnosis it should, and nothing else breaks."""

import shutil
from pathlib import Path

import pytest
import yaml

from grader.grade import grade
from grader.plan import Plan
from grader.report import json_report
from tests.report.formats import write_and_validate_every_format
from tests.samples import SAMPLE, copy_numpy_sample, needs_whole_sample

ROOT = Path(__file__).resolve().parents[2]
BUGS = yaml.safe_load((ROOT / "tests" / "submissions" / "bugs.yaml").read_text())
#: Layers and the NumPy networks' gradients: what a planted layer bug can reach. No training,
#: so each variant grades in seconds.
PLAN = Plan("bugs", layers=("affine", "relu", "lrelu", "convolution", "pooling", "softmax"),
            networks=("three_layer_nn", "three_layer_nn_lrelu", "two_layer_cnn", "three_layer_cnn"),
            network_checks=("architecture", "gradient"))


def materialise(bug: dict, dest: Path) -> Path:
    """The bug's submission (default: the sample, only its NumPy part when the bug's plan grades no
    torch network) with the bug's one edit."""
    if "submission" in bug:
        shutil.copytree(ROOT / bug["submission"], dest)
    elif needs_whole_sample(plan_for(bug)):
        shutil.copytree(SAMPLE, dest)
    else:
        copy_numpy_sample(dest)
    target = dest / bug["file"]
    text = target.read_text()
    assert text.count(bug["old"]) == 1, f"{bug['name']}: snippet not found exactly once in {bug['file']}"
    target.write_text(text.replace(bug["old"], bug["new"]))
    return dest


#: Check kinds of the shipped rubrics; each must be failed by some planted bug.
SHIPPED = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "rubrics").glob("*.yaml"))]


def plan_for(bug: dict) -> Plan:
    """The bug's own plan (a few checks of one network, no layers) or the layer-and-gradient plan."""
    if "plan" not in bug:
        return PLAN
    return Plan(f"bugs-{bug['name']}", layers=(), networks=tuple(bug["plan"]["networks"]),
                network_checks=tuple(bug["plan"]["network_checks"]))


def kind(check_id: str) -> str:
    """`layers.backward` for layers.affine.backward, `network.training` for three_layer_nn.training."""
    parts = check_id.split(".")
    return f"{'layers' if parts[0] == 'layers' else 'network'}.{parts[-1]}"


#: Deliverable kinds fail on planted files, not planted code: the test in tests/deliverables that plants
#: a wrong file for each (a forged matrix, a top-3 that is not the top, a log typed by hand, a reported
#: accuracy that is not the model's, a CAM from the wrong layer).
PLANTED_FILES = {"confusion_matrix": "test_forged_matrix_with_the_right_row_sums_is_not_the_model",
                 "top3": "test_top3_that_is_not_the_top_fails", "loss_log": "test_loss_log_typed_by_hand_fails",
                 "accuracy": "test_reported_accuracy_must_be_the_models",
                 "cam": "test_cam_from_the_last_conv_layer_passes_and_from_another_fails"}


def test_every_check_kind_of_the_shipped_rubrics_has_a_bug_that_fails_it():
    kinds = {f"layers.{k}" for r in SHIPPED for k in ("forward", "backward", "gradcheck") if r.get("layers")}
    kinds |= {f"network.{k}" for r in SHIPPED if r.get("networks") for k in r.get("network_checks", [])}
    caught = {kind(c) for bug in BUGS for c in bug["expect_failed"]}
    planted = (Path(__file__).resolve().parents[1] / "deliverables" / "test_deliverables.py").read_text()
    caught |= {f"network.{k}" for k, test in PLANTED_FILES.items() if f"def {test}(" in planted}
    assert kinds - caught == set()
    assert {"zero_init_weights", "large_init_weights"} <= {b["name"] for b in BUGS
                                                           if "three_layer_nn.training" in b["expect_failed"]}


@pytest.fixture(scope="module")
def clean_report(tmp_path_factory):
    return grade(materialise({"file": "common/layers.py", "old": "class Relu", "new": "class Relu"},
                             tmp_path_factory.mktemp("clean") / "sub"), assignment=PLAN, seed=5)


def test_the_sample_passes_every_check_of_the_bug_plan(clean_report):
    bad = {c.id: c.message for c in clean_report.checks if c.status != "passed"}
    assert bad == {}


@pytest.mark.parametrize("bug", BUGS, ids=[b["name"] for b in BUGS])
def test_planted_bug_is_caught_and_named(bug, tmp_path, clean_report):
    report = grade(materialise(bug, tmp_path / "sub"), assignment=plan_for(bug), seed=5)
    write_and_validate_every_format(report, tmp_path / "reports")  # every format holds a failing report too
    status = {c.id: c.status for c in report.checks}
    for check_id in bug["expect_failed"]:
        assert status[check_id] in ("failed", "error"), (check_id, status[check_id])
    for check_id in bug.get("expect_error", []):
        assert status[check_id] == "error", check_id
    for check_id in bug.get("expect_passed", []):
        assert status[check_id] == "passed", check_id
    # The diagnosis is named on the layer's backward or forward check (a network bug: on a network check).
    if bug["layer"] == "network":
        named = [c for c in report.checks if not c.id.startswith("layers.") and c.id not in ("load", "integrity")]
    else:
        named = [c for c in report.checks if c.id.startswith(f"layers.{bug['layer']}.")]
    assert bug["diagnosis"] in {c.diagnosis for c in named}, [(c.id, c.diagnosis) for c in named]
    # Nothing outside the bug's reach changed: every check that fails is one the bug explains.
    newly_broken = {i for i, s in status.items() if s != "passed"}
    reach = set(bug["expect_failed"]) | {f"layers.{bug['layer']}.{k}" for k in ("forward", "backward", "gradcheck")}
    reach |= {c for c in newly_broken if c.endswith(".gradient") or c.startswith("layers.pooling.")
              and bug["name"] == "no_stride_in_backward"}
    assert newly_broken <= reach, newly_broken - reach
    assert report.score < sum(c.max_score for c in report.checks)
    json_report.validate(json_report.report_dict(report))
