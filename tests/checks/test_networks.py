"""The network judges as pure functions, the two worker-side helpers (a fresh network, worker
failures as results), and the checks end to end on an in-process network session."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.checks import networks as nc
from grader.sandbox import StudentError, WorkerTimeout
from grader.validate import InvalidOutput
from tests.checks.fakes import NetSession

MLP = nc.NETWORKS["three_layer_nn"]
NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"]


def ready_evidence(key="three_layer_nn", options=None):
    return nc.NetEvidence(key, nc.NETWORKS[key], True, param_names=list(NAMES),
                          options=options or {"activation": "relu", "hidden": (100, 50)}, handle=1)


# ----------------------------------------------------------------------------- helpers

def test_attempt_turns_worker_failures_into_results():
    def raising(exc):
        def collect():
            raise exc
        return collect

    raised = nc.attempt("net.logits", raising(StudentError("ValueError", "shapes (4,50) and (100,10)")))
    assert raised.status == "error" and "your code raised ValueError: shapes" in raised.message
    hung = nc.attempt("net.logits", raising(WorkerTimeout("the call timed out after 30 s")))
    assert hung.status == "error" and "timed out" in hung.message
    garbage = nc.attempt("net.logits", raising(InvalidOutput("logits: contains NaN")))
    assert (garbage.status, garbage.diagnosis, garbage.message) == ("failed", "invalid_output", "logits: contains NaN")
    assert nc.attempt("net.logits", lambda: 42) == 42


def test_worker_passes_a_timeout_only_when_the_check_was_given_one():
    session = NetSession()
    nc.Worker(session).fresh_network("three_layer_nn", 3)
    nc.Worker(session, 7.5).fresh_network("three_layer_nn", 3)
    assert session.timeouts == [("net_new", None), ("net_new", 7.5)]


def test_a_fresh_network_gets_a_derived_seed_and_another_draw_on_retry():
    session = NetSession()
    worker = nc.Worker(session)
    _, names, params = worker.fresh_network("three_layer_nn", 3)
    worker.fresh_network("three_layer_nn", 3, tries=1)
    assert names == NAMES and set(params) == set(NAMES)
    assert session.seeds[0] == nc.worker_seed(3) != 3
    assert session.seeds[1] not in (session.seeds[0], 3)


def test_a_network_without_readable_params_is_invalid_output():
    class NoParams(NetSession):
        def call(self, op, header, arrays=None, timeout=None):
            return {"handle": 1, "param_names": ["W1"]}, {}

    with pytest.raises(InvalidOutput, match="params could not be read"):
        nc.Worker(NoParams()).fresh_network("three_layer_nn", 3)


def test_reference_network_is_built_one_way():
    net = nc.reference_network("three_layer_nn", {"hidden": (7, 5)}, 1, weight_init_std=0.0)
    assert [p.shape for p in net.params.values()] == [(784, 7), (7,), (7, 5), (5,), (5, 10), (10,)]
    assert not any(np.any(p) for p in net.params.values())


# ----------------------------------------------------------------------------- judges

def test_judge_architecture_matches_a_variant_and_says_what_was_expected():
    spec = nc.NETWORKS["two_layer_cnn"]
    tried = nc.reference_shapes(spec, [])
    pooled = tried[1][1]
    result, options = nc.judge_architecture("two_layer_cnn", spec, NAMES, pooled, tried)
    assert result.status == "passed" and options == {"pool": True}
    wrong = [(20, 1, 5, 5), (20,), (40, 20, 5, 5), (40,), (4000, 10), (10,)]
    result, options = nc.judge_architecture("two_layer_cnn", spec, NAMES, wrong, tried)
    assert options is None and result.status == "failed" and result.diagnosis == "architecture"
    assert "W2: (40, 20, 5, 5)" in result.message and "(40, 20, 10, 10)" in result.message
    assert "also accepted" in result.message


def logits_trial(transform, loss_shift=0.0):
    x, t = nc.probe_batch(1)
    net = nc.reference_network("three_layer_nn", {"activation": "relu", "hidden": (100, 50)}, 1)
    ref_logits, ref_loss = net.predict(x), float(net.loss(x, t))
    return nc.LogitsTrial({"activation": "relu"}, transform(ref_logits), ref_loss + loss_shift, ref_logits, ref_loss)


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("transform, loss_shift, status, diagnosis", [
    (lambda z: z, 0.0, "passed", None),
    (lambda z: z - np.log(np.exp(z).sum(1, keepdims=True)), 0.0, "passed", None),  # log-probabilities
    (softmax, 0.0, "failed", "returns_probabilities"),
    (lambda z: z, 0.1, "failed", "loss"),
    (lambda z: z * 1.01, 0.0, "failed", "forward"),
])
def test_judge_logits(transform, loss_shift, status, diagnosis):
    result = nc.judge_logits("three_layer_nn", [logits_trial(transform, loss_shift)])
    assert (result.status, result.diagnosis) == (status, diagnosis), result.message


def test_judge_logits_takes_the_best_trial_and_names_the_slope():
    right = logits_trial(lambda z: z)
    right.options = {"activation": "lrelu", "alpha": 0.3}
    result = nc.judge_logits("three_layer_nn_lrelu", [logits_trial(lambda z: z * 2), right])
    assert result.status == "passed" and "alpha = 0.3" in result.message


def test_judge_gradient_locates_the_broken_backward():
    ref = {n: np.full(3, i + 1.0) for i, n in enumerate(NAMES)}
    assert nc.judge_gradient("net", NAMES, dict(ref), ref).status == "passed"
    wrong = dict(ref, W1=ref["W1"] * 2, b1=ref["b1"] * 2)
    result = nc.judge_gradient("net", NAMES, wrong, ref)
    assert result.status == "failed" and result.diagnosis == "gradient"
    assert "differ from the reference for W1, b1" in result.message
    assert "error enters between W2 and b1" in result.message
    last = nc.judge_gradient("net", NAMES, dict(ref, b3=-ref["b3"]), ref)
    assert "Even the last layer's gradient is wrong" in last.message


def test_judge_gradcheck_uses_a_floor_for_zero_derivatives():
    ok = [("W1", 0.5, 0.5 + 1e-6), ("b1", 1e-9, 0.0)]
    assert nc.judge_gradcheck("net", ["W1", "b1"], ok).status == "passed"
    bad = nc.judge_gradcheck("net", ["W1", "b1"], [("W1", 0.5, 0.25), ("b1", 0.0, 0.0)])
    assert bad.status == "failed" and "for W1." in bad.message


@pytest.mark.parametrize("loss, status, words", [
    (math.log(10), "passed", "starts at loss 2.3026"),
    (2.5, "passed", ""),
    (9.0, "failed", "initial weights are too large"),
    (0.8, "failed", "cannot do better than chance"),
])
def test_judge_initial_loss(loss, status, words):
    result = nc.judge_initial_loss("net", loss)
    assert result.status == status and words in result.message


# ----------------------------------------------------------------------------- checks end to end

def test_the_checks_pass_a_correct_network_and_build_a_fresh_one_for_each():
    session = NetSession()
    arch, ev = nc.check_architecture(session, "three_layer_nn", 4)
    assert arch.status == "passed", arch.message
    results = [nc.check_logits(session, ev, 4), nc.check_gradient(session, ev, 4),
               nc.check_gradcheck(session, ev, 4), nc.check_initial_loss(session, ev, 4)]
    assert [r.status for r in results] == ["passed"] * 4, [r.message for r in results]
    assert sum(op == "net_new" for op, _ in session.requests) == 5
    assert {t for _, t in session.timeouts} == {None}  # the sandbox's default timeout


def test_the_checks_report_what_a_network_returning_probabilities_does():
    session = NetSession(softmax=True)
    _, ev = nc.check_architecture(session, "three_layer_nn", 4)
    assert nc.check_logits(session, ev, 4).diagnosis == "returns_probabilities"


def test_all_zero_weights_pass_the_gradient_and_the_initial_loss():
    """Why own training needs a check of its own: this network's numbers are all right."""
    session = NetSession(init=0.0)
    _, ev = nc.check_architecture(session, "three_layer_nn", 4)
    assert nc.check_gradient(session, ev, 4).status == "passed"
    initial = nc.check_initial_loss(session, ev, 4)
    assert initial.status == "passed" and initial.figures["loss"] == pytest.approx(math.log(10))


def test_far_too_large_weights_fail_the_initial_loss():
    session = NetSession(init=1.0)
    _, ev = nc.check_architecture(session, "three_layer_nn", 4)
    assert nc.check_initial_loss(session, ev, 4).diagnosis == "initial_loss"


def test_a_raising_network_is_an_error_and_later_checks_say_why():
    session = NetSession(fail={"net_new": StudentError("TypeError", "__init__() missing 1 argument")})
    arch, ev = nc.check_architecture(session, "three_layer_nn", 4)
    assert arch.status == "error" and "could not construct your network: your code raised TypeError" in arch.message
    later = nc.check_gradient(session, ev, 4)
    assert later.status == "skipped" and "could not construct" in later.message


def test_a_failing_eval_is_an_error_of_that_check_only():
    session = NetSession()
    _, ev = nc.check_architecture(session, "three_layer_nn", 4)
    session.fail = {"net_eval": StudentError("ValueError", "bad shape")}
    assert nc.check_gradient(session, ev, 4).status == "error"
    session.fail = {}
    assert nc.check_gradient(session, ev, 4).status == "passed"


def test_cross_entropy_is_ln10_for_equal_logits():
    assert nc.cross_entropy(np.zeros((5, 10)), np.arange(5)) == pytest.approx(math.log(10))
