"""Brief training checks.

``<net>.trajectory``: from the reference's initial weights, on the same seeded mini-batches,
the student's SGD follows the reference's loss trajectory and ends at the same weights.
``<net>.training``: from the student's own initialisation, one short epoch lowers the loss
and reaches a held-out accuracy not far below the reference's under the same budget.
Both are short by design: the whole PA2 budget for training is well under a minute.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from grader.checks.compare import TRAJECTORY_RTOL, fmt, rel_error
from grader.checks.networks import NetEvidence, _not_ready, reference_network, to_student
from grader.results import CheckResult, error, failed, passed, skipped
from grader.validate import InvalidOutput, validate_array


@dataclass(frozen=True)
class TrainingBudget:
    """How much brief training the checks do; the handout's learning rate and batch size."""

    lr: float = 0.1
    # Batches are smaller than the handout's 100 on purpose: a textbook im2col over a whole
    # batch of the PA2 CNN's second conv takes ~11 MB per image (forward and backward), and
    # worker plus grader must fit in 768 MB (batch 32: worker peak 625 MB; 16: 545 MB).
    # 32 x 16 images is one short epoch: what a minute affords for a textbook (6-D transpose)
    # im2col CNN here.
    batch_size: int = 16
    steps: int = 32            # own-training steps
    held_out: int = 300
    eval_batch: int = 20       # images per forward when measuring accuracy (textbook im2col: ~7 MB per image)
    trajectory_steps: int = 4
    trajectory_batch: int = 16
    #: The student's accuracy may be this much below the reference's (own init, same budget):
    #: after 32 small steps from the handout's 0.01 init, accuracies still vary by ~0.2 with the seed.
    accuracy_margin: float = 0.25


def _batches(x: np.ndarray, t: np.ndarray, steps: int, batch: int, seed: int):
    """Seeded mini-batches as (steps, batch, ...) arrays, identical for student and reference."""
    rng = np.random.default_rng([seed, 3])
    idx = rng.permutation(len(x))[: steps * batch].reshape(steps, batch)
    return x[idx], t[idx]


def reference_sgd(net, xb: np.ndarray, tb: np.ndarray, lr: float) -> np.ndarray:
    """Plain SGD on the given batches; the loss of each batch before its update."""
    losses = []
    for x, t in zip(xb, tb):
        grads = net.gradient(x, t)
        losses.append(net.last_layer.loss)  # gradient() ran the forward pass already
        for k in net.params:
            net.params[k] -= lr * grads[k]
    return np.array(losses)


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Training images/labels and held-out images/labels (hashed by identity for caching)."""

    x: np.ndarray
    t: np.ndarray
    x_valid: np.ndarray
    t_valid: np.ndarray


@functools.lru_cache(maxsize=32)
def _reference_own_training(factory: str, options_key: tuple, seed: int, steps: int, batch: int, lr: float,
                            data: TrainingData) -> tuple[float, float, float]:
    """(mean loss of the first 3 steps, of the last 3, held-out accuracy) of the reference."""
    from reference import networks as refnets

    x, t, xv, tv = data.x, data.t, data.x_valid, data.t_valid
    net = refnets.Network(getattr(refnets, factory)(**dict(options_key)), weight_init_std=0.01, seed=seed)
    xb, tb = _batches(x, t, steps, batch, seed)
    losses = reference_sgd(net, xb, tb, lr)
    return float(np.mean(losses[:3])), float(np.mean(losses[-3:])), float(net.accuracy(xv, tv))


def check_trajectory(session, ev: NetEvidence, seed: int, data: TrainingData | None, budget: TrainingBudget, timeout=None) -> CheckResult:
    """<net>.trajectory: same start, same batches, same learning rate -> same losses and weights."""
    from grader.session import CallFailure, describe_failure

    check_id = f"{ev.key}.trajectory"
    if (res := _not_ready(check_id, ev)) is not None:
        return res
    if data is None:
        return skipped(check_id, "skipped: MNIST not found (see --data-dir); this check trains on real images")
    xb, tb = _batches(data.x, data.t, budget.trajectory_steps, budget.trajectory_batch, seed + 1)
    net = reference_network(ev.spec, ev.options, seed, weight_init_std=0.01)
    start = to_student(ev, {k: v.copy() for k, v in net.params.items()})
    ref_losses = reference_sgd(net, xb, tb, budget.lr)
    try:
        ev.handle, _, _ = _new(session, ev, seed, timeout)
        session.call("net_set_params", {"handle": ev.handle}, start, timeout=timeout)
        _, out = session.call("net_train", {"handle": ev.handle, "lr": budget.lr}, {"x": xb, "t": tb}, timeout=timeout)
        losses = validate_array("losses", out.get("losses"), shape=ref_losses.shape)
        _, final = session.call("net_get_params", {"handle": ev.handle}, timeout=timeout)
        final = {s: validate_array(f"parameter {s}", final.get(s), shape=net.params[r].shape)
                 for s, r in zip(ev.param_names, net.params)}
    except CallFailure as exc:
        return error(check_id, describe_failure(exc))
    except InvalidOutput as exc:
        return failed(check_id, str(exc), diagnosis="invalid_output")
    loss_err = rel_error(losses, ref_losses)
    param_err = max(rel_error(final[s], net.params[r]) for s, r in zip(ev.param_names, net.params))
    figures = {"losses": losses.tolist(), "reference_losses": ref_losses.tolist(),
               "loss_rel_error": loss_err, "param_rel_error": param_err, "tolerance": TRAJECTORY_RTOL}
    if loss_err <= TRAJECTORY_RTOL and param_err <= TRAJECTORY_RTOL:
        return passed(check_id, f"{len(losses)} SGD steps follow the reference exactly "
                                f"(losses {', '.join(f'{v:.4f}' for v in losses)})", **figures)
    first_bad = int(np.argmax(np.abs(losses - ref_losses) > TRAJECTORY_RTOL * np.abs(ref_losses)))
    why = ("the first loss already differs, so the forward pass differs" if first_bad == 0 and loss_err > TRAJECTORY_RTOL
           else "the losses drift apart after the first update, so the gradient or the update step differs")
    return failed(check_id, f"from the reference's weights on the same batches, your training goes elsewhere: "
                            f"losses {', '.join(f'{v:.4f}' for v in losses)} vs the reference's "
                            f"{', '.join(f'{v:.4f}' for v in ref_losses)}; {why}", diagnosis="training", **figures)


def check_own_training(session, ev: NetEvidence, seed: int, data: TrainingData | None, budget: TrainingBudget, timeout=None) -> CheckResult:
    """<net>.training: the student's own network, from its own init, learns under a brief budget."""
    from grader.session import CallFailure, describe_failure

    check_id = f"{ev.key}.training"
    if (res := _not_ready(check_id, ev)) is not None:
        return res
    if data is None:
        return skipped(check_id, "skipped: MNIST not found (see --data-dir); this check trains on real images")
    xv, tv = data.x_valid, data.t_valid
    xb, tb = _batches(data.x, data.t, budget.steps, budget.batch_size, seed)
    try:
        ev.handle, _, _ = _new(session, ev, seed, timeout)
        _, out = session.call("net_train", {"handle": ev.handle, "lr": budget.lr}, {"x": xb, "t": tb}, timeout=timeout)
        losses = validate_array("losses", out.get("losses"), shape=(budget.steps,))
        logits = []
        for i in range(0, len(xv), budget.eval_batch):
            _, ev_out = session.call("net_eval", {"handle": ev.handle, "want": ["logits"]},
                                     {"x": xv[i:i + budget.eval_batch], "t": tv[i:i + budget.eval_batch]},
                                     timeout=timeout)
            logits.append(validate_array("logits", ev_out.get("logits"), shape=(len(xv[i:i + budget.eval_batch]), 10)))
        logits = np.concatenate(logits)
    except CallFailure as exc:
        return error(check_id, describe_failure(exc))
    except InvalidOutput as exc:
        return failed(check_id, str(exc), diagnosis="invalid_output")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == tv))
    ref_head, ref_tail, ref_accuracy = _reference_own_training(
        ev.spec.factory, tuple(sorted(ev.options.items())), seed, budget.steps, budget.batch_size, budget.lr, data)
    # Relative to the reference under the same budget: where the handout's init needs longer
    # than the budget to leave its plateau (an MLP at 0.01), the reference does not learn either.
    threshold = max(0.0, ref_accuracy - budget.accuracy_margin)
    head, tail = float(np.mean(losses[:3])), float(np.mean(losses[-3:]))
    figures = {"losses": losses.tolist(), "accuracy": accuracy, "reference_accuracy": ref_accuracy,
               "threshold": threshold, "steps": budget.steps, "batch_size": budget.batch_size, "lr": budget.lr}
    summary = (f"{budget.steps} SGD steps (lr {budget.lr}, batch {budget.batch_size}): loss {losses[0]:.3f} -> "
               f"{losses[-1]:.3f}, held-out accuracy {accuracy:.1%} (reference {ref_accuracy:.1%}, needed {threshold:.1%})")
    # The loss must fall by at least a quarter of what the reference's falls under the same
    # budget (a reference still on its plateau asks only that the loss does not rise).
    # 0.02: the noise of a 3-batch mean loss of 32 images each.
    loss_ok = head - tail >= 0.25 * max(ref_head - ref_tail, 0.0) - 0.02
    if loss_ok and accuracy >= threshold:
        return passed(check_id, summary, **figures)
    if not loss_ok:
        cause = ("the loss does not go down: with a correct gradient this means a too-large step or a bad "
                 "initialisation; check <net>.gradient and <net>.initial_loss")
    else:
        cause = "the loss goes down but accuracy stays low: training stalls (compare with <net>.trajectory)"
    return failed(check_id, f"{summary}; {cause}".replace("<net>", ev.key), diagnosis="training", **figures)


def _new(session, ev: NetEvidence, seed: int, timeout):
    from grader.checks.networks import new_network

    return new_network(session, ev.key, seed, timeout)
