"""Layer checks: forward and backward vs the reference, and the student's backward vs
finite differences of the student's own forward.

Check ids: ``layers.<key>.forward``, ``layers.<key>.backward``, ``layers.<key>.gradcheck``.
Evidence is gathered once per layer (:func:`collect`), then three judges read it; the
judges are pure functions, so they are tested without a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grader.checks import diagnose, not_found
from grader.checks.compare import LAYER_RTOL, LOSS_RTOL, fmt, gradcheck_tolerance, rel_error, scalar_rel_error
from grader.results import CheckResult, error, failed, passed
from grader.sandbox import WorkerTimeout
from grader.session import CallFailure, describe_failure
from grader.validate import InvalidOutput, validate_array, validate_scalar
from reference import layers as ref

#: Finite-difference step; inputs are of unit scale and kept >= 0.1 away from kinks.
STEP = 1e-6
#: Random directions per perturbed array in the gradcheck.
DIRECTIONS = 2


@dataclass(frozen=True)
class Case:
    """One set of shapes and options a layer is checked on; ``name`` is shown to students."""

    name: str
    x: tuple[int, ...]
    W: tuple[int, ...] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    one_hot: bool = False


@dataclass(frozen=True)
class LayerSpec:
    """Everything the three checks of one layer need: the handout's class name, the cases it is
    checked on, the reference layer for a case, and the known mistakes tried when it fails."""

    key: str
    title: str                                    # the handout's class name, for messages
    cases: tuple[Case, ...]
    reference: Callable[[Case, dict[str, np.ndarray]], Any]   # a fresh reference layer for a case
    forward_diagnoses: tuple[diagnose.Diagnosis, ...] = ()
    backward_diagnoses: tuple[diagnose.Diagnosis, ...] = ()   # diagnose.forward_wrong is tried after these


#: The layers, each in one place. The cases cover stride 2, padding, non-square inputs and kernels,
#: batch 1 and several channels, because real student code has its bugs in the rarely used options.
LAYERS: dict[str, LayerSpec] = {spec.key: spec for spec in (
    LayerSpec("affine", "Affine", (
        Case("batch 4, 6 -> 5", (4, 6), (6, 5)),
        Case("batch 1, 7 -> 3", (1, 7), (7, 3)),
        Case("4-D input 2x3x2x2 -> 4", (2, 3, 2, 2), (12, 4)),
        Case("square 5 -> 5", (3, 5), (5, 5)),
    ), lambda case, a: ref.Affine(a["W"], a["b"]),
        forward_diagnoses=(diagnose.affine_weights,),
        backward_diagnoses=(diagnose.missing_bias_gradient, diagnose.affine_transposed_backward)),
    LayerSpec("relu", "Relu", (Case("batch 4x7", (4, 7)), Case("4-D 2x3x4x5", (2, 3, 4, 5)), Case("batch 1", (1, 6))),
              lambda case, a: ref.Relu(),
              backward_diagnoses=(diagnose.relu_mask,)),
    LayerSpec("lrelu", "LeakyRelu", (
        Case("batch 4x7, alpha 0.1", (4, 7), config={"alpha": 0.1}),
        Case("4-D 2x3x4x5, alpha 0.3", (2, 3, 4, 5), config={"alpha": 0.3}),
    ), lambda case, a: ref.LeakyRelu(case.config["alpha"]),
        forward_diagnoses=(diagnose.lrelu_slope_forward,), backward_diagnoses=(diagnose.lrelu_slope_backward,)),
    LayerSpec("convolution", "Convolution", (
        Case("3 channels, 3x3 kernel", (2, 3, 7, 7), (4, 3, 3, 3), {"stride": 1, "pad": 0}),
        Case("non-square 8x6 input, 3x2 kernel, pad 1", (1, 1, 8, 6), (2, 1, 3, 2), {"stride": 1, "pad": 1}),
        Case("stride 2, pad 1", (2, 2, 9, 9), (3, 2, 3, 3), {"stride": 2, "pad": 1}),
        Case("stride 2, non-square 6x5 input, batch 1", (1, 3, 6, 5), (2, 3, 2, 2), {"stride": 2, "pad": 0}),
        Case("5x5 kernel, pad 2", (3, 1, 10, 10), (2, 1, 5, 5), {"stride": 1, "pad": 2}),
    ), lambda case, a: ref.Convolution(a["W"], a["b"], stride=case.config["stride"], pad=case.config["pad"]),
        forward_diagnoses=(diagnose.flipped_kernel, diagnose.padding, diagnose.stride),
        backward_diagnoses=(diagnose.stride_in_backward, diagnose.missing_bias_gradient, diagnose.padding_in_backward)),
    LayerSpec("pooling", "Pooling", (
        Case("2x2 stride 2", (2, 3, 8, 8), config={"pool_h": 2, "pool_w": 2, "stride": 2, "pad": 0}),
        Case("3x3 stride 3, non-square 6x9", (1, 2, 6, 9), config={"pool_h": 3, "pool_w": 3, "stride": 3, "pad": 0}),
        Case("2x2 stride 1 (overlapping windows)", (2, 1, 5, 5), config={"pool_h": 2, "pool_w": 2, "stride": 1, "pad": 0}),
        Case("2x3 window stride 2, batch 1", (1, 1, 6, 7), config={"pool_h": 2, "pool_w": 3, "stride": 2, "pad": 0}),
    ), lambda case, a: ref.Pooling(case.config["pool_h"], case.config["pool_w"], stride=case.config["stride"],
                                   pad=case.config["pad"]),
        forward_diagnoses=(diagnose.average_pool,),
        backward_diagnoses=(diagnose.stride_in_backward, diagnose.maxpool_routing)),
    LayerSpec("softmax", "SoftmaxWithLoss", (
        Case("batch 5, class-index labels", (5, 10)),
        Case("batch 1", (1, 10)),
        Case("batch 4, one-hot labels", (4, 10), one_hot=True),
    ), lambda case, a: ref.SoftmaxWithLoss(),
        forward_diagnoses=(diagnose.loss_not_averaged,), backward_diagnoses=(diagnose.dx_not_averaged,)),
    LayerSpec("flatten", "Flatten", (Case("4-D 2x3x4x5", (2, 3, 4, 5)),), lambda case, a: ref.Flatten()),
)}
#: The cases of every layer (kept for readers of the former table).
CASES: dict[str, list[Case]] = {key: list(spec.cases) for key, spec in LAYERS.items()}


def reference_layer(key: str, case: Case, inputs: dict[str, np.ndarray]):
    """The reference layer object for a case (fresh, so no state leaks between cases)."""
    if key not in LAYERS:
        raise KeyError(f"no reference layer for {key!r}")
    return LAYERS[key].reference(case, inputs)


def make_inputs(key: str, case: Case, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded inputs for one case; away from kinks and ties so finite differences are valid."""
    x_size = int(np.prod(case.x))
    if key in ("relu", "lrelu"):
        # |x| >= 0.1: a 1e-6 step never crosses the kink at 0.
        x = rng.uniform(0.1, 1.0, case.x) * rng.choice([-1.0, 1.0], case.x)
    elif key == "pooling":
        # Distinct values 0.01 apart: no ties, and a 1e-6 step never changes the argmax.
        x = (rng.permutation(x_size).reshape(case.x) - x_size / 2) * 0.01
    else:
        x = rng.standard_normal(case.x)
    inputs = {"x": x}
    if case.W is not None:
        fan_in = int(np.prod(case.W[1:])) if key == "convolution" else case.W[0]
        inputs["W"] = rng.standard_normal(case.W) / np.sqrt(fan_in)
        inputs["b"] = rng.standard_normal(case.W[0] if key == "convolution" else case.W[1])
    if key == "softmax":
        labels = rng.integers(0, case.x[1], case.x[0])
        inputs["t"] = np.eye(case.x[1])[labels] if case.one_hot else labels
    return inputs


@dataclass
class CaseEvidence:
    """What the reference and the student produced on one case."""

    case: Case
    inputs: dict[str, np.ndarray]
    dout: np.ndarray | None
    golden: dict[str, np.ndarray]
    student: dict[str, np.ndarray] = field(default_factory=dict)
    problem: str | None = None  # why the student's run gave no (valid) answer
    backward_problem: str | None = None  # the forward ran (student["out"]) but the backward did not

    def failure(self, part: str) -> str | None:
        """Why this case has no answer for ``part`` ("forward" or "backward"), or None."""
        return self.problem if part == "forward" else (self.problem or self.backward_problem)
    # (array, finite difference, analytic, typical size of a directional derivative)
    directional: list[tuple[str, float, float, float]] = field(default_factory=list)
    gradcheck_problem: str | None = None


@dataclass
class LayerEvidence:
    key: str
    found: bool
    missing_message: str = ""
    cases: list[CaseEvidence] = field(default_factory=list)


def golden_outputs(key: str, case: Case, inputs: dict[str, np.ndarray], rng: np.random.Generator):
    """Reference forward and backward for one case: (out/loss, dx, dW, db), and the random dout used."""
    layer = reference_layer(key, case, inputs)
    out, dout = {}, None
    if key == "softmax":
        out["loss"] = np.asarray(layer.forward(inputs["x"].copy(), inputs["t"].copy()), dtype=np.float64)
        out["dx"] = layer.backward(1.0)
    else:
        out["out"] = layer.forward(inputs["x"].copy())
        dout = rng.standard_normal(out["out"].shape)
        out["dx"] = layer.backward(dout.copy())
    if "W" in inputs:
        out["dW"], out["db"] = layer.dW, layer.db
    return out, dout


def loss_of(key: str, out: np.ndarray, dout: np.ndarray | None) -> float:
    """The scalar whose gradient the backward computes: sum(out * dout), or the loss itself."""
    return float(out) if key == "softmax" else float(np.sum(out * dout))


#: Seconds a layer's later cases get once one case timed out (the cases take milliseconds):
#: a layer that hangs costs one full timeout, not one per case.
AFTER_TIMEOUT = 2.0


def collect(session, key: str, seed: int, timeout: float | None = None) -> LayerEvidence:
    """Run every case of one layer in the worker and gather the evidence for the judges."""
    if not session.has_layer(key):
        return LayerEvidence(key, False, missing_message(key) + session.why_missing("layers", key))
    rng = np.random.default_rng([seed, sum(map(ord, key))])
    evidence = LayerEvidence(key, True)
    for case in LAYERS[key].cases:
        inputs = make_inputs(key, case, rng)
        golden, dout = golden_outputs(key, case, inputs, rng)
        ev = CaseEvidence(case, inputs, dout, golden)
        evidence.cases.append(ev)
        arrays = dict(inputs)
        if dout is not None:
            arrays["dout"] = dout
        try:
            _, reply = session.call("layer_run", {"layer": key, "config": case.config}, arrays, timeout=timeout)
            ev.student = validate_reply(key, ev, reply)
        except (*CallFailure, InvalidOutput) as exc:
            if isinstance(exc, WorkerTimeout):  # the layer hangs: later cases get less time
                timeout = AFTER_TIMEOUT if timeout is None else min(timeout, AFTER_TIMEOUT)
            why = describe_failure(exc) if isinstance(exc, CallFailure) else str(exc)
            forward_failure = "" if key == "softmax" else forward_only(session, key, ev, timeout)
            if forward_failure is None:
                # the forward is still judged on its own; say which half broke
                ev.backward_problem = f"your backward gave no answer (your forward alone ran fine): {why}"
            elif isinstance(exc, WorkerTimeout) and "timed out" in (forward_failure or ""):
                ev.problem = why  # the forward alone hung too (with less time): the first timeout says it
            else:
                ev.problem = forward_failure or why
            continue
        gather_directional(session, key, ev, rng, timeout)
    return evidence


def forward_only(session, key: str, ev: CaseEvidence, timeout) -> str | None:
    """After a failed forward+backward run, run the forward alone: a backward that hangs, raises
    or returns garbage must not cost the forward check. None if a valid output came back, else
    why not."""
    try:
        _, reply = session.call("layer_run", {"layer": key, "config": ev.case.config}, dict(ev.inputs),
                                timeout=timeout)
        ev.student = {"out": validate_array(f"out ({ev.case.name})", reply.get("out"), shape=ev.golden["out"].shape)}
    except CallFailure as exc:
        return describe_failure(exc)
    except InvalidOutput as exc:
        return str(exc)
    return None


def validate_reply(key: str, ev: CaseEvidence, reply: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Check the shape, dtype and finiteness of every array the student returned."""
    clean = {}
    for name, gold in ev.golden.items():
        label = f"{name} ({ev.case.name})"
        if name not in reply:
            if name == "db":
                clean[name] = None  # reported by the backward judge as a missing bias gradient
                continue
            raise InvalidOutput(f"{label}: nothing was returned (the layer did not produce {name})")
        if name == "loss":
            clean[name] = np.asarray(validate_scalar(label, reply[name]))
        else:
            clean[name] = validate_array(label, reply[name], shape=gold.shape)
    return clean


def gather_directional(session, key: str, ev: CaseEvidence, rng, timeout) -> None:
    """Directional finite differences of the student's own forward, in one worker call.

    For each perturbed array A and random direction V: (L(A + hV) - L(A - hV)) / 2h is compared
    with <dL/dA, V> from the student's backward, where L = sum(out * dout) (or the loss).
    """
    perturbable = [n for n in ("x", "W", "b") if n in ev.inputs]
    plan = []  # (array name, direction)
    for name in perturbable:
        for _ in range(DIRECTIONS):
            plan.append((name, rng.standard_normal(ev.inputs[name].shape)))
    stacked = {n: [] for n in ev.inputs}
    for name, v in plan:
        for sign in (1.0, -1.0):
            for n, a in ev.inputs.items():
                stacked[n].append(a + sign * STEP * v if n == name else a)
    arrays = {n: np.stack(v) for n, v in stacked.items()}
    try:
        _, reply = session.call("layer_forward_batch", {"layer": key, "config": ev.case.config},
                                arrays, timeout=timeout)
        outs = reply.get("out")
        if outs is None:
            raise InvalidOutput("the batched forward returned nothing")
        expected = (2 * len(plan),) + (() if key == "softmax" else ev.golden["out"].shape)
        outs = validate_array(f"forward ({ev.case.name})", outs, shape=expected)
    except CallFailure as exc:
        ev.gradcheck_problem = describe_failure(exc)
        return
    except InvalidOutput as exc:
        ev.gradcheck_problem = str(exc)
        return
    grads = {"x": ev.student.get("dx"), "W": ev.student.get("dW"), "b": ev.student.get("db")}
    for i, (name, v) in enumerate(plan):
        fd = (loss_of(key, outs[2 * i], ev.dout) - loss_of(key, outs[2 * i + 1], ev.dout)) / (2 * STEP)
        g = grads[name]
        analytic = float(np.sum(g * v)) if g is not None else 0.0
        # |<g, v>| is typically |g| |v| / sqrt(n); a direction nearly orthogonal to g must not
        # turn rounding (or the textbook's log delta) into a large relative error.
        typical = float(np.linalg.norm(g) * np.linalg.norm(v) / np.sqrt(v.size)) if g is not None else 0.0
        ev.directional.append((name, fd, analytic, typical))


def missing_message(key: str) -> str:
    return not_found.message("layer", key, LAYERS[key].title if key in LAYERS else None)


# ----------------------------------------------------------------------------- judges

def _unavailable(check_id: str, ev: LayerEvidence) -> CheckResult | None:
    first = check_id.endswith(".forward")  # the full explanation once, a pointer after
    if not ev.found:
        return failed(check_id, ev.missing_message if first else not_found.pointer("layer", ev.key, f"layers.{ev.key}.forward"),
                      diagnosis="missing")
    part = "forward" if first else "backward"
    broken = [c.failure(part) for c in ev.cases if c.failure(part)]
    if len(broken) == len(ev.cases):
        return error(check_id, f"no case ran: {broken[0]}")
    return None


def judge_forward(ev: LayerEvidence) -> CheckResult:
    """layers.<key>.forward: the student's output equals the reference output on every case."""
    check_id = f"layers.{ev.key}.forward"
    if (res := _unavailable(check_id, ev)) is not None:
        return res
    out_name = "loss" if ev.key == "softmax" else "out"
    rtol = LOSS_RTOL if ev.key == "softmax" else LAYER_RTOL
    bad, worst = [], 0.0
    for c in ev.cases:
        if c.problem:
            bad.append(f"{c.case.name}: {c.problem}")
            continue
        err = rel_error(c.student[out_name], c.golden[out_name])
        worst = max(worst, err)
        if err > rtol:
            bad.append(f"{c.case.name}: relative error {fmt(err)}")
    figures = {"max_rel_error": worst, "tolerance": rtol, "cases": case_count(len(ev.cases) - len(bad), len(ev.cases))}
    if not bad:
        return passed(check_id, f"matches the reference on {len(ev.cases)} cases "
                                f"(max relative error {fmt(worst)})", **figures)
    code, hint = diagnose.explain(LAYERS[ev.key].forward_diagnoses, ev, "forward")
    return failed(check_id, _join(f"forward differs from the reference in {len(bad)} of "
                                  f"{len(ev.cases)} cases", bad, hint), diagnosis=code, **figures)


def judge_backward(ev: LayerEvidence) -> CheckResult:
    """layers.<key>.backward: dx (and dW, db) equal the reference's for the same dout."""
    check_id = f"layers.{ev.key}.backward"
    if (res := _unavailable(check_id, ev)) is not None:
        return res
    bad, worst = [], 0.0
    for c in ev.cases:
        if c.failure("backward"):
            bad.append(f"{c.case.name}: {c.failure('backward')}")
            continue
        for name in ("dx", "dW", "db"):
            if name not in c.golden:
                continue
            if c.student.get(name) is None:
                bad.append(f"{c.case.name}: {name} was not set")
                continue
            err = rel_error(c.student[name], c.golden[name])
            worst = max(worst, err)
            if err > LAYER_RTOL:
                bad.append(f"{c.case.name}: {name} relative error {fmt(err)}")
    wrong_cases = len(set(b.split(":")[0] for b in bad))
    figures = {"max_rel_error": worst, "tolerance": LAYER_RTOL,
               "cases": case_count(len(ev.cases) - wrong_cases, len(ev.cases))}
    if not bad:
        return passed(check_id, f"{'dx, dW, db match' if 'dW' in ev.cases[0].golden else 'dx matches'} the "
                                f"reference on {len(ev.cases)} cases (max relative error {fmt(worst)})",
                      **figures)
    code, hint = diagnose.explain(LAYERS[ev.key].backward_diagnoses, ev, "backward")
    return failed(check_id, _join(f"backward differs from the reference in {wrong_cases}"
                                  f" of {len(ev.cases)} cases", bad, hint), diagnosis=code, **figures)


def judge_gradcheck(ev: LayerEvidence) -> CheckResult:
    """layers.<key>.gradcheck: the student's backward is the derivative of the student's forward."""
    check_id = f"layers.{ev.key}.gradcheck"
    if (res := _unavailable(check_id, ev)) is not None:
        return res
    ran = [c for c in ev.cases if not c.failure("backward") and not c.gradcheck_problem]
    if not ran:
        first = next(c for c in ev.cases if c.failure("backward") or c.gradcheck_problem)
        return error(check_id, f"could not run the finite-difference check: "
                               f"{first.failure('backward') or first.gradcheck_problem}")
    rtol = gradcheck_tolerance(ev.key)
    bad, worst = [], 0.0
    for c in ran:
        for name, fd, analytic, typical in c.directional:
            err = scalar_rel_error(fd, analytic, floor=typical)
            worst = max(worst, err)
            if err > rtol:
                bad.append(f"{c.case.name}: d/d{name} from your backward {fmt(analytic)}, "
                           f"finite differences of your forward {fmt(fd)}")
    wrong_cases = len(set(b.split(":")[0] for b in bad))
    figures = {"max_rel_error": worst, "tolerance": rtol, "cases": case_count(len(ran) - wrong_cases, len(ev.cases))}
    if not bad:
        return passed(check_id, f"your backward matches finite differences of your own forward "
                                f"on {len(ran)} cases (max relative error {fmt(worst)})", **figures)
    return failed(check_id, _join(f"your backward is not the derivative of your own forward in {wrong_cases} of "
                                  f"{len(ev.cases)} cases", bad,
                                  diagnose.gradcheck_hint(ev)), **figures)


def case_count(passed_cases: int, total: int) -> dict[str, int]:
    """figures["cases"] of a layer check: how many of its cases passed (what partial credit reads)."""
    return {"passed": passed_cases, "total": total}


def judge(ev: LayerEvidence) -> list[CheckResult]:
    """All three checks of one layer."""
    return [judge_forward(ev), judge_backward(ev), judge_gradcheck(ev)]


def _join(headline: str, details: list[str], hint: str | None, limit: int = 4) -> str:
    shown = details[:limit] + ([f"... and {len(details) - limit} more"] if len(details) > limit else [])
    text = headline + ":\n  - " + "\n  - ".join(shown)
    return text + (f"\nLikely cause: {hint}" if hint else "")
