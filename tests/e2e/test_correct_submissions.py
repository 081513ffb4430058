"""Correct submissions in each API family grade clean, end to end through the sandbox, and
every report they produce follows the documented JSON schema."""

import math
from pathlib import Path

import pytest

from grader.deliverables import CHECKS as DELIVERABLES
from grader.grade import grade
from grader.report import json_report
from tests.report.formats import write_and_validate_every_format

ROOT = Path(__file__).resolve().parents[2]
SUBS = ROOT / "tests" / "submissions"
NET_CHECKS = ("architecture", "logits", "gradient", "gradcheck", "initial_loss", "trajectory", "training")


def statuses(report):
    return {c.id: c.status for c in report.checks}


def is_deliverable(check_id):
    return check_id.rsplit(".", 1)[-1] in DELIVERABLES


def not_passed(report, prefix=""):
    """Code checks that did not pass (the fixtures other than the sample hand in no deliverables)."""
    return {c.id: c.message for c in report.checks
            if c.id.startswith(prefix) and c.status != "passed" and not is_deliverable(c.id)}


def uninformative(report, prefix=""):
    """Checks that said they cannot judge here (skipped, worth no points, and saying why)."""
    return {c.id for c in report.checks if c.id.startswith(prefix) and c.status == "skipped"
            and c.max_score == 0 and "worth no points" in c.message}


#: Own training cannot judge the PA2 CNNs in an affordable budget (README, "Own training").
UNJUDGED = {"two_layer_cnn.training", "three_layer_cnn.training", "two_layer_cnn_torch.training",
            "three_layer_cnn_torch.training"}


@pytest.fixture(scope="module")
def sample_report(data_dir):
    return grade(ROOT / "submissions" / "sample", data_dir=data_dir)


def test_sample_pa2_submission_gets_full_marks(sample_report):
    # at the handout's init the CNNs' references do not learn reliably in the budget: not judged
    unjudged = dict.fromkeys(UNJUDGED, "skipped")
    assert {c.id: c.status for c in sample_report.checks if c.status != "passed"} == unjudged
    for check_id in unjudged:  # a check that cannot fail is worth nothing, and says why
        assert sample_report.by_id()[check_id].max_score == 0
        assert "worth no points" in sample_report.by_id()[check_id].message
    assert sample_report.score == sample_report.max_score + sample_report.extra_max  # extra credit included
    assert sample_report.max_score > 0
    # every other check of every network of PA2 passed, the training ones included
    for net in ("two_layer_cnn", "three_layer_cnn", "two_layer_cnn_torch", "three_layer_cnn_torch", "three_layer_nn"):
        for check in NET_CHECKS:
            if f"{net}.{check}" not in unjudged:
                assert statuses(sample_report)[f"{net}.{check}"] == "passed"
    # and every deliverable, checked against the handed-in weights; the CAMs earn the extra credit
    for net in ("two_layer_cnn", "three_layer_cnn", "two_layer_cnn_torch", "three_layer_cnn_torch", "three_layer_nn"):
        for check in DELIVERABLES:
            if check == "cam" and net == "three_layer_nn":
                assert f"{net}.cam" not in statuses(sample_report)  # no feature maps, no CAM check
                continue
            result = sample_report.by_id()[f"{net}.{check}"]
            assert result.ok, result.message
            if check in ("confusion_matrix", "top3", "accuracy"):
                assert result.figures.get("model_source"), result.message  # judged against the model
    assert sample_report.extra_max > 0 and sample_report.extra_score == sample_report.extra_max
    assert sample_report.sandbox["restarts"] == 0


def test_sample_training_figures_are_reported(sample_report):
    training = sample_report.by_id()["three_layer_nn.training"].figures
    assert len(training["reported_losses"]) == training["steps"]
    assert training["loss_before"] > training["loss_after"]
    assert training["gain"] >= training["needed_gain"] > 0
    assert 0.0 <= training["accuracy"] <= 1.0
    assert math.isclose(sample_report.by_id()["two_layer_cnn.initial_loss"].figures["expected"], math.log(10))


def test_sample_report_follows_the_schema(sample_report):
    data = json_report.report_dict(sample_report)
    json_report.validate(data)
    assert data["score"] == sample_report.score


def test_sample_report_in_every_format(sample_report, tmp_path, data_dir):
    results = write_and_validate_every_format(sample_report, tmp_path, data_dir)
    # the figures a picture says more with are on the page: matrices, curves, top-3 grids, CAMs
    page = (tmp_path / "html" / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 15
    assert any("extra credit" in t.get("tags", []) for t in results["tests"])


def test_top_level_training_script_is_left_out(sample_report):
    train = next(f for f in sample_report.files if f["path"].endswith("train_pa2.py"))
    assert train["status"] == "ok" and train["dropped"], train


def test_cs231n_functional_layers_pass_through_the_adapter():
    report = grade(SUBS / "correct_functional", assignment="pa2")
    assert not_passed(report, "layers.") == {}
    assert statuses(report)["two_layer_cnn.architecture"] == "failed"  # no networks in it
    json_report.validate(json_report.report_dict(report))


def test_torch_only_submission_passes_the_torch_network_checks(data_dir):
    report = grade(SUBS / "correct_torch", data_dir=data_dir)
    for net in ("two_layer_cnn_torch", "three_layer_cnn_torch"):
        # every check passes, except one that cannot judge in this budget: that one is worth nothing
        unjudged = [c for c in report.checks if c.id.startswith(net + ".") and c.status != "passed"
                    and not is_deliverable(c.id)]
        assert all(c.status == "skipped" and c.max_score == 0 for c in unjudged), [c.message for c in unjudged]
        assert {c.id for c in unjudged} <= {f"{net}.training"}
    assert statuses(report)["layers.convolution.forward"] == "failed"  # no NumPy layers in it
    json_report.validate(json_report.report_dict(report))


def test_colab_notebook_is_imported_without_its_shell_drive_and_training_cells(data_dir):
    report = grade(SUBS / "notebook_colab", data_dir=data_dir)
    assert not_passed(report, "layers.") == {}
    assert set(not_passed(report, "two_layer_cnn.")) == uninformative(report, "two_layer_cnn.") == {"two_layer_cnn.training"}
    (nb,) = report.files
    assert nb["path"] == "PA2.ipynb" and nb["status"] == "ok"
    kinds = {d["kind"] for d in nb["dropped"]}
    assert {"shell", "magic", "colab"} <= kinds, kinds
    # it hands in no deliverables: each of their checks fails on its own, naming the file expected
    for check in DELIVERABLES:
        result = report.by_id()[f"two_layer_cnn.{check}"]
        assert result.status == "failed" and result.diagnosis == "missing_file", result.message
        assert "results/two_layer_cnn" in result.message or "results/cam" in result.message
    # its `import matplotlib.pyplot` loads the real package (a grader dependency since the HTML report)
    assert not any("matplotlib" in w for w in report.warnings)


def test_missing_data_skips_only_the_training_checks(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr("reference.data.BUILTIN_DIR", tmp_path / "not-installed")
    report = grade(SUBS / "notebook_colab", data_dir=None)
    s = statuses(report)
    assert s["two_layer_cnn.training"] == "skipped" and s["two_layer_cnn.trajectory"] == "skipped"
    assert s["two_layer_cnn.gradient"] == "passed" and s["layers.convolution.backward"] == "passed"
    assert any("MNIST was not found" in w and "--data-dir" in w for w in report.warnings)
    assert report.data == ""


def test_with_no_data_configured_the_built_in_subset_grades_everything(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    report = grade(SUBS / "notebook_colab", data_dir=None)
    assert set(not_passed(report, "two_layer_cnn.")) == uninformative(report, "two_layer_cnn.") == {"two_layer_cnn.training"}
    assert report.by_id()["two_layer_cnn.trajectory"].status == "passed"
    assert "built-in subset" in report.data
    assert not [w for w in report.warnings if "MNIST" in w or "training checks" in w]
