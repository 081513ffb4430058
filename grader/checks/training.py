"""Brief training checks.

``<net>.trajectory``: from the reference's initial weights, on the same seeded mini-batches,
the student's SGD follows the reference's loss trajectory and ends at the same weights.
``<net>.training``: from the student's own initialisation, a short run must bring the held-out
loss below ln 10 by a fraction of what a reference run at the handout's init gains on the same
batches (the criterion and budget per network are measured by ``benchmarks/own_training.py``);
held-out labels never enter the sandbox (loss and accuracy come from logits, here). A network
whose reference does not learn in an affordable budget gets an uninformative result, not a pass.
Both are short by design. Evidence is collected in the worker, then pure ``judge_*`` functions decide.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from grader.checks.compare import TRAJECTORY_RTOL, fmt, rel_error
from grader.checks.networks import (LN10, INITIAL_LOSS_TOL, NetEvidence, Worker, attempt, cross_entropy, not_ready,
                                    reference_network, to_student)
from grader.results import CheckResult, failed, passed, skipped, uninformative
from grader.validate import validate_array

__all__ = ["TrainingBudget", "TrainingData", "check_trajectory", "check_own_training", "cross_entropy"]


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
    #: The student's accuracy may be this much below the reference's (own init, same budget): after
    #: the brief run from the handout's 0.01 init, held-out accuracies vary with the seed by up to
    #: 0.17 (MLP, 512 steps) and 0.28 (one_conv_net, 32 steps); benchmarks/own_training.py.
    accuracy_margin: float = 0.35



def batches(x: np.ndarray, t: np.ndarray, steps: int, batch: int, seed: int):
    """Seeded mini-batches as (steps, batch, ...) arrays, identical for student and reference; past
    one pass over the images the next pass is another permutation."""
    rng = np.random.default_rng([seed, 3])
    n = steps * batch
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-n // len(x)))])
    idx = order[:n].reshape(steps, batch)
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


#: Own training of these networks (by factory) gets this many times the budget's steps: at the
#: handout's 0.01 init the three-layer MLP sits on its loss plateau for ~300 steps of 16 (a step
#: costs about a millisecond). Measured by benchmarks/own_training.py (README, "Own training").
STEPS_FACTOR = {"three_layer_nn": 16}
#: Networks no affordable budget can judge from the handout's init, and why (measured, see above):
#: their check is uninformative at once instead of spending reference runs that cannot learn.
CANNOT_JUDGE = {
    "three_layer_cnn": ("at the handout's 0.01 init the reference three-layer CNN itself needs 64-128 steps to leave "
                        "its loss plateau, and one textbook im2col step of it takes about a second here"),
    "two_layer_cnn": ("at the handout's 0.01 init, 32 steps of 16 images leave the reference two-layer CNN anywhere "
                      "from learning (held-out loss 1.10) to going up (2.48) depending on its seed, and one textbook "
                      "im2col step of it takes half a second here"),
    "simple_convnet": ("at the handout's 0.01 init the reference SimpleConvNet itself does not learn in 32 or 64 steps "
                       "(held-out loss still ln 10), and more steps take tens of seconds"),
    "lenet": ("at the handout's 0.01 init the reference LeNet itself does not learn in 64 steps (held-out loss "
              "still ln 10: four weight layers of 0.01 sit on a long plateau)"),
}
#: A reference run judges a student only if its held-out loss fell by at least this much; a run
#: that diverged or stayed on its plateau would let a network that never learns pass.
REFERENCE_MIN_DROP = 0.2
#: The student passes when its held-out gain (ln 10 - loss after training) is at least this fraction
#: of the reference run's gain. Measured over 6 seeds (benchmarks/own_training.py): the worst seed's
#: gain is 0.69 (MLPs) and 0.72 (one_conv_net) of the best seed's, so a correct network clears this
#: by 2.3x; networks that cannot learn (all-zero weights: -0.002; std-1 weights: < 0) never do.
GAIN_FRACTION = 0.3
#: Draws of the student's init tried before a failure is reported: a correct network must not fail
#: because of one unlucky init seed; a broken one fails on every draw.
STUDENT_TRIES = 2
#: Reference runs tried (the check's seed, then seeds derived from it) before giving up.
REFERENCE_TRIES = 3
#: Held-out images whose loss is measured before training (after training: all of them).
LOSS_PROBE = 60
#: Steps sent per net_train request: a long MLP run goes in pieces of bounded size.
STEPS_PER_REQUEST = 32


def own_training_steps(factory: str, budget: TrainingBudget) -> int:
    """SGD steps of the own-training check for a network of this factory."""
    return budget.steps * STEPS_FACTOR.get(factory, 1)


def train_timeout(session, timeout: float | None) -> float | None:
    """Seconds per training request: the caller's, else the sandbox's ``train_timeout`` (training
    requests are longer than the default per-call timeout ``Sandbox.request`` applies)."""
    limits = getattr(getattr(session, "sandbox", None), "limits", None)
    if timeout is not None or limits is None:
        return timeout
    return max(limits.call_timeout, limits.train_timeout)


@dataclass(frozen=True)
class ReferenceRun:
    """One brief training run of the reference: its seed and steps, held-out loss before and after."""

    seed: int
    steps: int
    loss_before: float
    loss_after: float
    accuracy: float

    @property
    def drop(self) -> float:
        return self.loss_before - self.loss_after

    @property
    def gain(self) -> float:
        return LN10 - self.loss_after

    @property
    def learnt(self) -> bool:
        return self.drop >= REFERENCE_MIN_DROP


@functools.lru_cache(maxsize=32)
def _reference_run(factory: str, options_key: tuple, seed: int, steps: int, batch: int, lr: float,
                   data: TrainingData) -> ReferenceRun:
    xv, tv = data.x_valid, data.t_valid
    net = reference_network(factory, dict(options_key), seed, weight_init_std=0.01)
    before = cross_entropy(net.predict(xv[:LOSS_PROBE]), tv[:LOSS_PROBE])
    xb, tb = batches(data.x, data.t, steps, batch, seed)
    reference_sgd(net, xb, tb, lr)
    logits = net.predict(xv)
    return ReferenceRun(seed, steps, before, cross_entropy(logits[:LOSS_PROBE], tv[:LOSS_PROBE]),
                        float(np.mean(np.argmax(logits, axis=1) == tv)))


def reference_runs(ev: NetEvidence, seed: int, data: TrainingData, budget: TrainingBudget) -> list[ReferenceRun]:
    """Reference runs under the student's budget until one learnt (that one last), at most REFERENCE_TRIES."""
    steps = own_training_steps(ev.spec.factory, budget)
    runs = []
    for k in range(REFERENCE_TRIES):
        run_seed = seed if k == 0 else int(np.random.default_rng([seed, 17, k]).integers(2**31))
        runs.append(_reference_run(ev.spec.factory, tuple(sorted(ev.options.items())), run_seed, steps,
                                   budget.batch_size, budget.lr, data))
        if runs[-1].learnt:
            break
    return runs


# ----------------------------------------------------------------------------- trajectory

@dataclass
class TrajectoryEvidence:
    """The student's and the reference's losses on the same batches from the same start, and final weights."""

    losses: np.ndarray
    reference_losses: np.ndarray
    final: dict[str, np.ndarray]
    reference_final: dict[str, np.ndarray]


def collect_trajectory(worker: Worker, trainer: Worker, ev: NetEvidence, seed: int, data: TrainingData,
                       budget: TrainingBudget) -> TrajectoryEvidence:
    xb, tb = batches(data.x, data.t, budget.trajectory_steps, budget.trajectory_batch, seed + 1)
    net = reference_network(ev.spec.factory, ev.options, seed, weight_init_std=0.01)
    start = to_student(ev, {k: v.copy() for k, v in net.params.items()})
    ref_losses = reference_sgd(net, xb, tb, budget.lr)
    worker.renew(ev, seed)
    worker.set_params(ev, start)
    _, out = trainer.call("net_train", {"handle": ev.handle, "lr": budget.lr}, {"x": xb, "t": tb})
    losses = validate_array("losses", out.get("losses"), shape=ref_losses.shape)
    _, final = worker.call("net_get_params", {"handle": ev.handle})
    final = {s: validate_array(f"parameter {s}", final.get(s), shape=net.params[r].shape)
             for s, r in zip(ev.param_names, net.params)}
    return TrajectoryEvidence(losses, ref_losses, final, to_student(ev, net.params))


def check_trajectory(session, ev: NetEvidence, seed: int, data: TrainingData | None, budget: TrainingBudget,
                     timeout=None) -> CheckResult:
    """<net>.trajectory: same start, same batches, same learning rate -> same losses and weights."""
    check_id = f"{ev.key}.trajectory"
    if (res := not_ready(check_id, ev)) is not None:
        return res
    if data is None:
        return skipped(check_id, "skipped: MNIST not found (see --data-dir); this check trains on real images")
    worker, trainer = Worker(session, timeout), Worker(session, train_timeout(session, timeout))
    found = attempt(check_id, lambda: collect_trajectory(worker, trainer, ev, seed, data, budget))
    return found if isinstance(found, CheckResult) else judge_trajectory(ev.key, found)


def judge_trajectory(key: str, ev: TrajectoryEvidence) -> CheckResult:
    check_id = f"{key}.trajectory"
    losses, ref_losses = ev.losses, ev.reference_losses
    loss_err = rel_error(losses, ref_losses)
    param_err = max(rel_error(ev.final[s], ev.reference_final[s]) for s in ev.reference_final)
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


# ----------------------------------------------------------------------------- own training

@dataclass
class StudentRun:
    """One brief training run of the student's own network: held-out loss before/after, accuracy."""

    tries: int  # which draw of the student's init (0: the first)
    loss_before: float
    loss_after: float
    accuracy: float
    reported_losses: list[float] = field(default_factory=list)

    @property
    def gain(self) -> float:
        return LN10 - self.loss_after


def collect_own_training(worker: Worker, trainer: Worker, ev: NetEvidence, seed: int, data: TrainingData,
                         budget: TrainingBudget, ref: ReferenceRun, tries: int = 0) -> StudentRun:
    """Train a fresh student network (init draw ``tries``) on the reference run's batches; only
    images cross for the verdict: held-out loss and accuracy come from its logits, here."""
    xv, tv = data.x_valid, data.t_valid
    xb, tb = batches(data.x, data.t, ref.steps, budget.batch_size, ref.seed)
    worker.renew(ev, seed, tries)
    before = held_out_logits(worker, ev, xv[:LOSS_PROBE], budget)
    reported = []
    for i in range(0, ref.steps, STEPS_PER_REQUEST):
        chunk = {"x": xb[i:i + STEPS_PER_REQUEST], "t": tb[i:i + STEPS_PER_REQUEST]}
        _, out = trainer.call("net_train", {"handle": ev.handle, "lr": budget.lr}, chunk)
        reported.append(validate_array("losses", out.get("losses"), shape=(len(chunk["x"]),)))
    after = held_out_logits(worker, ev, xv, budget)
    return StudentRun(tries, cross_entropy(before, tv[:LOSS_PROBE]), cross_entropy(after[:LOSS_PROBE], tv[:LOSS_PROBE]),
                      float(np.mean(np.argmax(after, axis=1) == tv)), np.concatenate(reported).tolist())


def held_out_logits(worker: Worker, ev: NetEvidence, x: np.ndarray, budget: TrainingBudget) -> np.ndarray:
    """The student's logits on held-out images, a few at a time; only the images are sent."""
    logits = []
    for i in range(0, len(x), budget.eval_batch):
        chunk = x[i:i + budget.eval_batch]
        out = worker.evaluate(ev, chunk, None, ["logits"])
        logits.append(validate_array("logits", out.get("logits"), shape=(len(chunk), 10)))
    return np.concatenate(logits)


def check_own_training(session, ev: NetEvidence, seed: int, data: TrainingData | None, budget: TrainingBudget,
                       timeout=None, tries: int = STUDENT_TRIES) -> CheckResult:
    """<net>.training: the student's own network, from its own init, learns under a brief budget.

    Judged against a reference run that did learn on the same batches; a failing student is
    trained again from another draw of its init (up to ``tries`` draws) before it fails.
    """
    check_id = f"{ev.key}.training"
    if (res := not_ready(check_id, ev)) is not None:
        return res
    if data is None:
        return skipped(check_id, "skipped: MNIST not found (see --data-dir); this check trains on real images")
    if ev.spec.factory in CANNOT_JUDGE:
        return uninformative(check_id, f"skipped, worth no points: {CANNOT_JUDGE[ev.spec.factory]}, so no affordable "
                                       f"budget tells a network that learns from one that cannot; "
                                       f"{ev.key}.trajectory judges the training")
    runs = reference_runs(ev, seed, data, budget)
    ref = runs[-1]
    if not ref.learnt:
        losses = "; ".join(f"{r.loss_before:.3f} -> {r.loss_after:.3f}" for r in runs)
        return uninformative(check_id, f"skipped, worth no points: in {ref.steps} steps the reference network itself "
                                       f"did not learn for {len(runs)} seeds (held-out loss {losses}), so this check "
                                       f"cannot tell a network that learns from one that does not; "
                                       f"{ev.key}.trajectory judges the training")
    worker, trainer = Worker(session, timeout), Worker(session, train_timeout(session, timeout))
    students: list[StudentRun] = []
    for k in range(max(1, tries)):
        run = attempt(check_id, lambda: collect_own_training(worker, trainer, ev, seed, data, budget, ref, k))
        if isinstance(run, CheckResult):
            return run
        students.append(run)
        if learnt_enough(run, ref, budget):
            break
    return judge_own_training(ev.key, students, ref, len(runs), budget)


def needed_gain(ref: ReferenceRun) -> float:
    """The held-out gain below ln 10 a student must reach: a fraction of the reference run's."""
    return GAIN_FRACTION * ref.gain


def learnt_enough(run: StudentRun, ref: ReferenceRun, budget: TrainingBudget) -> bool:
    return run.gain >= needed_gain(ref) and run.accuracy >= max(0.0, ref.accuracy - budget.accuracy_margin)


def judge_own_training(key: str, students: list[StudentRun], ref: ReferenceRun, reference_tries: int,
                       budget: TrainingBudget) -> CheckResult:
    """Passed when one draw of the student's init gained enough below ln 10 and reached the accuracy."""
    check_id = f"{key}.training"
    best = next((s for s in students if learnt_enough(s, ref, budget)), max(students, key=lambda s: s.gain))
    threshold = max(0.0, ref.accuracy - budget.accuracy_margin)
    needed = needed_gain(ref)
    figures = {"reported_losses": best.reported_losses, "loss_before": best.loss_before,
               "loss_after": best.loss_after, "gain": best.gain, "needed_gain": needed,
               "reference_loss_before": ref.loss_before, "reference_loss_after": ref.loss_after,
               "reference_gain": ref.gain, "accuracy": best.accuracy, "reference_accuracy": ref.accuracy,
               "threshold": threshold, "steps": ref.steps, "batch_size": budget.batch_size, "lr": budget.lr,
               "seed": ref.seed, "reference_runs": reference_tries, "student_tries": len(students),
               "gains": [s.gain for s in students]}
    draws = f" (best of {len(students)} draws of your init)" if len(students) > 1 else ""
    summary = (f"{ref.steps} SGD steps (lr {budget.lr}, batch {budget.batch_size}): held-out loss {best.loss_before:.3f} "
               f"-> {best.loss_after:.3f}{draws}, {best.gain:.3f} below ln 10 (needed {needed:.3f}, "
               f"{GAIN_FRACTION:.0%} of the reference's {ref.loss_before:.3f} -> {ref.loss_after:.3f}), held-out accuracy "
               f"{best.accuracy:.1%} (reference {ref.accuracy:.1%}, needed {threshold:.1%})")
    if learnt_enough(best, ref, budget):
        return passed(check_id, summary, **figures)
    if best.loss_before > LN10 + INITIAL_LOSS_TOL and best.gain < needed:
        cause = (f"your network starts at held-out loss {best.loss_before:.3f}, far above ln 10, and does not come "
                 f"down far enough: the initial weights are too large (see <net>.initial_loss)")
    elif best.loss_before - best.loss_after < 0.5 * needed:
        cause = ("the loss does not go down: with a correct gradient this means a too-large step or a bad "
                 "initialisation (all-zero or equal weights keep the units of a layer alike, and they never "
                 "learn); check <net>.gradient and <net>.initial_loss")
    elif best.gain < needed:
        cause = "the loss goes down, but too little: training stalls (compare with <net>.trajectory)"
    else:
        cause = "the loss goes down but accuracy stays low: training stalls (compare with <net>.trajectory)"
    return failed(check_id, f"{summary}; {cause}".replace("<net>", key), diagnosis="training", **figures)
