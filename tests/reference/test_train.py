"""reference/train.py: seeded mini-batches and the SGD trainer's history."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference import data
from reference.train import batches, evaluate, sgd_train


class SoftmaxRegression:
    """A stand-in with the reference Network's API: one affine layer and softmax cross-entropy.

    Like the reference layers, ``self.W``/``self.b`` are references to the arrays in
    ``params``, so the model only learns if the trainer updates those arrays in place.
    """

    def __init__(self, n_in, n_classes, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W1": 0.01 * rng.standard_normal((n_in, n_classes)), "b1": np.zeros(n_classes)}
        self.W, self.b = self.params["W1"], self.params["b1"]

    def predict(self, x):
        return x.reshape(len(x), -1) @ self.W + self.b

    def _probs(self, x):
        z = self.predict(x)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(self, x, t):
        return float(-np.log(self._probs(x)[np.arange(len(t)), t]).mean())

    def gradient(self, x, t):
        dz = self._probs(x)
        dz[np.arange(len(t)), t] -= 1
        dz /= len(t)
        return {"W1": x.reshape(len(x), -1).T @ dz, "b1": dz.sum(axis=0)}

    def accuracy(self, x, t):
        return float((self.predict(x).argmax(axis=1) == t).mean())


@pytest.fixture
def tiny(tiny_idx_dataset):
    """The generated 8x8, 3-class dataset as the trainer sees it."""
    x, t = data.load_dataset(tiny_idx_dataset.dir, "train")
    xv, tv = data.load_dataset(tiny_idx_dataset.dir, "test")
    return x, t, xv, tv


def without_time(history):
    return {k: v for k, v in history.items() if k != "seconds"}


# --------------------------------------------------------------------------- batches

def test_batches_cover_every_sample_once_per_epoch():
    got = list(batches(10, batch_size=4, epochs=2, seed=1))
    assert [len(b) for b in got] == [4, 4, 2, 4, 4, 2]
    for epoch in (got[:3], got[3:]):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(got[:3]), np.concatenate(got[3:]))


def test_batches_are_reproducible():
    first = list(batches(50, 7, 3, seed=5))
    again = list(batches(50, 7, 3, seed=5))
    other = list(batches(50, 7, 3, seed=6))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


# --------------------------------------------------------------------------- the trainer

def test_history_has_an_entry_before_training_and_one_per_epoch(tiny):
    x, t, xv, tv = tiny
    seen = []
    history = sgd_train(SoftmaxRegression(64, 3), x, t, xv, tv, lr=0.5, batch_size=8, epochs=3,
                        on_epoch=lambda epoch, h: seen.append((epoch, len(h["train_loss"]))))
    for key in ("train_loss", "valid_loss", "train_acc", "valid_acc"):
        assert len(history[key]) == 4 and all(math.isfinite(v) for v in history[key])
    assert seen == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert history["seconds"] > 0
    # a fresh 3-class model starts near ln(3)
    assert abs(history["train_loss"][0] - math.log(3)) < 0.05


def test_loss_decreases_on_a_separable_problem(tiny):
    x, t, xv, tv = tiny
    history = sgd_train(SoftmaxRegression(64, 3), x, t, xv, tv, lr=0.5, batch_size=5, epochs=5)
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["valid_loss"][-1] < history["valid_loss"][0]
    assert history["train_acc"][-1] == 1.0 and history["valid_acc"][-1] >= 0.9


def test_same_seed_same_history_other_seed_other_history(tiny):
    x, t, xv, tv = tiny
    run = lambda seed: sgd_train(SoftmaxRegression(64, 3), x, t, xv, tv, lr=0.5, batch_size=7, epochs=2, seed=seed)
    assert without_time(run(0)) == without_time(run(0))
    assert without_time(run(0)) != without_time(run(1))


def test_parameters_are_updated_in_place(tiny):
    x, t, xv, tv = tiny
    net = SoftmaxRegression(64, 3)
    W, W0 = net.params["W1"], net.params["W1"].copy()
    sgd_train(net, x, t, xv, tv, epochs=1, batch_size=10)
    assert net.params["W1"] is W and net.W is W
    assert not np.array_equal(W, W0)


def test_training_replays_from_the_batches(tiny):
    x, t, xv, tv = tiny
    trained = SoftmaxRegression(64, 3)
    sgd_train(trained, x, t, xv, tv, lr=0.3, batch_size=6, epochs=2, seed=4)
    replayed = SoftmaxRegression(64, 3)
    for idx in batches(len(x), 6, 2, seed=4):
        grads = replayed.gradient(x[idx], t[idx])
        for k in replayed.params:
            replayed.params[k] -= 0.3 * grads[k]
    for k in trained.params:
        np.testing.assert_array_equal(trained.params[k], replayed.params[k])


def test_evaluate_matches_the_model_and_accepts_one_hot(tiny):
    x, t, _, _ = tiny
    net = SoftmaxRegression(64, 3, seed=2)
    loss, acc = evaluate(net, x, t, batch_size=7)
    assert loss == pytest.approx(net.loss(x, t), rel=1e-12)
    assert acc == pytest.approx(net.accuracy(x, t))
    assert evaluate(net, x, np.eye(3)[t], batch_size=4) == pytest.approx((loss, acc), rel=1e-12)


# --------------------------------------------------------------------------- the real network

@pytest.mark.slow
def test_two_layer_cnn_learns_in_one_brief_epoch(data_dir):
    """Issue requirement: the reference TwoLayerCNN (weight_init_std 0.01), one epoch at lr 0.1,
    batch 100 on 5000 stratified training images, is clearly better than chance (0.1) on 1000
    held-out test images. Measured on mnist-ci: 0.874 (loss 2.302 -> 0.429); 0.7 leaves room for
    BLAS rounding while a wrong backward or a stalled network (the seeds' ~27%) fails."""
    networks = pytest.importorskip("reference.networks")
    train_idx = data.stratified_subset(data.load_labels("train", data_dir), 5000, seed=0)
    test_idx = data.stratified_subset(data.load_labels("test", data_dir), 1000, seed=0)
    x, t = data.load_mnist("train", data_dir, indices=train_idx)
    xv, tv = data.load_mnist("test", data_dir, indices=test_idx)
    net = networks.build("two_layer_cnn", weight_init_std=0.01, seed=0)
    history = sgd_train(net, x, t, xv, tv, lr=0.1, batch_size=100, epochs=1, seed=0, train_eval_size=1000)
    assert abs(history["valid_loss"][0] - math.log(10)) < 0.01
    assert history["valid_loss"][1] < 0.8
    assert history["valid_acc"][1] > 0.7, history  # how long it takes: benchmarks/, not a test
