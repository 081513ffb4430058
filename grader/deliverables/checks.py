"""The deliverable checks of one network: find the files the contract names, read them (bounded),
evaluate the handed-in weights once, and judge each deliverable on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import grader.deliverables.evaluate as ev_mod
import grader.deliverables.judges as judges
import grader.deliverables.readers as readers
import grader.deliverables.tensorboard_logs as tensorboard_logs
from grader.session import CallFailure, describe_failure
from grader.validate import InvalidOutput
from grader.deliverables.contract import FORMATS
from grader.deliverables.readers import ReadError
from grader.deliverables.settings import CHECKS, NO_CAM, DeliverableSettings
from grader.results import CheckResult, error, failed

#: check kind -> the file kinds it reads, in order of preference.
SOURCES = {"confusion_matrix": ("confusion",), "top3": ("top3", "tensorboard"), "loss_log": ("loss", "tensorboard"),
           "accuracy": ("metrics",), "cam": ("cam",)}


def _missing(check_id: str, settings: DeliverableSettings, kinds, net: str, network_found: bool = True) -> CheckResult:
    where = " or ".join(settings.contract.expected(k, net) + ("/ (TensorBoard run)" if k == "tensorboard" else "")
                        for k in kinds)
    first = "" if network_found else f"network '{net}' was not found in the submission ({net}.architecture says " \
                                     "where the grader looked), and "
    return failed(check_id, f"{first}no file found at {where}: hand in {FORMATS[kinds[0]]}", diagnosis="missing_file")


def _unreadable(check_id: str, exc: ReadError, rel: str) -> CheckResult:
    return failed(check_id, f"{rel}: {exc}", diagnosis="unreadable_file")


def applies(check: str):
    """Which networks a deliverable kind is for: CAM needs a convolution, the rest apply to all."""
    return (lambda key: key not in NO_CAM) if check == "cam" else None


def _logits_passed(ctx) -> bool:
    return any(r.id == f"{ctx.key}.logits" and r.ok for r in ctx.earlier)


def _listed(ctx) -> list[str]:
    """The deliverable kinds the plan lists, in their order."""
    return [c for c in CHECKS if c in ctx.plan.network_checks]


def prepare(ctx) -> bool:
    """Start the test-set evaluation of the handed-in weights as soon as ``<net>.logits`` has run (right
    away when the plan has no logits check), so the reference's pass over the test set runs while the
    network's training checks use the worker. True once done (the registry stops asking)."""
    if "logits" in ctx.plan.network_checks and not any(r.id == f"{ctx.key}.logits" for r in ctx.earlier):
        return False
    if "evaluation" not in ctx.shared:
        started = begin_evaluation(ctx.session, ctx.key, ctx.evidence, ctx.plan, ctx.data_dir, ctx.seed,
                                   logits_passed=_logits_passed(ctx), timeout=ctx.timeout, wanted=_listed(ctx))
        if started is not None:
            started.loaded = False  # the checks that run before the deliverables renew the worker's network
        ctx.shared["evaluation"] = started
    return True


def run_kind(ctx, check: str) -> CheckResult:
    """One deliverable kind for the registry: the first kind of a network to run judges all the kinds
    the plan lists (they share one evaluation of the handed-in weights), the others read the result."""
    if "deliverables" not in ctx.shared:
        ctx.shared["deliverables"] = {r.id: r for r in deliverable_checks(
            ctx.session, ctx.key, ctx.evidence, ctx.plan, ctx.data_dir, ctx.seed, logits_passed=_logits_passed(ctx),
            timeout=ctx.timeout, wanted=_listed(ctx), started=ctx.shared.get("evaluation"))}
    result = ctx.shared["deliverables"][f"{ctx.key}.{check}"]
    if check == "accuracy" and result.diagnosis == "low_accuracy":
        why = explain_low_accuracy(ctx.key, ctx.earlier, ctx.evidence)
        if why:
            result.message += "\n" + why
            result.figures["explanation"] = why
    return result


def explain_low_accuracy(key: str, earlier: list[CheckResult], ev) -> str:
    """What the grader can tell about a low test accuracy from this network's other checks: is the
    gradient right, does the reference learn at this init, how large the student's init is."""
    status = {r.id.rsplit(".", 1)[-1]: r for r in earlier}
    lines = []
    grads = [status.get(k) for k in ("gradient", "gradcheck")]
    if all(r is not None and r.ok for r in grads):
        lines.append(f"- your gradient is right ({key}.gradient and {key}.gradcheck passed): the code computes "
                     "what it should, so the cause is in the training, not the backward pass")
    elif any(r is not None and not r.ok for r in grads):
        lines.append(f"- your gradient is wrong (see {key}.gradient / {key}.gradcheck): fix that first")
    stds = {n: float(np.std(a)) for n, a in (getattr(ev, "initial", None) or {}).items() if np.ndim(a) >= 2}
    if stds:
        shown = ", ".join(f"{n} {v:.3g}" for n, v in list(stds.items())[:6])
        lines.append(f"- your initial weights' standard deviations: {shown}")
        if max(stds.values()) <= 0.02 and len(stds) >= 3:
            lines.append("- at an init this small, every layer shrinks the signal and its gradient: the reference "
                         "network at std 0.01 and lr 0.1 also sits on the ln 10 loss plateau for its first 64-128 "
                         "steps (README, \"Own training\")")
            lines.append("- what would train: He init (std sqrt(2 / fan_in) per layer), more steps, or a larger "
                         "learning rate once the loss has left the plateau")
    training = status.get("training")
    if training is not None and training.status == "skipped" and training.figures.get("worth_points") is False:
        lines.append(f"- {key}.training could not judge your own training in its budget: {training.message}")
    return ("why the accuracy may be low (what the grader can tell):\n" + "\n".join(lines)) if lines else ""


def _wanted(key: str, wanted) -> list[str]:
    return [c for c in CHECKS if c in wanted and not (c == "cam" and key in NO_CAM)]


def begin_evaluation(session, key: str, ev, plan, data_dir, seed: int, *, logits_passed: bool = False,
                     timeout=None, wanted=CHECKS) -> ev_mod.Evaluation | None:
    """Start evaluating ``results/<key>/weights.*`` on the test set (:func:`evaluate.start`); None when
    there is nothing to evaluate (no weights, no matching architecture, no kind that needs the model,
    no MNIST: the checks say which)."""
    settings = DeliverableSettings.from_section(getattr(plan, "deliverables", None))
    if not ({"confusion_matrix", "top3", "loss_log", "accuracy"} & set(_wanted(key, wanted))):
        return None
    if not (ev.found and ev.options is not None):
        return None
    root = Path(session.sandbox.submission_dir)
    weights = settings.contract.find(root, "weights", key)
    if weights is None:
        return None
    try:
        x, _ = ev_mod.test_set(None if data_dir is None else str(data_dir))
    except Exception:
        return None
    return ev_mod.start(session, ev, weights.relative_to(root).as_posix(), x, seed, logits_passed=logits_passed,
                        timeout=timeout)


def deliverable_checks(session, key: str, ev, plan, data_dir, seed: int, *, logits_passed: bool = False,
                       timeout=None, wanted=CHECKS, started: ev_mod.Evaluation | None = None) -> list[CheckResult]:
    """``<key>.confusion_matrix|top3|loss_log|accuracy|cam`` (those in ``wanted``), with the paths and
    ranking of the plan's ``deliverables`` section (the contract's defaults where it has none).
    ``started``: the evaluation :func:`prepare` began earlier (None: begin it now)."""
    settings = DeliverableSettings.from_section(getattr(plan, "deliverables", None))
    wanted = _wanted(key, wanted)
    if not wanted:
        return []
    root = Path(session.sandbox.submission_dir)
    contract = settings.contract
    rel = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    try:
        x, labels = ev_mod.test_set(None if data_dir is None else str(data_dir))
    except Exception as exc:  # no MNIST: nothing can be judged, say why once per check
        return [error(f"{key}.{c}", f"the MNIST test set could not be loaded: {exc}") for c in wanted]
    counts = np.bincount(labels, minlength=10)

    weights = contract.find(root, "weights", key)
    hint = contract.expected("weights", key).split(" or ")[0]
    ready = ev.found and ev.options is not None
    if started is None:
        started = begin_evaluation(session, key, ev, plan, data_dir, seed, logits_passed=logits_passed,
                                   timeout=timeout, wanted=wanted)
    evaluation = ev_mod.Evaluation() if started is None else \
        ev_mod.finish(session, ev, started, x, labels, seed, timeout=timeout)
    model = evaluation.outputs
    if weights is None:
        no_model = f" ({hint} not found)"
    elif not ready:
        no_model = f" (weights found, but {key}.architecture did not match, so they were not run)"
    else:
        no_model = f" ({evaluation.problem})" if evaluation.problem else ""

    def found(kinds):
        for kind in kinds:
            path = contract.find(root, kind, key)
            if path is not None and (kind != "tensorboard" or tensorboard_logs.event_files(path)):
                return kind, path
        return None, None

    reported = None
    metrics_path = contract.find(root, "metrics", key)
    if metrics_path is not None:
        try:
            reported = readers.read_metrics(metrics_path)
        except ReadError:
            pass  # the accuracy check reports it
    results = []
    for check in wanted:
        check_id = f"{key}.{check}"
        try:
            kind, path = found(SOURCES[check])
        except ReadError as exc:
            results.append(failed(check_id, str(exc), diagnosis="unreadable_file"))
            continue
        if path is None:
            results.append(_missing(check_id, settings, SOURCES[check], key, ev.found))
            continue
        try:
            if check == "confusion_matrix":
                res = judges.judge_confusion(key, readers.read_confusion(path), counts=counts,
                                             reported_accuracy=reported, model=model, weights_hint=hint + no_model)
            elif check == "top3":
                top3 = readers.read_top3(path) if kind == "top3" else \
                    tensorboard_logs.read_top3_images(path, np.round(x[:, 0] * 255).astype(np.uint8))
                res = judges.judge_top3(key, top3, labels=labels, among=settings.top3_among, model=model,
                                        weights_hint=hint + no_model)
            elif check == "loss_log":
                log = readers.read_loss(path) if kind == "loss" else tensorboard_logs.read_losses(path)
                res = judges.judge_loss_log(key, log, model=model, weights_hint=hint + no_model)
            elif check == "accuracy":
                res = judges.judge_accuracy(key, readers.read_metrics(path), model=model, weights_hint=hint + no_model,
                                            thresholds=settings.accuracy)
            else:
                res = cam_check(session, key, ev, contract, root, path, x, weights, timeout, settings, hint + no_model,
                                loaded=evaluation.loaded)
        except ReadError as exc:
            res = _unreadable(check_id, exc, rel(path))
        if model is not None:
            res.figures.setdefault("model_source", model.source)
        results.append(res)
    return results


def cam_check(session, key, ev, contract, root, path, x, weights, timeout, settings, hint, *,
              loaded: bool = False) -> CheckResult:
    """<net>.cam: the student's own feature maps and final weights for the shared sample, in the worker
    (``loaded``: the evaluation left the handed-in weights in ``ev.handle``, so they are not read again)."""

    check_id = f"{key}.cam"
    sample_path = contract.find(root, "cam_sample", key)
    if sample_path is None:
        return failed(check_id, f"no {contract.expected('cam_sample', key)}: hand in {FORMATS['cam_sample']}",
                      diagnosis="missing_file")
    sample = readers.read_cam_sample(sample_path, len(x))
    cam = readers.read_cam(path)
    if not (ev.found and ev.options is not None):
        return judges.judge_cam(key, cam, sample, weights_hint=hint)
    try:
        if weights is not None and not loaded:
            ev_mod.load_weights(session, ev, weights.relative_to(root).as_posix(), 0, timeout)
        features, W_fc, _ = ev_mod.cam_inputs(session, ev, x[sample[0]], timeout)
    except CallFailure as exc:
        return error(check_id, f"your network's feature maps could not be computed: {describe_failure(exc)}")
    except InvalidOutput as exc:
        return failed(check_id, f"your network's feature maps are unusable: {exc}", diagnosis="invalid_output")
    if features is None:
        return failed(check_id, "the last conv layer of your network could not be found (no conv layer in its layers)",
                      diagnosis="cam_head")
    if weights is None:
        return judges.judge_cam(key, cam, sample, feature_shape=features.shape, weights_hint=hint)
    return judges.judge_cam(key, cam, sample, feature_shape=features.shape, features=features, W_fc=W_fc,
                            form=settings.cam_form or "cam", source="your network")
