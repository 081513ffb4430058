"""The training checks, on an in-process network session (tests/checks/fakes.py): what crosses into
the worker, that a network that never learns is not passed on a reference run that did not learn
either, and the own-training and trajectory judges as pure functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.checks import networks as net_checks
from grader.checks import training
from grader.checks.training import ReferenceRun, TrainingBudget, check_own_training, check_trajectory
from grader.grade import load_training_data
from tests.checks.fakes import NetSession

BUDGET = TrainingBudget()
OPTIONS = {"activation": "relu", "hidden": (100, 50)}


@pytest.fixture(scope="module")
def data(data_dir):
    found, problem = load_training_data(data_dir, 11, BUDGET)
    assert problem is None, problem
    return found


def evidence():
    return net_checks.NetEvidence("three_layer_nn", net_checks.NETWORKS["three_layer_nn"], True,
                                  param_names=["W1", "b1", "W2", "b2", "W3", "b3"], options=OPTIONS, handle=1)


def test_only_images_cross_for_the_verdict_and_a_correct_network_passes(data):
    session = NetSession()
    result = check_own_training(session, evidence(), 11, data, BUDGET)
    assert result.status == "passed", result.message
    ops = {op for op, _ in session.requests}
    assert ops == {"net_new", "net_eval", "net_train"}
    assert all(names == ["x"] for op, names in session.requests if op == "net_eval")  # no labels
    assert all(names == ["t", "x"] for op, names in session.requests if op == "net_train")
    # the MLP's run is 16 x the budget, sent 32 steps at a time
    assert sum(op == "net_train" for op, _ in session.requests) == 16
    assert result.figures["loss_before"] - result.figures["loss_after"] > 0.5


def test_a_zero_gradient_fails_against_a_reference_that_learnt(data):
    result = check_own_training(NetSession(stub=True), evidence(), 11, data, BUDGET)
    assert result.status == "failed"
    assert "the loss does not go down" in result.message
    assert result.figures["loss_before"] == result.figures["loss_after"]


def test_a_reference_run_that_did_not_learn_is_replaced_by_one_that_did(data, monkeypatch):
    """The planted case: for the check's own seed the reference diverged (its loss rose)."""
    real = training._reference_run

    def diverging_for_seed_11(factory, options, seed, *rest):
        if seed == 11:
            return ReferenceRun(seed, 512, loss_before=2.30, loss_after=2.41, accuracy=0.09)
        return real(factory, options, seed, *rest)

    monkeypatch.setattr(training, "_reference_run", diverging_for_seed_11)
    stub = check_own_training(NetSession(stub=True), evidence(), 11, data, BUDGET)
    assert stub.status == "failed" and stub.figures["reference_runs"] == 2 and stub.figures["seed"] != 11
    assert stub.figures["reference_loss_before"] - stub.figures["reference_loss_after"] >= training.REFERENCE_MIN_DROP
    correct = check_own_training(NetSession(), evidence(), 11, data, BUDGET)
    assert correct.status == "passed", correct.message
    assert correct.figures["seed"] == stub.figures["seed"]  # the student trains on the batches of that run


def test_when_no_reference_run_learns_nothing_is_passed(data):
    """With a learning rate of 0 nothing can learn: the check says it cannot judge, it does not pass."""
    budget = TrainingBudget(lr=0.0)
    result = check_own_training(NetSession(stub=True), evidence(), 11, data, budget)
    assert result.status == "skipped"
    assert result.message.startswith("skipped, worth no points: in 512 steps the reference network itself did not "
                                     "learn for 3 seeds")
    assert result.figures["worth_points"] is False  # never a free pass, never a free fail
    assert "three_layer_nn.trajectory judges the training" in result.message


def test_the_seed_the_worker_gets_does_not_replay_the_graders_draws():
    assert net_checks.worker_seed(11) == net_checks.worker_seed(11)
    assert net_checks.worker_seed(11) not in (11, net_checks.worker_seed(12))


def test_cross_entropy_from_logits():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    assert training.cross_entropy(logits, np.array([0, 2])) == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2)


# ----------------------------------------------------------------------------- judges, pure

REF = ReferenceRun(5, 32, loss_before=2.303, loss_after=1.30, accuracy=0.60)


def student(loss_after, accuracy=0.55, loss_before=2.302, tries=0):
    return training.StudentRun(tries, loss_before, loss_after, accuracy, [2.3, 2.0])


def test_judge_passes_a_gain_of_a_fraction_of_the_references():
    needed = training.GAIN_FRACTION * (math.log(10) - REF.loss_after)
    ok = training.judge_own_training("net", [student(math.log(10) - needed - 0.01)], REF, 1, BUDGET)
    assert ok.status == "passed", ok.message
    short = training.judge_own_training("net", [student(math.log(10) - needed + 0.01)], REF, 1, BUDGET)
    assert short.status == "failed" and short.figures["needed_gain"] == pytest.approx(needed)


def test_judge_fails_all_zero_weights_that_only_learn_the_class_prior():
    result = training.judge_own_training("net", [student(2.300, 0.11), student(2.300, 0.11, tries=1)], REF, 1, BUDGET)
    assert result.status == "failed" and "the loss does not go down" in result.message
    assert "all-zero or equal weights" in result.message and result.figures["student_tries"] == 2


def test_judge_fails_far_too_large_weights_even_though_their_loss_falls():
    result = training.judge_own_training("net", [student(6.0, 0.5, loss_before=40.0)], REF, 1, BUDGET)
    assert result.status == "failed" and "initial weights are too large" in result.message


def test_judge_fails_a_low_accuracy_and_passes_the_draw_that_learnt():
    low = training.judge_own_training("net", [student(1.2, accuracy=0.2)], REF, 1, BUDGET)
    assert low.status == "failed" and "accuracy stays low" in low.message
    second = training.judge_own_training("net", [student(2.29), student(1.4, tries=1)], REF, 1, BUDGET)
    assert second.status == "passed" and "best of 2 draws of your init" in second.message


def test_judge_trajectory_says_where_the_runs_part():
    ref = np.array([2.30, 2.10, 1.90])
    params = {"W1": np.ones(3)}
    same = training.TrajectoryEvidence(ref.copy(), ref, dict(params), params)
    assert training.judge_trajectory("net", same).status == "passed"
    first = training.judge_trajectory("net", training.TrajectoryEvidence(ref + 0.1, ref, dict(params), params))
    assert first.status == "failed" and "the first loss already differs" in first.message
    later = training.TrajectoryEvidence(np.array([2.30, 2.2, 2.1]), ref, {"W1": np.ones(3) * 2}, params)
    assert "drift apart after the first update" in training.judge_trajectory("net", later).message


# ----------------------------------------------------------------------------- checks, in process

def test_networks_no_affordable_budget_can_judge_are_uninformative_at_once(data):
    for key in ("two_layer_cnn", "three_layer_cnn", "simple_convnet", "lenet"):
        ev = net_checks.NetEvidence(key, net_checks.NETWORKS[key], True, param_names=["W1"], options={}, handle=1)
        session = NetSession()
        result = check_own_training(session, ev, 11, data, BUDGET)
        assert result.status == "skipped" and result.figures["worth_points"] is False
        assert "no affordable budget" in result.message and session.requests == []


def test_all_zero_weights_fail_own_training_on_every_draw(data):
    session = NetSession(init=0.0)
    result = check_own_training(session, evidence(), 11, data, BUDGET)
    assert result.status == "failed", result.message
    assert result.figures["student_tries"] == training.STUDENT_TRIES
    assert len(set(session.seeds)) == training.STUDENT_TRIES  # each draw is another init seed
    assert max(result.figures["gains"]) < 0.05


def test_far_too_large_weights_fail_own_training(data):
    result = check_own_training(NetSession(init=1.0), evidence(), 11, data, BUDGET)
    assert result.status == "failed", result.message


def test_training_requests_get_the_train_timeout_and_the_rest_the_default(data):
    class Limits:
        call_timeout, train_timeout = 30.0, 120.0

    class Box:
        limits = Limits()

    session = NetSession()
    session.sandbox = Box()
    ev = evidence()
    check_trajectory(session, ev, 11, data, BUDGET)
    assert {op: t for op, t in session.timeouts} == {"net_new": None, "net_set_params": None,
                                                     "net_train": 120.0, "net_get_params": None}
    assert training.train_timeout(session, 5.0) == 5.0
