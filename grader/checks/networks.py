"""Network checks: architecture, logits and loss with the reference's weights, gradient vs the
reference and vs finite differences of the student's own loss, and the initial loss.

Check ids: ``<net>.architecture``, ``<net>.logits``, ``<net>.gradient``, ``<net>.gradcheck``,
``<net>.initial_loss``. The student's parameters are matched to the reference's by order and
shape (names are the student's own); Affine/Linear weights travel in the (in, out) layout.
Each check collects its evidence in the worker (:func:`collect_logits`, ...; a worker failure
becomes an ``error`` or ``failed`` result through :func:`attempt`), then a pure ``judge_*``
function decides, so the judges are tested without a worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import numpy as np

from grader.checks import not_found
from grader.checks.compare import (LOSS_RTOL, NETWORK_GRADCHECK_RTOL, NETWORK_RTOL, fmt, rel_error,
                                   scalar_rel_error)
from grader.results import CheckResult, error, failed, passed, skipped
from grader.session import CallFailure, describe_failure
from grader.validate import InvalidOutput, validate_array, validate_scalar
from reference import networks as refnets

LN10 = math.log(10.0)
#: A fresh 10-class network should start within this of ln(10) (the seeds: 2.3009..2.3025).
INITIAL_LOSS_TOL = 0.3
#: Step for the network finite differences (weights of He scale).
NET_STEP = 1e-6
#: Coordinates perturbed together per parameter: a direction along *every* weight of a conv
#: layer moves thousands of ReLU units at once and some cross their kink; a few sampled
#: coordinates keep the finite difference on one smooth piece.
COORDINATES = 3

T = TypeVar("T")


@dataclass(frozen=True)
class NetSpec:
    """How a network key of the plan maps to the reference: factory name and accepted variants."""

    factory: str
    options: dict[str, Any] = field(default_factory=dict)
    variants: tuple[dict[str, Any], ...] = ({},)
    torch: bool = False

    @property
    def is_mlp(self) -> bool:
        return self.factory == "three_layer_nn"


_CNN_VARIANTS = ({}, {"pool": True}, {"pad": "same"})
NETWORKS: dict[str, NetSpec] = {
    "three_layer_nn": NetSpec("three_layer_nn", {"activation": "relu"}),
    "three_layer_nn_lrelu": NetSpec("three_layer_nn", {"activation": "lrelu", "alpha": 0.1}),
    "two_layer_cnn": NetSpec("two_layer_cnn", variants=_CNN_VARIANTS),
    "three_layer_cnn": NetSpec("three_layer_cnn", variants=_CNN_VARIANTS),
    "three_layer_nn_torch": NetSpec("three_layer_nn", {"activation": "relu"}, torch=True),
    "three_layer_nn_lrelu_torch": NetSpec("three_layer_nn", {"activation": "lrelu", "alpha": 0.1}, torch=True),
    "two_layer_cnn_torch": NetSpec("two_layer_cnn", variants=_CNN_VARIANTS, torch=True),
    "three_layer_cnn_torch": NetSpec("three_layer_cnn", variants=_CNN_VARIANTS, torch=True),
    "simple_convnet": NetSpec("simple_convnet"),
    "one_conv_net": NetSpec("one_conv_net"),
    "lenet": NetSpec("lenet", variants=({}, {"hidden": 100})),
}
#: Slopes tried for a Leaky-ReLU network whose alpha is the student's choice (seeds: 0.1, 0.3).
LRELU_ALPHAS = (0.1, 0.01, 0.2, 0.3, 0.05)


@dataclass
class NetEvidence:
    """What the architecture check learnt, shared by the later checks of the same network."""

    key: str
    spec: NetSpec
    found: bool
    problem: str | None = None
    param_names: list[str] = field(default_factory=list)
    initial: dict[str, np.ndarray] = field(default_factory=dict)
    options: dict[str, Any] | None = None  # reference options that match the student's shapes (and,
                                           # once the logits check matched it, the Leaky-ReLU slope)
    handle: Any = None



# ----------------------------------------------------------------------------- the worker side

class Worker:
    """The session as one check uses it: every call with the check's timeout (None: the sandbox's
    default, ``Limits.call_timeout``), and a fresh network of the student's on demand."""

    def __init__(self, session, timeout: float | None = None):
        self.session, self.timeout = session, timeout

    def call(self, op: str, header: dict, arrays: dict | None = None):
        if self.timeout is None:
            return self.session.call(op, header, arrays)
        return self.session.call(op, header, arrays, timeout=self.timeout)

    def fresh_network(self, key: str, seed: int, tries: int = 0) -> tuple[Any, list[str], dict[str, np.ndarray]]:
        """Construct the student's network anew (the worker may have been restarted since the last
        check, and no check may see another's updates): (handle, parameter names, initial params).
        ``tries`` > 0 gives the constructor another seed (a second draw of the student's init)."""
        header, arrays = self.call("net_new", {"net": key, "kwargs": {}, "seed": worker_seed(seed, tries)})
        names = [str(n) for n in header.get("param_names", [])]
        params = {n: validate_array(f"parameter {n}", arrays[n]) for n in names if n in arrays}
        if len(params) != len(names) or not names:
            raise InvalidOutput("the network's params could not be read (expected a params dict or nn.Module parameters)")
        return header["handle"], names, params

    def renew(self, ev: "NetEvidence", seed: int, tries: int = 0) -> None:
        """A fresh network for a check of ``ev``: its handle replaces the old one."""
        ev.handle, _, _ = self.fresh_network(ev.key, seed, tries)

    def set_params(self, ev: "NetEvidence", params: dict[str, np.ndarray]) -> None:
        self.call("net_set_params", {"handle": ev.handle}, params)

    def evaluate(self, ev: "NetEvidence", x, t, want: list[str]) -> dict[str, np.ndarray]:
        arrays = {"x": x} if t is None else {"x": x, "t": t}
        return self.call("net_eval", {"handle": ev.handle, "want": want}, arrays)[1]


def worker_seed(seed: int, tries: int = 0) -> int:
    """The seed the student's constructor gets: fixed per submission (reports repeat), but derived one
    way, so it cannot be used to replay the grader's own draws (probe inputs, held-out subset)."""
    key = [seed, 0x5EED] if tries == 0 else [seed, 0x5EED, tries]
    return int(np.random.default_rng(key).integers(2**31))


def attempt(check_id: str, collect: Callable[[], T]) -> T | CheckResult:
    """``collect()``'s evidence, or the result a worker failure means: ``error`` when the call got no
    answer (the code raised, hung, crashed), ``failed`` when the answer was not valid output."""
    try:
        return collect()
    except CallFailure as exc:
        return error(check_id, describe_failure(exc))
    except InvalidOutput as exc:
        return failed(check_id, str(exc), diagnosis="invalid_output")


# ----------------------------------------------------------------------------- the reference side

def candidate_options(spec: NetSpec, shapes: list[tuple[int, ...]]) -> list[dict[str, Any]]:
    """Reference options to try: the variants, or for an MLP the hidden sizes read from the student."""
    if spec.is_mlp:
        if len(shapes) == 6 and len(shapes[0]) == 2 and len(shapes[2]) == 2:
            return [dict(spec.options, hidden=(shapes[0][1], shapes[2][1]))]
        return [dict(spec.options, hidden=(100, 50))]
    return [dict(spec.options, **v) for v in spec.variants]


def reference_network(factory: str, options: dict[str, Any], seed: int, weight_init_std="he") -> refnets.Network:
    """The one way a check builds a reference network: the handout's factory with the options the
    student's shapes matched, weights drawn from ``seed`` (He scale, or a float std)."""
    return refnets.Network(getattr(refnets, factory)(**options), weight_init_std=weight_init_std, seed=seed)


def to_student(ev: NetEvidence, ref_params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reference parameters renamed to the student's names (matched by order)."""
    return {s: ref_params[r] for s, r in zip(ev.param_names, ref_params)}


def probe_batch(seed: int, n: int = 8, input_shape=(1, 28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Seeded images in [0, 1] and labels, for checks that need no real data."""
    rng = np.random.default_rng([seed, 7])
    return rng.uniform(0.0, 1.0, (n,) + input_shape), rng.integers(0, 10, n)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy, computed by the grader from logits (labels never leave the parent)."""
    z = logits - logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))


def not_ready(check_id: str, ev: NetEvidence) -> CheckResult | None:
    """The result of a later check when the architecture check found nothing to compare with."""
    if not ev.found:
        return failed(check_id, not_found.pointer("network", ev.key, f"{ev.key}.architecture"), diagnosis="missing")
    if ev.options is None:
        return skipped(check_id, f"skipped: {ev.problem}")
    return None



# ----------------------------------------------------------------------------- architecture

def check_architecture(session, key: str, seed: int, timeout=None) -> tuple[CheckResult, NetEvidence]:
    """<net>.architecture: the student's parameter shapes match the handout (or a declared variant)."""
    spec = NETWORKS[key]
    check_id = f"{key}.architecture"
    ev = NetEvidence(key, spec, session.has_network(key))
    if not ev.found:
        ev.problem = missing_network_message(key) + session.why_missing("networks", key)
        return failed(check_id, ev.problem, diagnosis="missing"), ev
    how = built_as(session, key)
    built = attempt(check_id, lambda: Worker(session, timeout).fresh_network(key, seed))
    if isinstance(built, CheckResult):
        ev.problem = f"could not construct your network{how}: {built.message}"
        return error(check_id, ev.problem), ev
    ev.handle, ev.param_names, ev.initial = built
    shapes = [ev.initial[n].shape for n in ev.param_names]
    result, ev.options = judge_architecture(key, spec, ev.param_names, shapes, reference_shapes(spec, shapes))
    if how:
        first, _, rest = result.message.partition(":\n") if not result.ok else (result.message, "", "")
        result.message = f"{first}{how}" + (f":\n{rest}" if rest else "")
    if ev.options is None:
        ev.problem = "the architecture does not match, so the later checks of this network cannot compare numbers"
    return result, ev


def built_as(session, key: str) -> str:
    """" (built as ThreeLayerNN(act='leaky_relu'))" when the worker built the network through a
    constructor option of another class (one PA1 class with an activation option), else ""."""
    built = ((getattr(session, "inventory", None) or {}).get("networks", {}).get(key) or {}).get("built_as")
    return f" (built as {built})" if built else ""


def reference_shapes(spec: NetSpec, shapes: list[tuple[int, ...]]) -> list[tuple[dict[str, Any], list[tuple]]]:
    """(options, parameter shapes) of every reference variant that can be built for the student's shapes."""
    tried = []
    for options in candidate_options(spec, shapes):
        try:
            ref = reference_network(spec.factory, options, 0)
        except ValueError:
            continue
        tried.append((options, [tuple(s) for s in ref.param_shapes().values()]))
    return tried


def judge_architecture(key: str, spec: NetSpec, names: list[str], shapes: list[tuple[int, ...]],
                       tried: list[tuple[dict[str, Any], list[tuple]]]) -> tuple[CheckResult, dict[str, Any] | None]:
    """The result, and the reference options whose shapes equal the student's (None: no match)."""
    check_id = f"{key}.architecture"
    for options, ref_shapes in tried:
        if ref_shapes == [tuple(s) for s in shapes]:
            variant = describe_options(spec, options)
            return passed(check_id, f"{len(shapes)} parameters with the expected shapes ({variant})",
                          variant=variant, parameters=int(sum(np.prod(s) for s in shapes))), options
    expected = tried[0][1] if tried else []
    rows = [f"{n}: {tuple(s)}" for n, s in zip(names, shapes)]
    return failed(check_id, "your network's parameter shapes do not match the assignment:\n"
                            f"  found:    {', '.join(rows)}\n"
                            f"  expected: {', '.join(str(tuple(s)) for s in expected)}"
                            + (f"\n  (also accepted: {'; '.join(describe_options(spec, o) for o, _ in tried[1:])})"
                               if len(tried) > 1 else ""), diagnosis="architecture"), None


def describe_options(spec: NetSpec, options: dict[str, Any]) -> str:
    """"three_layer_nn(hidden=(100, 50))": the variant the shapes matched (a slope is not a shape: the
    logits check finds it and says so)."""
    extra = {k: v for k, v in options.items() if k not in ("activation", "alpha")}
    return spec.factory + ("(" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")" if extra else " (handout default)")


def missing_network_message(key: str) -> str:
    return not_found.message("network", key)


# ----------------------------------------------------------------------------- logits

@dataclass
class LogitsTrial:
    """The student's logits and loss with one reference network's weights, and the reference's."""

    options: dict[str, Any]
    logits: np.ndarray
    loss: float
    ref_logits: np.ndarray
    ref_loss: float

    @property
    def error(self) -> float:
        return rel_error(self.logits, self.ref_logits)


def collect_logits(worker: Worker, ev: NetEvidence, seed: int) -> list[LogitsTrial]:
    """Logits and loss with the reference's weights; a Leaky-ReLU network is tried on each slope
    until one matches (the slope is the student's choice)."""
    x, t = probe_batch(seed)
    options_list = [ev.options]
    if ev.spec.options.get("activation") == "lrelu":
        options_list = [dict(ev.options, alpha=a) for a in LRELU_ALPHAS]
    worker.renew(ev, seed)
    trials = []
    for options in options_list:
        net = reference_network(ev.spec.factory, options, seed)
        worker.set_params(ev, to_student(ev, net.params))
        out = worker.evaluate(ev, x, t, ["logits", "loss"])
        trials.append(LogitsTrial(options, validate_array("logits", out.get("logits"), shape=(len(x), 10)),
                                  validate_scalar("loss", out.get("loss")), net.predict(x), float(net.loss(x, t))))
        if trials[-1].error <= NETWORK_RTOL:
            break
    return trials


def check_logits(session, ev: NetEvidence, seed: int, timeout=None) -> CheckResult:
    """<net>.logits: with the reference's weights, the student's logits and loss equal the reference's."""
    check_id = f"{ev.key}.logits"
    if (res := not_ready(check_id, ev)) is not None:
        return res
    trials = attempt(check_id, lambda: collect_logits(Worker(session, timeout), ev, seed))
    if isinstance(trials, CheckResult):
        return trials
    result = judge_logits(ev.key, trials)
    if result.ok:
        # the slope the student chose (the seed's framework twin: 0.3) is the one later checks compare at
        ev.options = min(trials, key=lambda r: r.error).options
    return result


def judge_logits(key: str, trials: list[LogitsTrial]) -> CheckResult:
    """Logits equal (or equal up to a per-sample constant), else which part differs: softmax, loss, forward."""
    check_id = f"{key}.logits"
    best = min(trials, key=lambda r: r.error)
    err, logits, ref_logits = best.error, best.logits, best.ref_logits
    loss_err = scalar_rel_error(best.loss, best.ref_loss)
    figures = {"logits_rel_error": err, "loss_rel_error": loss_err, "loss": best.loss, "reference_loss": best.ref_loss}
    note = f" (Leaky-ReLU alpha = {best.options['alpha']})" if "alpha" in best.options else ""
    if err <= NETWORK_RTOL and loss_err <= LOSS_RTOL:
        return passed(check_id, f"logits and loss equal the reference's with the same weights{note} "
                                f"(relative errors {fmt(err)}, {fmt(loss_err)})", **figures)
    shifted = logits - ref_logits
    if np.allclose(shifted, shifted[:, :1], atol=1e-8) and loss_err <= LOSS_RTOL:
        return passed(check_id, "outputs equal the reference's logits up to a per-sample constant "
                                "(log-probabilities): accepted, the softmax is the same", **figures)
    ref_probs = np.exp(ref_logits - ref_logits.max(1, keepdims=True))
    ref_probs /= ref_probs.sum(1, keepdims=True)
    if rel_error(logits, ref_probs) <= 1e-6:
        return failed(check_id, "your network returns probabilities (a softmax), not logits: return the last "
                                "affine layer's output and leave the softmax to the loss", diagnosis="returns_probabilities",
                      **figures)
    if err <= NETWORK_RTOL:
        return failed(check_id, f"logits match but the loss differs: yours {fmt(best.loss)}, reference "
                                f"{fmt(best.ref_loss)} (is the loss a mean over the batch of the cross-entropy?)",
                      diagnosis="loss", **figures)
    return failed(check_id, f"with the reference's weights your logits differ from the reference's "
                            f"(relative error {fmt(err)}): look at the forward of your layers, in the order of "
                            f"the network", diagnosis="forward", **figures)


# ----------------------------------------------------------------------------- gradient

def collect_gradient(worker: Worker, ev: NetEvidence, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(the student's gradient, the reference's), by student parameter name, at the reference's weights."""
    x, t = probe_batch(seed, n=4)
    net = reference_network(ev.spec.factory, ev.options, seed)
    worker.renew(ev, seed)
    worker.set_params(ev, to_student(ev, net.params))
    out = worker.evaluate(ev, x, t, ["gradient"])
    grads = {s: validate_array(f"gradient of {s}", out.get(f"grad.{s}"), shape=net.params[r].shape)
             for s, r in zip(ev.param_names, net.params)}
    return grads, to_student(ev, net.gradient(x, t))


def check_gradient(session, ev: NetEvidence, seed: int, timeout=None) -> CheckResult:
    """<net>.gradient: the student's gradient() equals the reference's, parameter by parameter."""
    check_id = f"{ev.key}.gradient"
    if (res := not_ready(check_id, ev)) is not None:
        return res
    found = attempt(check_id, lambda: collect_gradient(Worker(session, timeout), ev, seed))
    return found if isinstance(found, CheckResult) else judge_gradient(ev.key, ev.param_names, *found)


def judge_gradient(key: str, names: list[str], grads: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> CheckResult:
    """Every parameter's gradient equals the reference's; else where backprop goes wrong."""
    check_id = f"{key}.gradient"
    errors = {s: rel_error(grads[s], ref[s]) for s in names}
    wrong = [s for s, e in errors.items() if e > NETWORK_RTOL]
    figures = {"max_rel_error": max(errors.values()), "per_parameter": errors}
    if not wrong:
        return passed(check_id, f"all {len(errors)} parameter gradients equal the reference's "
                                f"(max relative error {fmt(max(errors.values()))})", **figures)
    return failed(check_id, f"gradients differ from the reference for {', '.join(wrong)} "
                            f"(right: {', '.join(s for s in errors if s not in wrong) or 'none'}). "
                            + locate_backward_bug(names, wrong), diagnosis="gradient", **figures)


def locate_backward_bug(names: list[str], wrong: list[str]) -> str:
    """Backprop runs from the last layer to the first: the first wrong gradient seen from the end
    points at the layer whose backward is broken."""
    right_tail = []
    for n in reversed(names):
        if n in wrong:
            break
        right_tail.append(n)
    if not right_tail:
        return "Even the last layer's gradient is wrong: check the loss backward and the last affine layer's backward."
    last_wrong = next(n for n in reversed(names) if n in wrong)
    return (f"The gradients after {last_wrong} are right, so the error enters between {right_tail[-1]} and "
            f"{last_wrong}: check the backward (dx) of the layer owning {right_tail[-1]} and of the activation "
            f"before it, and the backward of the layer owning {last_wrong}.")


# ----------------------------------------------------------------------------- gradcheck

def collect_gradcheck(worker: Worker, ev: NetEvidence, seed: int) -> list[tuple[str, float, float]]:
    """Per parameter: (name, finite difference of the student's loss along a sparse direction, the
    student's gradient along it), at the reference's weights."""
    x, t = probe_batch(seed, n=4)
    rng = np.random.default_rng([seed, 11])
    params = to_student(ev, reference_network(ev.spec.factory, ev.options, seed).params)
    worker.renew(ev, seed)
    worker.set_params(ev, params)
    out = worker.evaluate(ev, x, t, ["gradient"])
    rows = []
    for name in ev.param_names:
        g = validate_array(f"gradient of {name}", out.get(f"grad.{name}"), shape=params[name].shape)
        v = sparse_direction(rng, params[name].shape)
        losses = []
        for sign in (1.0, -1.0):
            worker.set_params(ev, dict(params, **{name: params[name] + sign * NET_STEP * v}))
            losses.append(validate_scalar("loss", worker.evaluate(ev, x, t, ["loss"]).get("loss")))
        worker.set_params(ev, params)
        rows.append((name, (losses[0] - losses[1]) / (2 * NET_STEP), float(np.sum(g * v))))
    return rows


def check_gradcheck(session, ev: NetEvidence, seed: int, timeout=None) -> CheckResult:
    """<net>.gradcheck: gradient() agrees with finite differences of the student's own loss()."""
    check_id = f"{ev.key}.gradcheck"
    if (res := not_ready(check_id, ev)) is not None:
        return res
    rows = attempt(check_id, lambda: collect_gradcheck(Worker(session, timeout), ev, seed))
    return rows if isinstance(rows, CheckResult) else judge_gradcheck(ev.key, ev.param_names, rows)


def judge_gradcheck(key: str, names: list[str], rows: list[tuple[str, float, float]]) -> CheckResult:
    check_id = f"{key}.gradcheck"
    # floor: rounding noise of the loss difference is ~1e-9; a derivative of that size is zero.
    errors = {n: scalar_rel_error(fd, an, floor=1e-4) for n, fd, an in rows}
    wrong = [n for n, e in errors.items() if e > NETWORK_GRADCHECK_RTOL]
    figures = {"max_rel_error": max(errors.values()), "per_parameter": errors, "tolerance": NETWORK_GRADCHECK_RTOL}
    if not wrong:
        return passed(check_id, f"gradient() matches finite differences of your loss() for all {len(rows)} "
                                f"parameters (max relative error {fmt(max(errors.values()))})", **figures)
    return failed(check_id, f"gradient() disagrees with finite differences of your own loss() for "
                            f"{', '.join(wrong)}. " + locate_backward_bug(names, wrong),
                  diagnosis="gradient", **figures)


def sparse_direction(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random direction that is non-zero on a few sampled coordinates only."""
    v = np.zeros(int(np.prod(shape)))
    picks = rng.choice(v.size, size=min(COORDINATES, v.size), replace=False)
    v[picks] = rng.choice([-1.0, 1.0], size=picks.size)
    return v.reshape(shape)


# ----------------------------------------------------------------------------- initial loss

def collect_initial_loss(worker: Worker, ev: NetEvidence, seed: int, images=None) -> float:
    """The cross-entropy of a fresh network's logits (its own initial weights), computed here."""
    x, t = images if images is not None else probe_batch(seed, n=16)
    worker.renew(ev, seed)
    worker.set_params(ev, ev.initial)
    logits = worker.evaluate(ev, x, None, ["logits"]).get("logits")
    return cross_entropy(validate_array("logits", logits, shape=(len(x), 10)), t)


def check_initial_loss(session, ev: NetEvidence, seed: int, images=None, timeout=None) -> CheckResult:
    """<net>.initial_loss: a freshly initialised network starts near ln(10) = 2.3026.

    The loss is the cross-entropy of the student's logits, computed here: the labels (held-out
    MNIST ones when ``images`` comes from the data) are never sent.
    """
    check_id = f"{ev.key}.initial_loss"
    if not ev.found:
        return not_ready(check_id, ev)
    if not ev.initial:
        return skipped(check_id, f"skipped: {ev.problem}")
    loss = attempt(check_id, lambda: collect_initial_loss(Worker(session, timeout), ev, seed, images))
    return loss if isinstance(loss, CheckResult) else judge_initial_loss(ev.key, loss)


def judge_initial_loss(key: str, loss: float) -> CheckResult:
    check_id = f"{key}.initial_loss"
    figures = {"loss": loss, "expected": LN10, "tolerance": INITIAL_LOSS_TOL}
    if abs(loss - LN10) <= INITIAL_LOSS_TOL:
        return passed(check_id, f"fresh network starts at loss {loss:.4f} (ln 10 = {LN10:.4f})", **figures)
    cause = ("your initial weights are too large: the logits of a fresh network should be small, e.g. "
             "weight_init_std = 0.01 or He scaling" if loss > LN10 else
             "a fresh 10-class network cannot do better than chance: are the initial weights random, not copied "
             "from a trained network?")
    return failed(check_id, f"fresh network starts at loss {loss:.4f}, far from ln(10) = {LN10:.4f}: {cause}",
                  diagnosis="initial_loss", **figures)
