"""The own-training check, on an in-process network session: what crosses into the worker, and
that a network that never learns is not passed on a reference run that did not learn either."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import networks as net_checks
from grader.checks import training
from grader.checks.training import ReferenceRun, TrainingBudget, check_own_training
from grader.grade import load_training_data
from reference import networks as refnets

BUDGET = TrainingBudget()
OPTIONS = {"activation": "relu", "hidden": (100, 50)}


class NetSession:
    """The net_* ops over a reference MLP (``stub``: its gradient is all zeros); records every request."""

    def __init__(self, stub: bool = False):
        self.stub, self.requests, self.net = stub, [], None

    def call(self, op, header, arrays=None, timeout=None):
        arrays = arrays or {}
        self.requests.append((op, sorted(arrays)))
        if op == "net_new":
            self.net = refnets.Network(refnets.three_layer_nn(**OPTIONS), weight_init_std=0.01, seed=header["seed"])
            return {"handle": 1, "param_names": list(self.net.params)}, dict(self.net.params)
        if op == "net_eval":
            assert header["want"] == ["logits"]
            return {}, {"logits": self.net.predict(arrays["x"])}
        if op == "net_train":
            losses = []
            for x, t in zip(arrays["x"], arrays["t"]):
                grads = self.net.gradient(x, t)
                losses.append(self.net.last_layer.loss)
                for k in self.net.params:
                    self.net.params[k] -= header["lr"] * (0 * grads[k] if self.stub else grads[k])
            return {}, {"losses": np.array(losses)}
        raise AssertionError(f"unexpected op {op}")


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
