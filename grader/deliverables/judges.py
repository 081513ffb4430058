"""Pure judges of the deliverables: handed-in values (and, when weights were handed in, the model's
own outputs on the test set) in, one :class:`~grader.results.CheckResult` out.

Check ids ``<net>.confusion_matrix``, ``<net>.top3``, ``<net>.loss_log``, ``<net>.accuracy``,
``<net>.cam``. Figure keys are fixed (the HTML report reads them) and JSON-able.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grader.results import CheckResult, failed, passed
from reference import metrics

#: MNIST's test-set class counts (rows of a correct confusion matrix sum to these).
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
LN10 = math.log(10.0)
#: A loss entry above this is taken for the entry before training and must be near ln 10.
ENTRY0_MIN = 1.5
INITIAL_LOSS_TOL = 0.3
#: Top-two logits closer than this are a near-tie: float32 and float64 may predict differently there.
NEAR_TIE = 1e-3
#: A listed top-3 probability may differ from the model's by this much (float32 frameworks).
TOP3_TOL = 1e-4
#: A normalised CAM may differ from the recomputed one by this much at native resolution...
CAM_TOL = 0.02
#: ...and at 28x28, where the upsampling is the student's choice, must correlate at least this much.
CAM_MIN_CORRELATION = 0.98


@dataclass
class ModelOutputs:
    """The handed-in model's logits on the full test set (with the labels, parent side only)."""

    logits: np.ndarray      # (N, 10) float64
    labels: np.ndarray      # (N,) int64
    source: str             # "your network" / "the reference network (...)": said in every message

    @property
    def probs(self) -> np.ndarray:
        return metrics.softmax(self.logits)

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    def near_ties(self) -> np.ndarray:
        """Per image: whether the top two logits are within :data:`NEAR_TIE` (scaled by their size)."""
        top2 = np.sort(self.logits, axis=1)[:, -2:]
        return (top2[:, 1] - top2[:, 0]) <= NEAR_TIE * (1 + np.abs(top2[:, 1]))

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean())

    def loss(self) -> float:
        p = self.probs[np.arange(len(self.labels)), self.labels]
        return float(-np.log(np.maximum(p, 1e-300)).mean())


def _list(a) -> list:
    return np.asarray(a, dtype=np.float64).tolist()


def reported_tolerance(value: float, n: int = 10_000) -> float:
    """Half a unit of the last decimal the student wrote (at most 4 decimals read), at least 1/n."""
    text = repr(float(value))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 4
    return max(0.5 * 10.0 ** -min(decimals, 4), 1.0 / n) + 1e-12


def no_weights_note(expected_weights: str) -> str:
    return (f"; no weights were handed in, so it was not compared with your model: add {expected_weights} "
            f"to have it checked against the network itself")


# ----------------------------------------------------------------------------- confusion matrix

def counts_from(matrix: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray | None, str | None, str]:
    """(integer counts with rows = true class, how it was read, problem) from a handed-in matrix."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (10, 10):
        return None, None, f"the matrix is {m.shape[0]}x{m.shape[1]}, not 10x10"
    if not np.all(np.isfinite(m)) or m.min() < 0:
        return None, None, "the matrix holds negative, NaN or infinite entries"
    if np.allclose(m.sum(axis=1), 1.0, atol=1e-3):
        scaled = m * counts[:, None]
        if np.abs(scaled - np.round(scaled)).max() > 0.5 + 1e-6:
            return None, None, "the rows sum to 1 but do not scale to whole counts"
        return np.round(scaled).astype(np.int64), "row-normalised (rows scaled back to counts)", None
    if not np.all(m == np.round(m)):
        return None, None, "the entries are not whole counts (and the rows do not sum to 1)"
    m = m.astype(np.int64)
    if np.array_equal(m.sum(axis=1), counts):
        return m, "counts", None
    if np.array_equal(m.sum(axis=0), counts):
        return None, "transposed", ("the matrix is transposed: its columns sum to the test-set class counts, "
                                    "so rows are the predicted class; write rows = true class, columns = predicted")
    return None, None, (f"its row sums {m.sum(axis=1).tolist()} are not the test-set class counts "
                        f"{counts.tolist()} (rows = true class, over all 10000 test images)")


def judge_confusion(net: str, matrix: np.ndarray, *, counts=MNIST_TEST_COUNTS, reported_accuracy: float | None = None,
                    model: ModelOutputs | None = None, weights_hint: str = "") -> CheckResult:
    """<net>.confusion_matrix: shape, counts, orientation, trace vs accuracy, and the model's own matrix."""
    check_id = f"{net}.confusion_matrix"
    counts = np.asarray(counts, dtype=np.int64)
    figures = {"matrix": _list(matrix)} if np.ndim(matrix) == 2 else {}
    cm, how, problem = counts_from(matrix, counts)
    if problem:
        return failed(check_id, f"confusion matrix: {problem}", diagnosis="transposed" if how == "transposed" else "inconsistent",
                      **figures)
    figures["matrix"] = _list(cm)
    n = int(counts.sum())
    trace_acc = float(np.trace(cm)) / n
    if reported_accuracy is not None and abs(trace_acc - reported_accuracy) > reported_tolerance(reported_accuracy, n):
        return failed(check_id, f"the matrix's trace gives accuracy {trace_acc:.4f} but metrics.json reports "
                                f"{reported_accuracy}: they come from different models or runs", diagnosis="inconsistent",
                      **figures)
    note = "" if how == "counts" else f" ({how})"
    if model is None:
        return passed(check_id, f"10x10, rows sum to the test-set class counts, trace accuracy {trace_acc:.4f}{note}"
                                + no_weights_note(weights_hint), **figures)
    own = metrics.confusion_matrix(model.labels, model.predictions)
    figures["model_matrix"] = _list(own)
    diff = np.abs(cm - own)
    if not diff.any():
        return passed(check_id, f"equal to the confusion matrix of {model.source} on the 10000 test images{note}",
                      **figures)
    ties = model.near_ties()
    allowed = np.bincount(model.labels[ties], minlength=10)
    moved = diff.sum(axis=1) // 2
    if np.all(moved <= allowed) and np.all(diff.sum(axis=1) % 2 == 0):
        return passed(check_id, f"equal to the matrix of {model.source} except {int(moved.sum())} prediction(s) at "
                                f"near-ties of the top two logits (float32 vs float64){note}", **figures)
    worst = np.unravel_index(int(diff.argmax()), diff.shape)
    return failed(check_id, f"the matrix is not the one {model.source} gives with the handed-in weights: "
                            f"{int(diff.sum()) // 2} predictions differ, e.g. true {worst[0]} / predicted {worst[1]}: "
                            f"yours {int(cm[worst])}, the model's {int(own[worst])}", diagnosis="not_the_model", **figures)


# ----------------------------------------------------------------------------- top-3

def _sorted_row(p: np.ndarray) -> bool:
    d = np.diff(p)
    return bool(np.all(d <= 0) or np.all(d >= 0))


def judge_top3(net: str, top3: dict, *, labels: np.ndarray, among: str | None = None,
               model: ModelOutputs | None = None, weights_hint: str = "") -> CheckResult:
    """<net>.top3: valid distinct indices, probabilities in [0, 1], sorted; with the model, the true top-3."""
    check_id = f"{net}.top3"
    index, prob = np.asarray(top3["index"], dtype=np.int64), top3.get("prob")
    declared = top3.get("among", "all")
    among = among or declared
    figures = {"index": index.tolist(), "prob": None if prob is None else _list(prob), "among": among}
    n = len(labels)
    if index.shape != (10, 3):
        return failed(check_id, f"top-3: 'index' is {index.shape}, not 10 rows of 3", diagnosis="inconsistent", **figures)
    if index.min() < 0 or index.max() >= n:
        return failed(check_id, f"top-3: indices must lie in [0, {n}) (found {index.min()}..{index.max()})",
                      diagnosis="inconsistent", **figures)
    repeated = [c for c in range(10) if len(set(index[c].tolist())) < 3]
    if repeated:
        return failed(check_id, f"top-3: class(es) {repeated} list the same image twice", diagnosis="inconsistent", **figures)
    if declared != among:
        return failed(check_id, f"top-3 ranked among {declared!r} images but the rubric asks among {among!r}",
                      diagnosis="inconsistent", **figures)
    if among == "class":
        wrong = [c for c in range(10) if np.any(labels[index[c]] != c)]
        if wrong:
            return failed(check_id, f"top-3 'among: class' but class(es) {wrong} list images of another label",
                          diagnosis="inconsistent", **figures)
    if prob is None:
        return failed(check_id, "top-3: no probabilities were handed in ('prob': 10 rows of 3)", diagnosis="inconsistent",
                      **figures)
    prob = np.asarray(prob, dtype=np.float64)
    if prob.shape != (10, 3) or not np.all(np.isfinite(prob)) or prob.min() < 0 or prob.max() > 1:
        return failed(check_id, "top-3: probabilities must be 10 rows of 3 numbers in [0, 1] (are they logits?)",
                      diagnosis="inconsistent", **figures)
    unsorted = [c for c in range(10) if not _sorted_row(prob[c])]
    if unsorted:
        return failed(check_id, f"top-3: the rows of class(es) {unsorted} are not sorted (ascending or descending)",
                      diagnosis="inconsistent", **figures)
    if model is None:
        return passed(check_id, "10 classes x 3 distinct valid images, probabilities in [0, 1], sorted"
                                + no_weights_note(weights_hint), **figures)
    probs = model.probs
    for c in range(10):
        own = probs[index[c], c]
        off = np.abs(own - prob[c])
        if off.max() > TOP3_TOL:
            j = int(off.argmax())
            return failed(check_id, f"top-3 of class {c}: image {int(index[c, j])} has probability {own[j]:.6f} under "
                                    f"{model.source}, not {prob[c, j]:.6f} as listed (tolerance {TOP3_TOL})",
                          diagnosis="not_the_model", **figures)
        candidates = np.arange(n) if among == "all" else np.flatnonzero(model.labels == c)
        unlisted = np.setdiff1d(candidates, index[c])
        best = int(unlisted[probs[unlisted, c].argmax()])
        if probs[best, c] > own.min() + TOP3_TOL:
            return failed(check_id, f"top-3 of class {c} is not the top: image {best} has probability {probs[best, c]:.6f} "
                                    f"under {model.source}, above the listed {own.min():.6f} (tolerance {TOP3_TOL})",
                          diagnosis="not_the_top", **figures)
    return passed(check_id, f"the listed images are the top-3 per class of {model.source} among {among!r} test images "
                            f"(probabilities within {TOP3_TOL}; ties at 1.0 accepted)", **figures)


# ----------------------------------------------------------------------------- loss log

def looks_typed(values: list[float]) -> bool:
    """Every value has at most 2 decimals: a log typed by hand (or rounded away), not one a run wrote."""
    return len(values) >= 3 and all(abs(v * 100 - round(v * 100)) < 1e-9 for v in values)


def judge_loss_log(net: str, log: dict, *, model: ModelOutputs | None = None, weights_hint: str = "") -> CheckResult:
    """<net>.loss_log: equal lengths, finite, entry 0 near ln 10 when present, trending down."""
    check_id = f"{net}.loss_log"
    train, valid = list(log["train"]), list(log["valid"])
    figures = {"train": train, "valid": valid}
    if len(train) != len(valid):
        return failed(check_id, f"train and valid logs differ in length ({len(train)} vs {len(valid)}): log both once "
                                f"per epoch (and both or neither before training)", diagnosis="inconsistent", **figures)
    if len(train) < 2:
        return failed(check_id, f"{len(train)} loss entries: at least two epochs are needed to show a trend",
                      diagnosis="inconsistent", **figures)
    if not all(math.isfinite(v) and v >= 0 for v in train + valid):
        return failed(check_id, "the loss logs hold NaN, infinite or negative values", diagnosis="diverged", **figures)
    for name, values in (("train", train), ("valid", valid)):
        if values[0] > ENTRY0_MIN and abs(values[0] - LN10) > INITIAL_LOSS_TOL:
            return failed(check_id, f"the {name} log starts at {values[0]:.4f}: a log's entry before training should be "
                                    f"near ln 10 = {LN10:.4f} for a fresh 10-class network", diagnosis="initial_loss",
                          **figures)
        if not values[-1] < values[0]:
            return failed(check_id, f"the {name} loss does not go down ({values[0]:.4f} -> {values[-1]:.4f})",
                          diagnosis="not_learning", **figures)
    if looks_typed(train) and looks_typed(valid):
        return failed(check_id, "every logged loss has at most 2 decimals: this log looks typed by hand; hand in the "
                                "values your training run wrote (unrounded)", diagnosis="typed_by_hand", **figures)
    if model is None:
        return passed(check_id, f"{len(train)} entries each, finite, going down ({train[0]:.4f} -> {train[-1]:.4f})"
                                + no_weights_note(weights_hint), **figures)
    test_loss = model.loss()
    figures["model_test_loss"] = test_loss
    if abs(valid[-1] - test_loss) > max(0.1, test_loss):
        return failed(check_id, f"the final valid loss {valid[-1]:.4f} is far from the test-set loss {test_loss:.4f} of "
                                f"{model.source}: the log does not belong to the handed-in weights", diagnosis="not_the_model",
                      **figures)
    return passed(check_id, f"{len(train)} entries each, going down, final valid loss {valid[-1]:.4f} consistent with the "
                            f"test-set loss {test_loss:.4f} of {model.source}", **figures)


# ----------------------------------------------------------------------------- accuracy

def judge_accuracy(net: str, reported: float, *, model: ModelOutputs | None = None,
                   confusion_trace: float | None = None, weights_hint: str = "",
                   thresholds: tuple[float, float] | None = None) -> CheckResult:
    """<net>.accuracy: the reported test accuracy equals the model's (figures: reported, measured), and
    with ``thresholds`` (full, zero) it is high enough: full points at or above ``full``, none at or
    below ``zero``, linear between (figures["fraction"], paid when the rubric marks it partial)."""
    check_id = f"{net}.accuracy"
    if model is None:
        figures = {"reported": reported, "measured": None}
        text = f"reported test accuracy {reported:.4f}" + no_weights_note(weights_hint)
        return _accuracy_bar(check_id, reported, "reported", text, figures, thresholds)
    measured = model.accuracy
    figures = {"reported": reported, "measured": measured}
    tol = reported_tolerance(reported, len(model.labels))
    if abs(measured - reported) > tol:
        return failed(check_id, f"reported test accuracy {reported} but {model.source} with the handed-in weights "
                                f"scores {measured:.4f} on the 10000 test images", diagnosis="not_the_model", **figures)
    text = f"reported {reported} = {measured:.4f} measured with {model.source}"
    return _accuracy_bar(check_id, measured, "measured", text, figures, thresholds)


def accuracy_fraction(accuracy: float, full: float, zero: float) -> float:
    """1 at or above ``full``, 0 at or below ``zero``, linear between."""
    if accuracy >= full:
        return 1.0
    if accuracy <= zero or full <= zero:
        return 0.0
    return (accuracy - zero) / (full - zero)


def _accuracy_bar(check_id: str, accuracy: float, how: str, text: str, figures: dict,
                  thresholds: tuple[float, float] | None) -> CheckResult:
    if thresholds is None:
        return passed(check_id, text, **figures)
    full, zero = thresholds
    fraction = accuracy_fraction(accuracy, full, zero)
    figures = {**figures, "fraction": round(fraction, 6), "full_at": full, "zero_at": zero}
    if fraction >= 1.0:
        return passed(check_id, f"{text}; at or above {full:.2%} for full points", **figures)
    return failed(check_id, f"{text}: below the {full:.2%} the rubric asks for full points ({how} {accuracy:.2%}; "
                            f"{fraction:.0%} of the points between {zero:.2%} and {full:.2%})",
                  diagnosis="low_accuracy", **figures)


# ----------------------------------------------------------------------------- CAM

def reference_cams(features: np.ndarray, W_fc: np.ndarray, c: int) -> dict[str, np.ndarray]:
    """The CAM forms that apply to this head: flatten->affine (per-location contribution) or GAP
    (standard CAM), and Grad-CAM (the logit is linear in the features, so its gradient is W)."""
    A = np.asarray(features, dtype=np.float64)
    C, H, W = A.shape
    if W_fc.shape[0] == C * H * W:
        grads = W_fc[:, c].reshape(A.shape)
        return {"cam": metrics.cam_flatten_affine(A, W_fc, c), "grad_cam": metrics.grad_cam(A, grads)}
    if W_fc.shape[0] == C:
        grads = np.broadcast_to(W_fc[:, c][:, None, None] / (H * W), A.shape)
        return {"cam": metrics.cam_gap(A, W_fc, c), "grad_cam": metrics.grad_cam(A, grads)}
    return {}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1) - a.mean(), b.reshape(-1) - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else (1.0 if not a.any() and not b.any() else 0.0)


def judge_cam(net: str, cam: np.ndarray, sample: tuple[int, int], *, feature_shape: tuple[int, ...] | None = None,
              features: np.ndarray | None = None, W_fc: np.ndarray | None = None, form: str = "cam",
              source: str = "", weights_hint: str = "") -> CheckResult:
    """<net>.cam: the map's shape is the last conv layer's (or 28x28) and, with the model's feature maps and
    final-layer weights, equals the CAM recomputed from them after normalisation."""
    check_id = f"{net}.cam"
    index, cls = sample
    student = metrics.normalize_cam(cam)
    figures = {"cam": _list(student), "reference_cam": None, "sample_index": index}
    native = tuple(feature_shape[-2:]) if feature_shape is not None else None
    shape = tuple(cam.shape)
    if native is not None and shape not in (native, (28, 28)):
        return failed(check_id, f"the CAM is {shape[0]}x{shape[1]}, but the last conv layer's feature maps are "
                                f"{native[0]}x{native[1]}: a CAM is {native[0]}x{native[1]} or upsampled to 28x28 "
                                f"(is it from another layer?)", diagnosis="wrong_layer", **figures)
    if features is None or W_fc is None:
        return passed(check_id, f"a {shape[0]}x{shape[1]} map for test image {index}, class {cls}"
                                + no_weights_note(weights_hint), **figures)
    forms = reference_cams(features, W_fc, cls)
    if not forms:
        return failed(check_id, f"the CAM cannot be recomputed: the final affine layer takes {W_fc.shape[0]} inputs, "
                                f"not the {int(np.prod(features.shape))} values of the last conv layer's maps (nor "
                                f"{features.shape[0]} pooled channels)", diagnosis="cam_head", **figures)
    tried = [form] if form in forms else list(forms)
    best = None
    for name in tried:
        ref = metrics.normalize_cam(forms[name])
        if shape == native:
            score = float(np.abs(ref - student).max())
            ok = score <= CAM_TOL
            detail = f"max difference {score:.3f} after normalisation (tolerance {CAM_TOL})"
        else:
            ref = metrics.normalize_cam(metrics.upsample(ref, (28, 28)))
            score = _correlation(ref, student)
            ok = score >= CAM_MIN_CORRELATION
            detail = f"correlation {score:.3f} with the bilinear-upsampled map (at least {CAM_MIN_CORRELATION})"
        if best is None or ok:
            best = (ok, name, ref, detail)
        if ok:
            break
    ok, name, ref, detail = best
    figures["reference_cam"] = _list(ref)
    label = {"cam": "the CAM", "grad_cam": "Grad-CAM"}[name]
    if ok:
        return passed(check_id, f"equal to {label} recomputed from {source}'s own feature maps and final-layer weights "
                                f"for test image {index}, class {cls}: {detail}", **figures)
    return failed(check_id, f"not the CAM of {source} for test image {index}, class {cls}: {detail} (recomputed from the "
                            f"last conv layer's feature maps and the final affine weights)", diagnosis="wrong_cam", **figures)
