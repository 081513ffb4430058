"""A PA1 submission with one ThreeLayerNN class and an ``act`` option grades both networks
(issue 15): the Leaky-ReLU network is built through the option and the report says so. Its PyTorch
twins (torch_mlp.py) are PA1's extra credit (issue 17): points beyond an unchanged maximum."""

import dataclasses
import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from grader.grade import grade
from grader.report import json_report, terminal
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


# ------------------------------------------------------------------ the PyTorch twins: extra credit

#: PA1 as shipped, less the own-training check (512 SGD steps per MLP, four MLPs): the trajectory
#: check trains every network in the worker already.
PA1 = get_plan("pa1")
PA1_BRIEF = dataclasses.replace(PA1, network_checks=tuple(k for k in PA1.network_checks if k != "training"))


def worth(plan, torch_twins: bool) -> float:
    """The rubric's points for the layers and NumPy networks (False) or for the torch twins (True)."""
    ids = [f"{n}.{k}" for n in plan.networks if n.endswith("_torch") == torch_twins for k in plan.network_checks]
    if not torch_twins:
        ids += [f"layers.{layer}.{k}" for layer in plan.layers for k in ("forward", "backward", "gradcheck")]
    return sum(plan.weight(i).points for i in ids)


def terminal_text(report) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    terminal.render(report, console)
    return console.file.getvalue()


@pytest.fixture(scope="module")
def with_twins(data_dir):
    return grade(SUBMISSION, assignment=PA1_BRIEF, data_dir=data_dir)


def test_the_torch_twins_earn_extra_credit_beyond_an_unchanged_maximum(with_twins):
    assert any(n.endswith("_torch") for n in PA1.networks) and worth(PA1_BRIEF, True) > 0
    twins = [c for c in with_twins.checks if c.id.split(".")[0].endswith("_torch")]
    assert {c.id.split(".")[0] for c in twins} == {"three_layer_nn_torch", "three_layer_nn_lrelu_torch"}
    assert all(c.status == "passed" and c.extra for c in twins), [(c.id, c.message) for c in twins if not c.ok]
    # the seed's twin uses alpha 0.3: found by the logits check, and the later checks compare at it
    assert "alpha = 0.3" in with_twins.by_id()["three_layer_nn_lrelu_torch.logits"].message
    assert with_twins.max_score == worth(PA1_BRIEF, False)
    assert with_twins.extra_max == with_twins.extra_score == worth(PA1_BRIEF, True)
    assert with_twins.score == with_twins.max_score + with_twins.extra_score
    assert (f"score {with_twins.score:g} / {with_twins.max_score:g} (extra credit {with_twins.extra_score:g} / "
            f"{with_twins.extra_max:g} included)") in terminal_text(with_twins)
    data = json_report.report_dict(with_twins)
    assert (data["score"], data["max_score"], data["extra_score"], data["extra_max"]) == (
        with_twins.score, with_twins.max_score, with_twins.extra_score, with_twins.extra_max)


def test_without_the_twins_pa1_keeps_its_full_marks(tmp_path, data_dir, with_twins):
    plain = tmp_path / "pa1"
    shutil.copytree(SUBMISSION, plain, ignore=shutil.ignore_patterns("torch_mlp.py"))
    report = grade(plain, assignment=PA1_BRIEF, data_dir=data_dir)
    missing = [c for c in report.checks if c.id.split(".")[0].endswith("_torch")]
    assert missing and all(c.status == "skipped" and c.extra and c.score == 0 for c in missing)
    assert all(c.message.startswith("not attempted (extra credit)") for c in missing)
    assert not [c.id for c in report.checks if c.status in ("failed", "error")]  # leaving them out fails nothing
    assert report.score == report.max_score == with_twins.max_score  # the twins cost nothing when absent
    assert report.extra_score == 0 and report.extra_max == worth(PA1_BRIEF, True)
