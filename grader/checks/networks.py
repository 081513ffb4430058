"""Network checks: architecture, logits and loss with the reference's weights, gradient vs the
reference and vs finite differences of the student's own loss, and the initial loss.

Check ids: ``<net>.architecture``, ``<net>.logits``, ``<net>.gradient``, ``<net>.gradcheck``,
``<net>.initial_loss``. The student's parameters are matched to the reference's by order and
shape (names are the student's own); Affine/Linear weights travel in the (in, out) layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks.compare import (LOSS_RTOL, NETWORK_GRADCHECK_RTOL, NETWORK_RTOL, fmt, rel_error,
                                   scalar_rel_error)
from grader.results import CheckResult, error, failed, passed, skipped
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
    options: dict[str, Any] | None = None  # reference options that match the student's shapes
    handle: Any = None


def worker_seed(seed: int) -> int:
    """The seed the student's constructor gets: fixed per submission (reports repeat), but derived one
    way, so it cannot be used to replay the grader's own draws (probe inputs, held-out subset)."""
    return int(np.random.default_rng([seed, 0x5EED]).integers(2**31))


def new_network(session, key: str, seed: int, timeout=None) -> tuple[Any, list[str], dict[str, np.ndarray]]:
    """Construct the student's network in the worker: (handle, parameter names, initial params)."""
    header, arrays = session.call("net_new", {"net": key, "kwargs": {}, "seed": worker_seed(seed)}, timeout=timeout)
    names = [str(n) for n in header.get("param_names", [])]
    params = {n: validate_array(f"parameter {n}", arrays[n]) for n in names if n in arrays}
    if len(params) != len(names) or not names:
        raise InvalidOutput("the network's params could not be read (expected a params dict or nn.Module parameters)")
    return header["handle"], names, params


def candidate_options(spec: NetSpec, shapes: list[tuple[int, ...]]) -> list[dict[str, Any]]:
    """Reference options to try: the variants, or for an MLP the hidden sizes read from the student."""
    if spec.is_mlp:
        if len(shapes) == 6 and len(shapes[0]) == 2 and len(shapes[2]) == 2:
            return [dict(spec.options, hidden=(shapes[0][1], shapes[2][1]))]
        return [dict(spec.options, hidden=(100, 50))]
    return [dict(spec.options, **v) for v in spec.variants]


def reference_network(spec: NetSpec, options: dict[str, Any], seed: int, weight_init_std="he"):
    return refnets.Network(getattr(refnets, spec.factory)(**options), weight_init_std=weight_init_std, seed=seed)


def check_architecture(session, key: str, seed: int, timeout=None) -> tuple[CheckResult, NetEvidence]:
    """<net>.architecture: the student's parameter shapes match the handout (or a declared variant)."""
    from grader.session import CallFailure, describe_failure

    spec = NETWORKS[key]
    check_id = f"{key}.architecture"
    ev = NetEvidence(key, spec, session.has_network(key))
    if not ev.found:
        ev.problem = missing_network_message(key) + session.why_missing("networks", key)
        return failed(check_id, ev.problem, diagnosis="missing"), ev
    built = (session.inventory.get("networks", {}).get(key) or {}).get("built_as")  # chosen by the worker
    how = f" (built as {built})" if built else ""
    try:
        ev.handle, ev.param_names, ev.initial = new_network(session, key, seed, timeout)
    except (*CallFailure, InvalidOutput) as exc:
        ev.problem = f"could not construct your network{how}: {describe_failure(exc) if isinstance(exc, CallFailure) else exc}"
        return error(check_id, ev.problem), ev
    shapes = [ev.initial[n].shape for n in ev.param_names]
    tried = []
    for options in candidate_options(spec, shapes):
        try:
            ref_shapes = list(reference_network(spec, options, seed).param_shapes().values())
        except ValueError:
            continue
        tried.append((options, ref_shapes))
        if [tuple(s) for s in ref_shapes] == [tuple(s) for s in shapes]:
            ev.options = options
            variant = describe_options(spec, options)
            return passed(check_id, f"{len(shapes)} parameters with the expected shapes ({variant}){how}",
                          variant=variant, parameters=int(sum(np.prod(s) for s in shapes))), ev
    expected = tried[0][1] if tried else []
    ev.problem = "the architecture does not match, so the later checks of this network cannot compare numbers"
    rows = [f"{n}: {tuple(s)}" for n, s in zip(ev.param_names, shapes)]
    return failed(check_id, f"your network's parameter shapes do not match the assignment{how}:\n"
                            f"  found:    {', '.join(rows)}\n"
                            f"  expected: {', '.join(str(tuple(s)) for s in expected)}"
                            + (f"\n  (also accepted: {'; '.join(describe_options(spec, o) for o, _ in tried[1:])})"
                               if len(tried) > 1 else ""), diagnosis="architecture"), ev


def describe_options(spec: NetSpec, options: dict[str, Any]) -> str:
    extra = {k: v for k, v in options.items() if k not in ("activation",)}
    return spec.factory + ("(" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")" if extra else " (handout default)")


def missing_network_message(key: str) -> str:
    return (f"no network for '{key}' was found in your submission (looked for the handout's class names and "
            f"common aliases). If yours has another name, map it in grader.toml: "
            f"[networks.{key}] symbol = \"yourmodule:YourClass\"")


def to_student(ev: NetEvidence, ref_params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reference parameters renamed to the student's names (matched by order)."""
    return {s: ref_params[r] for s, r in zip(ev.param_names, ref_params)}


def _eval(session, ev: NetEvidence, x, t, want, timeout):
    header, arrays = session.call("net_eval", {"handle": ev.handle, "want": want}, {"x": x, "t": t}, timeout=timeout)
    return arrays


def _recreate(session, ev: NetEvidence, seed: int, timeout):
    """A network handle valid in the current worker (the worker may have been restarted)."""
    ev.handle, _, _ = new_network(session, ev.key, seed, timeout)


def _not_ready(check_id: str, ev: NetEvidence) -> CheckResult | None:
    if not ev.found:
        return failed(check_id, f"no network for '{ev.key}' was found (see {ev.key}.architecture)", diagnosis="missing")
    if ev.options is None:
        return skipped(check_id, f"skipped: {ev.problem}")
    return None


def probe_batch(seed: int, n: int = 8, input_shape=(1, 28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Seeded images in [0, 1] and labels, for checks that need no real data."""
    rng = np.random.default_rng([seed, 7])
    return rng.uniform(0.0, 1.0, (n,) + input_shape), rng.integers(0, 10, n)


def check_logits(session, ev: NetEvidence, seed: int, timeout=None) -> CheckResult:
    """<net>.logits: with the reference's weights, the student's logits and loss equal the reference's."""
    from grader.session import CallFailure, describe_failure

    check_id = f"{ev.key}.logits"
    if (res := _not_ready(check_id, ev)) is not None:
        return res
    x, t = probe_batch(seed)
    options_list = [ev.options]
    if ev.spec.options.get("activation") == "lrelu":
        options_list = [dict(ev.options, alpha=a) for a in LRELU_ALPHAS]
    try:
        _recreate(session, ev, seed, timeout)
        results = []
        for options in options_list:
            net = reference_network(ev.spec, options, seed)
            session.call("net_set_params", {"handle": ev.handle}, to_student(ev, net.params), timeout=timeout)
            out = _eval(session, ev, x, t, ["logits", "loss"], timeout)
            logits = validate_array("logits", out.get("logits"), shape=(len(x), 10))
            loss = validate_scalar("loss", out.get("loss"))
            ref_logits, ref_loss = net.predict(x), net.loss(x, t)
            err = rel_error(logits, ref_logits)
            results.append((err, options, logits, loss, ref_logits, ref_loss))
            if err <= NETWORK_RTOL:
                break
    except CallFailure as exc:
        return error(check_id, describe_failure(exc))
    except InvalidOutput as exc:
        return failed(check_id, str(exc), diagnosis="invalid_output")
    err, options, logits, loss, ref_logits, ref_loss = min(results, key=lambda r: r[0])
    loss_err = scalar_rel_error(loss, ref_loss)
    figures = {"logits_rel_error": err, "loss_rel_error": loss_err, "loss": loss, "reference_loss": float(ref_loss)}
    note = f" (Leaky-ReLU alpha = {options['alpha']})" if "alpha" in options and len(options_list) > 1 else ""
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
        return failed(check_id, f"logits match but the loss differs: yours {fmt(loss)}, reference {fmt(float(ref_loss))} "
                                f"(is the loss a mean over the batch of the cross-entropy?)", diagnosis="loss", **figures)
    return failed(check_id, f"with the reference's weights your logits differ from the reference's "
                            f"(relative error {fmt(err)}): look at the forward of your layers, in the order of "
                            f"the network", diagnosis="forward", **figures)


def check_gradient(session, ev: NetEvidence, seed: int, timeout=None) -> CheckResult:
    """<net>.gradient: the student's gradient() equals the reference's, parameter by parameter."""
    from grader.session import CallFailure, describe_failure

    check_id = f"{ev.key}.gradient"
    if (res := _not_ready(check_id, ev)) is not None:
        return res
    x, t = probe_batch(seed, n=4)
    net = reference_network(ev.spec, ev.options, seed)
    try:
        _recreate(session, ev, seed, timeout)
        session.call("net_set_params", {"handle": ev.handle}, to_student(ev, net.params), timeout=timeout)
        out = _eval(session, ev, x, t, ["gradient"], timeout)
        grads = {s: validate_array(f"gradient of {s}", out.get(f"grad.{s}"), shape=net.params[r].shape)
                 for s, r in zip(ev.param_names, net.params)}
    except CallFailure as exc:
        return error(check_id, describe_failure(exc))
    except InvalidOutput as exc:
        return failed(check_id, str(exc), diagnosis="invalid_output")
    ref = net.gradient(x, t)
    errors = {s: rel_error(grads[s], ref[r]) for s, r in zip(ev.param_names, ref)}
    wrong = [s for s, e in errors.items() if e > NETWORK_RTOL]
    figures = {"max_rel_error": max(errors.values()), "per_parameter": errors}
    if not wrong:
        return passed(check_id, f"all {len(errors)} parameter gradients equal the reference's "
                                f"(max relative error {fmt(max(errors.values()))})", **figures)
    return failed(check_id, f"gradients differ from the reference for {', '.join(wrong)} "
                            f"(right: {', '.join(s for s in errors if s not in wrong) or 'none'}). "
                            + locate_backward_bug(ev.param_names, wrong), diagnosis="gradient", **figures)


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


def check_gradcheck(session, ev: NetEvidence, seed: int, timeout=None) -> CheckResult:
    """<net>.gradcheck: gradient() agrees with finite differences of the student's own loss()."""
    from grader.session import CallFailure, describe_failure

    check_id = f"{ev.key}.gradcheck"
    if (res := _not_ready(check_id, ev)) is not None:
        return res
    x, t = probe_batch(seed, n=4)
    rng = np.random.default_rng([seed, 11])
    params = to_student(ev, reference_network(ev.spec, ev.options, seed).params)
    rows = []
    try:
        _recreate(session, ev, seed, timeout)
        session.call("net_set_params", {"handle": ev.handle}, params, timeout=timeout)
        out = _eval(session, ev, x, t, ["gradient"], timeout)
        for name in ev.param_names:
            g = validate_array(f"gradient of {name}", out.get(f"grad.{name}"), shape=params[name].shape)
            v = sparse_direction(rng, params[name].shape)
            losses = []
            for sign in (1.0, -1.0):
                moved = dict(params, **{name: params[name] + sign * NET_STEP * v})
                session.call("net_set_params", {"handle": ev.handle}, moved, timeout=timeout)
                losses.append(validate_scalar("loss", _eval(session, ev, x, t, ["loss"], timeout).get("loss")))
            session.call("net_set_params", {"handle": ev.handle}, params, timeout=timeout)
            fd = (losses[0] - losses[1]) / (2 * NET_STEP)
            rows.append((name, fd, float(np.sum(g * v))))
    except CallFailure as exc:
        return error(check_id, describe_failure(exc))
    except InvalidOutput as exc:
        return failed(check_id, str(exc), diagnosis="invalid_output")
    # floor: rounding noise of the loss difference is ~1e-9; a derivative of that size is zero.
    errors = {n: scalar_rel_error(fd, an, floor=1e-4) for n, fd, an in rows}
    wrong = [n for n, e in errors.items() if e > NETWORK_GRADCHECK_RTOL]
    figures = {"max_rel_error": max(errors.values()), "per_parameter": errors, "tolerance": NETWORK_GRADCHECK_RTOL}
    if not wrong:
        return passed(check_id, f"gradient() matches finite differences of your loss() for all {len(rows)} "
                                f"parameters (max relative error {fmt(max(errors.values()))})", **figures)
    return failed(check_id, f"gradient() disagrees with finite differences of your own loss() for "
                            f"{', '.join(wrong)}. " + locate_backward_bug(ev.param_names, wrong),
                  diagnosis="gradient", **figures)


def sparse_direction(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random direction that is non-zero on a few sampled coordinates only."""
    v = np.zeros(int(np.prod(shape)))
    picks = rng.choice(v.size, size=min(COORDINATES, v.size), replace=False)
    v[picks] = rng.choice([-1.0, 1.0], size=picks.size)
    return v.reshape(shape)


def check_initial_loss(session, ev: NetEvidence, seed: int, images=None, timeout=None) -> CheckResult:
    """<net>.initial_loss: a freshly initialised network starts near ln(10) = 2.3026.

    The loss is the cross-entropy of the student's logits, computed here: the labels (held-out
    MNIST ones when ``images`` comes from the data) are never sent.
    """
    from grader.checks.training import cross_entropy
    from grader.session import CallFailure, describe_failure

    check_id = f"{ev.key}.initial_loss"
    if not ev.found:
        return _not_ready(check_id, ev)
    if not ev.initial:
        return skipped(check_id, f"skipped: {ev.problem}")
    x, t = images if images is not None else probe_batch(seed, n=16)
    try:
        _recreate(session, ev, seed, timeout)
        session.call("net_set_params", {"handle": ev.handle}, ev.initial, timeout=timeout)
        _, out = session.call("net_eval", {"handle": ev.handle, "want": ["logits"]}, {"x": x}, timeout=timeout)
        loss = cross_entropy(validate_array("logits", out.get("logits"), shape=(len(x), 10)), t)
    except CallFailure as exc:
        return error(check_id, describe_failure(exc))
    except InvalidOutput as exc:
        return failed(check_id, str(exc), diagnosis="invalid_output")
    figures = {"loss": loss, "expected": LN10, "tolerance": INITIAL_LOSS_TOL}
    if abs(loss - LN10) <= INITIAL_LOSS_TOL:
        return passed(check_id, f"fresh network starts at loss {loss:.4f} (ln 10 = {LN10:.4f})", **figures)
    cause = ("your initial weights are too large: the logits of a fresh network should be small, e.g. "
             "weight_init_std = 0.01 or He scaling" if loss > LN10 else
             "a fresh 10-class network cannot do better than chance: are the initial weights random, not copied "
             "from a trained network?")
    return failed(check_id, f"fresh network starts at loss {loss:.4f}, far from ln(10) = {LN10:.4f}: {cause}",
                  diagnosis="initial_loss", **figures)
