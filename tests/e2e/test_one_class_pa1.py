"""A PA1 submission with one ThreeLayerNN class and an ``act`` option grades both networks
(issue 15): the Leaky-ReLU network is built through the option and the report says so."""

import dataclasses
from pathlib import Path

from grader.grade import grade
from grader.rubric import get_plan

SUBMISSION = Path(__file__).resolve().parents[1] / "submissions" / "pa1_one_class"
# the network checks that need no MNIST: what is under test is how the network is built
PLAN = dataclasses.replace(get_plan("pa1"), layers=("lrelu",), optional_layers=(),
                           network_checks=("architecture", "logits", "gradient"))


def test_one_class_with_an_activation_option_grades_both_networks():
    report = grade(SUBMISSION, assignment=PLAN)
    checks = report.by_id()
    wanted = [f"{net}.{kind}" for net in ("three_layer_nn", "three_layer_nn_lrelu")
              for kind in ("architecture", "logits", "gradient")] + ["layers.lrelu.forward"]
    # logits passing means the network built is leaky: a ReLU one differs from every reference slope
    assert {i: checks[i].status for i in wanted} == {i: "passed" for i in wanted}, \
        {i: checks[i].message for i in wanted}
    assert "built as ThreeLayerNN(act='leaky_relu')" in checks["three_layer_nn_lrelu.architecture"].message
    assert "built as" not in checks["three_layer_nn.architecture"].message
    assert any("three_layer_nn_lrelu: the submission has no Leaky-ReLU network class; built as "
               "ThreeLayerNN(act='leaky_relu')" in w for w in report.warnings)
