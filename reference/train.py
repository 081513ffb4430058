"""Plain mini-batch SGD, as the handout trains: lr 0.1, batch 100, a few epochs.

The history has one entry before training and one after each epoch (the seeds log the loss
before training as entry 0, so 3 epochs give 4 values).
"""

from __future__ import annotations

import time

import numpy as np


def batches(n, batch_size=100, epochs=1, seed=0):
    """Yield the index arrays of each mini-batch, epoch after epoch.

    Each epoch is a fresh permutation of ``range(n)`` from one ``np.random.default_rng(seed)``,
    cut into ``ceil(n / batch_size)`` batches (the last one may be smaller). The same
    arguments always give the same batches, so another process can replay a run exactly.
    """
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def evaluate(net, x, t, batch_size=500):
    """(mean cross-entropy, accuracy) of ``net`` on (x, t), a batch at a time to bound memory.

    Both come from one ``predict`` per batch; the loss is the log-softmax cross-entropy that
    ``net.loss`` computes. Labels are class indices or one-hot rows.
    """
    t = np.asarray(t)
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = np.asarray(net.predict(x[start:start + batch_size]), dtype=np.float64)
        tb = t[start:start + batch_size]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        if tb.ndim == 1:
            total_loss -= log_p[np.arange(len(tb)), tb].sum()
            labels = tb
        else:
            total_loss -= (tb * log_p).sum()
            labels = tb.argmax(axis=1)
        correct += int((logits.argmax(axis=1) == labels).sum())
    return total_loss / len(x), correct / len(x)


def sgd_train(net, x_train, t_train, x_valid, t_valid, lr=0.1, batch_size=100, epochs=3, seed=0,
              on_epoch=None, eval_batch_size=500, train_eval_size=None):
    """Train ``net`` in place with plain SGD; return its per-epoch history.

    Each step: ``grads = net.gradient(x, t)`` then ``net.params[k] -= lr * grads[k]`` in
    place (the layers hold references to these arrays). Mini-batches come from
    :func:`batches`. Returns ``{"train_loss", "valid_loss", "train_acc", "valid_acc"}`` lists of
    ``epochs + 1`` values (entry 0 before training) and ``"seconds"``, the wall time.
    ``on_epoch(epoch, history)`` is called after each entry is recorded (epoch 0 included).
    ``train_eval_size`` limits the training-set evaluation to the first that many training
    images (a forward pass over a large training set can cost as much as the epoch itself).
    """
    if len(x_train) == 0 or len(x_valid) == 0:
        raise ValueError("sgd_train needs at least one training and one validation sample")
    started = time.perf_counter()
    history = {"train_loss": [], "valid_loss": [], "train_acc": [], "valid_acc": []}

    def record(epoch):
        train_loss, train_acc = evaluate(net, x_train[:train_eval_size], t_train[:train_eval_size],
                                         eval_batch_size)
        valid_loss, valid_acc = evaluate(net, x_valid, t_valid, eval_batch_size)
        history["train_loss"].append(float(train_loss))
        history["valid_loss"].append(float(valid_loss))
        history["train_acc"].append(float(train_acc))
        history["valid_acc"].append(float(valid_acc))
        if on_epoch is not None:
            on_epoch(epoch, history)

    record(0)
    steps_per_epoch = -(-len(x_train) // batch_size)
    for step, idx in enumerate(batches(len(x_train), batch_size, epochs, seed), 1):
        grads = net.gradient(x_train[idx], t_train[idx])
        for key, value in net.params.items():
            value -= lr * grads[key]
        if step % steps_per_epoch == 0:
            record(step // steps_per_epoch)
    history["seconds"] = time.perf_counter() - started
    return history
