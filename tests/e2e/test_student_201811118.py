"""The PA2 student of seed 001, reconstructed (submissions/201811118): partial credit, with the
cause of the stalled 3-layer CNN made visible rather than only deducted."""

from pathlib import Path

import pytest

from grader.grade import grade
from grader.report import json_report
from tests.report.formats import write_and_validate_every_format

STUDENT = Path(__file__).resolve().parents[2] / "submissions" / "201811118"


@pytest.fixture(scope="module")
def report(data_dir):
    return grade(STUDENT, data_dir=data_dir)


def test_partial_credit(report, tmp_path, data_dir):
    assert 0 < report.score - report.extra_score < report.max_score
    json_report.validate(json_report.report_dict(report))
    results = write_and_validate_every_format(report, tmp_path, data_dir)
    failed = [t for t in results["tests"] if t.get("status") == "failed"]
    assert [t["name"] for t in failed] == ["three_layer_cnn.accuracy"]


def test_the_two_layer_cnn_and_its_deliverables_pass(report):
    checks = report.by_id()
    for kind in ("architecture", "logits", "gradient", "gradcheck", "confusion_matrix", "top3", "loss_log",
                 "accuracy", "cam"):
        result = checks[f"two_layer_cnn.{kind}"]
        assert result.ok, (kind, result.message)
    assert checks["two_layer_cnn.confusion_matrix"].figures.get("model_source")  # against the handed-in weights


def test_the_stalled_three_layer_cnn_fails_accuracy_and_says_why(report):
    checks = report.by_id()
    assert checks["three_layer_cnn.gradient"].ok and checks["three_layer_cnn.gradcheck"].ok
    accuracy = checks["three_layer_cnn.accuracy"]
    assert accuracy.status == "failed" and accuracy.diagnosis == "low_accuracy"
    assert accuracy.figures["measured"] < 0.3 and accuracy.score == 0
    assert "your gradient is right" in accuracy.message and "He init" in accuracy.message
    # what it handed in is still its model's: consistent files earn their points
    assert checks["three_layer_cnn.confusion_matrix"].ok and checks["three_layer_cnn.top3"].ok
