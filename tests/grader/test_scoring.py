"""Scoring (grader/scoring.py, Plan.score): per kind, per id, patterns and their precedence,
partial, extra and hidden credit, and the checks that are worth nothing."""

import pytest

from grader import scoring
from grader.plan import DEFAULT_POINTS, Plan
from grader.results import CheckResult, Report, failed, passed, skipped, uninformative
from grader.rubric import load_rubric
from grader.report.student_view import student_view
from grader.scoring import Rule

PLAN = Plan("t", layers=("convolution", "relu"), networks=("two_layer_cnn",), optional_layers=("pooling",))


def scored(plan, *results):
    return {c.id: c for c in plan.score(results)}


def test_per_kind_points_are_the_defaults_and_only_passed_checks_earn_them():
    out = scored(PLAN, passed("layers.relu.forward"), failed("two_layer_cnn.gradient", "wrong"),
                 passed("two_layer_cnn.gradient"[:-8] + "initial_loss"))
    assert (out["layers.relu.forward"].score, out["layers.relu.forward"].max_score) == (1.0, 1.0)
    assert (out["two_layer_cnn.gradient"].score, out["two_layer_cnn.gradient"].max_score) == (0.0, 2.0)
    assert out["two_layer_cnn.initial_loss"].score == DEFAULT_POINTS["initial_loss"] == 0.5


def test_load_integrity_optional_layers_and_uninformative_checks_are_worth_nothing():
    out = scored(PLAN, passed("load"), passed("integrity"), passed("layers.pooling.forward"),
                 uninformative("two_layer_cnn.training", "cannot judge"), skipped("two_layer_cnn.trajectory", "no data"))
    assert {i: (c.score, c.max_score) for i, c in out.items()} == {
        "load": (0, 0), "integrity": (0, 0), "layers.pooling.forward": (0, 0),
        "two_layer_cnn.training": (0, 0), "two_layer_cnn.trajectory": (0, 1.0)}


def test_inputs_are_not_changed():
    result = passed("layers.relu.forward")
    PLAN.score([result])
    assert result.score == 0 and result.max_score == 0


def test_exact_id_beats_pattern_beats_kind():
    rules = (Rule("layers.convolution.gradcheck", 3), Rule("layers.convolution.*", 2), Rule("gradcheck", 0.25))
    plan = Plan("t", layers=("convolution", "relu"), networks=("two_layer_cnn",), rules=rules)
    points = {i: plan.points_for(i) for i in ("layers.convolution.gradcheck", "layers.convolution.forward",
                                              "layers.relu.gradcheck", "two_layer_cnn.gradcheck", "layers.relu.forward")}
    assert points == {"layers.convolution.gradcheck": 3, "layers.convolution.forward": 2,
                      "layers.relu.gradcheck": 0.25, "two_layer_cnn.gradcheck": 0.25, "layers.relu.forward": 1}


def test_written_order_does_not_change_precedence_but_breaks_ties():
    specific_first = (Rule("layers.convolution.gradcheck", 3), Rule("layers.*.gradcheck", 5))
    assert scoring.weight("layers.convolution.gradcheck", DEFAULT_POINTS, specific_first).points == 3
    assert scoring.weight("layers.convolution.gradcheck", DEFAULT_POINTS, specific_first[::-1]).points == 3
    # two literal parts each: more literal characters wins ("convolution" > "gradcheck"), in either order
    longer = (Rule("layers.convolution.*", 2), Rule("layers.*.gradcheck", 4))
    assert scoring.weight("layers.convolution.gradcheck", DEFAULT_POINTS, longer).points == 2
    assert scoring.weight("layers.convolution.gradcheck", DEFAULT_POINTS, longer[::-1]).points == 2
    # equally specific ("softmax" and "forward": 7 letters each): the later one wins
    tie = (Rule("layers.softmax.*", 2), Rule("layers.*.forward", 4))
    assert scoring.weight("layers.softmax.forward", DEFAULT_POINTS, tie).points == 4
    assert scoring.weight("layers.softmax.forward", DEFAULT_POINTS, tie[::-1]).points == 2


def test_more_literal_text_is_more_specific_and_star_stays_inside_one_part():
    rules = (Rule("three_layer_cnn*.training", 4), Rule("*.training", 1))
    assert scoring.weight("three_layer_cnn_torch.training", DEFAULT_POINTS, rules).points == 4
    assert scoring.weight("lenet.training", DEFAULT_POINTS, rules).points == 1
    assert not Rule("*.gradcheck").matches("layers.relu.gradcheck")  # '*' is one part, not any text
    assert Rule("gradcheck").matches("layers.relu.gradcheck") and Rule("gradcheck").matches("lenet.gradcheck")
    assert not Rule("gradcheck").matches("load")


def test_fields_are_merged_most_specific_last():
    rules = (Rule("layers.*.*", hidden=True), Rule("layers.convolution.backward", 4))
    w = scoring.weight("layers.convolution.backward", DEFAULT_POINTS, rules)
    assert (w.points, w.hidden, w.partial, w.extra) == (4, True, False, False)
    w = scoring.weight("layers.relu.backward", DEFAULT_POINTS, rules)
    assert (w.points, w.hidden) == (1, True)


def test_partial_credit_is_in_proportion_to_the_cases_passed():
    plan = Plan("t", layers=("convolution",), networks=(), rules=(Rule("layers.convolution.*", 2, partial=True),))
    out = scored(plan, failed("layers.convolution.forward", "2 of 5 wrong", cases={"passed": 3, "total": 5}),
                 failed("layers.convolution.backward", "no cases figure"),
                 CheckResult("layers.convolution.gradcheck", "error", "raised", {"cases": {"passed": 4, "total": 5}}))
    assert out["layers.convolution.forward"].score == pytest.approx(1.2)
    assert out["layers.convolution.forward"].partial
    assert out["layers.convolution.backward"].score == 0  # no cases: all or nothing
    assert out["layers.convolution.gradcheck"].score == 0  # an error earns nothing
    without = scored(Plan("t", layers=("convolution",), networks=()),
                     failed("layers.convolution.forward", "x", cases={"passed": 3, "total": 5}))
    assert without["layers.convolution.forward"].score == 0


def test_extra_credit_counts_in_the_score_not_in_the_maximum():
    plan = Plan("t", layers=("relu",), networks=("two_layer_cnn_torch",),
                rules=(Rule("two_layer_cnn_torch.*", extra=True),))
    checks = plan.score([passed("layers.relu.forward"), failed("layers.relu.backward", "x"),
                         passed("two_layer_cnn_torch.architecture"), passed("two_layer_cnn_torch.gradient"),
                         failed("two_layer_cnn_torch.logits", "x")])
    report = Report("s", "r", checks, seed=0)
    assert (report.score, report.max_score, report.extra_score, report.extra_max) == (4.0, 2.0, 3.0, 4.0)
    data = report.to_dict()
    assert (data["score"], data["max_score"], data["extra_score"], data["extra_max"]) == (4.0, 2.0, 3.0, 4.0)


def test_extra_credit_left_out_is_not_attempted_not_failed():
    plan = Plan("t", layers=("relu",), networks=("two_layer_cnn", "two_layer_cnn_torch"),
                rules=(Rule("two_layer_cnn_torch.*", extra=True),))
    checks = scored(plan, failed("two_layer_cnn_torch.architecture", "no network found", diagnosis="missing"),
                    failed("two_layer_cnn_torch.logits", "wrong logits", diagnosis="forward"),
                    failed("two_layer_cnn.architecture", "no network found", diagnosis="missing"))
    absent = checks["two_layer_cnn_torch.architecture"]
    assert absent.status == "skipped" and absent.message.startswith("not attempted (extra credit): no network")
    assert (absent.score, absent.max_score) == (0.0, 1.0)
    assert checks["two_layer_cnn_torch.logits"].status == "failed"      # attempted and wrong: a failure
    assert checks["two_layer_cnn.architecture"].status == "failed"      # graded work left out: a failure


def test_hidden_checks_count_and_are_summarised_in_one_line():
    plan = Plan("t", layers=("relu",), networks=(), rules=(Rule("layers.relu.gradcheck", 3, hidden=True),))
    report = Report("s", "r", plan.score([passed("layers.relu.forward"), passed("layers.relu.gradcheck")]), seed=0)
    assert report.score == 4 and report.max_score == 4
    assert [c.id for c in report.visible_checks()] == ["layers.relu.forward"]
    assert student_view(report).hidden.line == "1 hidden check, 3/3 points"
    assert report.to_dict()["checks"][1]["hidden"] is True  # the instructor's JSON keeps everything


def test_a_rubric_gives_points_per_id_and_pattern_with_flags(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nlayers: [convolution, relu]\nnetworks: [two_layer_cnn]\npoints:\n"
                    "  gradient: 3\n"
                    "  backward: {partial: true}\n"
                    "  \"layers.convolution.*\": {points: 2, partial: true}\n"
                    "  layers.convolution.gradcheck: 4\n"
                    "  two_layer_cnn.training: {hidden: true}\n")
    plan = load_rubric(path)
    assert plan.points == {**DEFAULT_POINTS, "gradient": 3.0}
    assert [(r.pattern, r.line) for r in plan.rules] == [("backward", 6), ("layers.convolution.*", 7),
                                                          ("layers.convolution.gradcheck", 8),
                                                          ("two_layer_cnn.training", 9)]
    w = plan.weight
    assert (w("layers.convolution.gradcheck").points, w("layers.convolution.gradcheck").partial) == (4, True)
    assert (w("layers.convolution.forward").points, w("layers.relu.backward").partial) == (2, True)
    assert not w("layers.relu.forward").partial and w("two_layer_cnn.gradient").points == 3
    assert w("two_layer_cnn.training").hidden and w("two_layer_cnn.training").points == 1.5


@pytest.mark.parametrize("entry, line, message", [
    ("  layers.convolutoin.gradcheck: 2\n", 5,
     "'layers.convolutoin.gradcheck' matches no check of this rubric (did you mean 'layers.convolution.gradcheck'?)"),
    ("  lenet.*: 2\n", 5, "'lenet.*' matches no check of this rubric"),
    ("  gradiant: 2\n", 5, "unknown key 'gradiant' in points (did you mean 'gradient'?); the check kinds are: forward"),
    ("  gradient: {points: 2, partal: true}\n", 5,
     "unknown key 'partal' in points.gradient (did you mean 'partial'?); the fields of a points entry are: points"),
    ("  gradient: {partial: yes please}\n", 5, "'yes please' is text, but partial must be true or false"),
    ("  gradient: {}\n", 5, "the points entry for 'gradient' is empty"),
])
def test_a_wrong_points_entry_names_file_line_and_fix(tmp_path, entry, line, message):
    from grader.rubric import RubricError

    path = tmp_path / "r.yaml"
    path.write_text("name: r\nlayers: [convolution]\nnetworks: [two_layer_cnn]\npoints:\n" + entry)
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert str(info.value).startswith(f"{path}, line {line} "), str(info.value)
    assert message in str(info.value)


def test_a_plan_in_code_refuses_unknown_check_names():
    with pytest.raises(ValueError, match="unknown network check 'trajectroy'"):
        Plan("t", layers=(), networks=("lenet",), network_checks=("architecture", "trajectroy"))
    with pytest.raises(ValueError, match="unknown layer 'conv'"):
        Plan("t", layers=("conv",), networks=())
