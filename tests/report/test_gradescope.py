"""Gradescope results.json: follows the published specification (by its schema), hides hidden checks."""

import json

import jsonschema
import pytest

from grader.report import gradescope
from tests.report.sample_reports import HIDDEN_IDS, layers_only_report, sample_report


@pytest.mark.parametrize("make", [sample_report, layers_only_report])
def test_every_report_validates_against_the_specification_schema(make):
    data = json.loads(gradescope.dumps(make()))
    gradescope.validate(data)
    assert set(data) >= {"score", "execution_time", "output", "output_format", "visibility",
                         "stdout_visibility", "tests"}
    for test in data["tests"]:
        assert set(test) >= {"score", "max_score", "name", "number", "output", "output_format", "tags",
                             "visibility", "extra_data"}


@pytest.mark.parametrize("bad", [{"visibility": "students_only"}, {"output_format": "rtf"},
                                 {"tests": [{"score": 1, "status": "skipped"}]}, {"scor": 1}])
def test_the_schema_rejects_what_the_specification_does_not_allow(bad):
    data = {"score": 1.0, **bad}
    with pytest.raises(jsonschema.ValidationError):
        gradescope.validate(data)


def test_totals_include_extra_credit_and_hidden_points():
    report = sample_report()
    data = gradescope.results(report)
    assert data["score"] == pytest.approx(sum(c.score for c in report.checks))
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    cam = next(t for t in data["tests"] if t["name"].endswith("three_layer_cnn.cam"))
    assert "extra credit" in cam["tags"] and cam["name"].startswith("extra credit")
    assert data["extra_data"]["extra_max"] == 3 and data["extra_data"]["max_score"] == 13


def test_hidden_checks_are_one_test_with_a_gradescope_visibility_and_no_details():
    data = gradescope.results(sample_report())
    hidden = [t for t in data["tests"] if "hidden" in t["tags"]]
    assert len(hidden) == 1
    assert hidden[0]["name"] == "2 hidden checks, 1/3 points"
    assert hidden[0]["visibility"] in ("hidden", "after_due_date", "after_published")
    assert hidden[0]["status"] == "failed" and hidden[0]["max_score"] == 3
    text = json.dumps(data)
    assert not any(i in text for i in HIDDEN_IDS)


def test_statuses_and_numbers():
    tests = {t["name"]: t for t in gradescope.results(sample_report())["tests"]}
    assert tests["layers.convolution.backward"]["status"] == "failed"
    assert tests["layers.softmax.forward"]["status"] == "failed" and "error" in tests["layers.softmax.forward"]["tags"]
    assert "status" not in tests["layers.pooling.forward"]  # skipped: Gradescope goes by the score
    assert tests["layers.affine.forward"]["status"] == "passed"
    assert tests["layers.convolution.backward"]["output"].startswith("2/4 cases\n")
    assert [t["number"] for t in tests.values()][:3] == ["1.1", "2.1", "2.2"]


def test_failure_results_validate():
    gradescope.validate(gradescope.failure_results("no submission"))
