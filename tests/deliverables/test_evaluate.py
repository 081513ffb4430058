"""Which network runs the test set, and when: the reference stands in for a CNN whose logits check
passed (its pass starts in the background, right after that check), the student's own network runs
in the worker otherwise. A fake worker session answers the requests, so no sandbox is needed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from grader.checks.networks import NETWORKS, NetEvidence, reference_network
from grader.deliverables import checks as deliverable_checks
from grader.deliverables import evaluate
from grader.plan import Plan
from grader.results import passed, failed
from tests.deliverables import planting


class FakeSession:
    """The worker's side of the evaluation: a network of the reference's shapes holding ``params``
    once ``weights_load`` ran, ``net_logits_chunked`` computed with it; every op is recorded."""

    def __init__(self, params: dict, root):
        self.params, self.ops, self.loaded = params, [], False
        self.sandbox = SimpleNamespace(submission_dir=root)
        self.net = None

    def call(self, op, header, arrays=None, timeout=None):
        self.ops.append(op)
        if op == "net_new":
            self.loaded = False
            return {"handle": len(self.ops), "param_names": list(self.params)}, {n: 0 * v for n, v in self.params.items()}
        if op == "weights_load":
            self.loaded = True
            return {"format": "npz", "layout": "numpy", "family": "numpy"}, {}
        if op == "net_get_params":
            return {}, dict(self.params) if self.loaded else {n: 0 * v for n, v in self.params.items()}
        if op == "net_logits_chunked":
            assert self.loaded, "the student's network ran the test set without the handed-in weights"
            return {}, {"logits": self.net.predict(np.asarray(arrays["x"], dtype=np.float64))}
        raise AssertionError(f"unexpected op {op}")


def _evidence(key: str, net) -> NetEvidence:
    ev = NetEvidence(key, NETWORKS[key], True, param_names=list(net.params), options=dict(NETWORKS[key].options))
    ev.handle = 0
    return ev


def test_the_reference_stands_in_for_a_cnn_whose_logits_passed_and_runs_in_the_background():
    key = "two_layer_cnn"
    net = reference_network("two_layer_cnn", {}, seed=5)
    x = np.random.default_rng(0).uniform(0, 1, (40, 1, 28, 28)).astype(np.float32)
    session = FakeSession(dict(net.params), ".")
    started = evaluate.start(session, _evidence(key, net), "results/two_layer_cnn/weights.npz", x, 1, logits_passed=True)
    assert started.pending is not None and session.ops == ["net_new", "weights_load", "net_get_params"]
    done = evaluate.finish(session, _evidence(key, net), started, x, np.zeros(40, dtype=int), 1)
    assert done.problem is None and "reference network with your weights" in done.outputs.source
    assert "net_logits_chunked" not in session.ops                 # the worker never ran the test set
    np.testing.assert_allclose(done.outputs.logits, planting.logits_of(net, x), rtol=1e-4, atol=1e-4)


def test_the_students_own_network_runs_when_its_logits_failed_and_for_mlps():
    for key, factory, logits_passed in (("two_layer_cnn", "two_layer_cnn", False),
                                        ("three_layer_nn", "three_layer_nn", True)):
        net = reference_network(factory, dict(NETWORKS[key].options), seed=5)
        x = np.random.default_rng(0).uniform(0, 1, (30, 1, 28, 28))
        session = FakeSession(dict(net.params), ".")
        session.net = net
        ev = _evidence(key, net)
        started = evaluate.start(session, ev, "w.npz", x, 1, logits_passed=logits_passed)
        assert started.pending is None and session.ops == []        # nothing to start: the worker runs it later
        done = evaluate.finish(session, ev, started, x, np.zeros(30, dtype=int), 1)
        assert done.outputs.source == "your network", key
        assert session.ops[:2] == ["net_new", "weights_load"] and "net_logits_chunked" in session.ops
        np.testing.assert_allclose(done.outputs.logits, net.predict(x), rtol=1e-12)


def test_prepare_waits_for_the_logits_check_then_starts_once(tmp_path, monkeypatch):
    key = "two_layer_cnn"
    net = reference_network("two_layer_cnn", {}, seed=5)
    weights = tmp_path / "results" / key / "weights.npz"
    weights.parent.mkdir(parents=True)
    np.savez(weights, **net.params)
    x = np.zeros((10, 1, 28, 28), dtype=np.float32)
    monkeypatch.setattr(evaluate, "test_set", lambda data_dir: (x, np.zeros(10, dtype=int)))
    session = FakeSession(dict(net.params), tmp_path)
    plan = Plan(name="t", layers=(), networks=(key,), network_checks=("architecture", "logits", "gradient", "accuracy"),
                deliverables={})
    ctx = SimpleNamespace(session=session, key=key, evidence=_evidence(key, net), plan=plan, data_dir=None, seed=1,
                          timeout=None, earlier=[passed(f"{key}.architecture", "")], shared={})
    assert deliverable_checks.prepare(ctx) is False and session.ops == []   # logits has not run yet
    ctx.earlier.append(passed(f"{key}.logits", ""))
    assert deliverable_checks.prepare(ctx) is True
    started = ctx.shared["evaluation"]
    assert started.pending is not None and started.loaded is False          # later checks renew the network
    assert deliverable_checks.prepare(ctx) is True and session.ops.count("weights_load") == 1

    ctx.shared.clear()
    ctx.earlier[-1] = failed(f"{key}.logits", "wrong")
    deliverable_checks.prepare(ctx)
    assert ctx.shared["evaluation"].pending is None                          # the own network will run it
