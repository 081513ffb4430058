"""Reports built in code for the renderer tests: visible, hidden and extra-credit checks, layer
cases, and the deliverable figures (confusion matrix, loss log, top-3, CAM, accuracy)."""

from __future__ import annotations

import numpy as np

from grader.results import CheckResult, Report

#: ids and message fragments of the hidden checks: must never appear in a student-facing output
HIDDEN_IDS = ("layers.secret_conv.backward", "three_layer_cnn.hidden_generalisation")
HIDDEN_MESSAGES = ("SECRET-MESSAGE-conv-stride-2", "SECRET-MESSAGE-held-out-digits")


def _check(check_id, status, message="", score=0.0, max_score=0.0, hidden=False, extra=False, **figures):
    c = CheckResult(check_id, status, message, figures, score=score, max_score=max_score)
    # the parallel results.py adds these fields; set them as attributes until it lands
    c.hidden = hidden
    c.extra = extra
    return c


def deliverable_figures(rng=None):
    rng = rng or np.random.default_rng(0)
    matrix = (np.eye(10) * 90 + rng.integers(0, 5, (10, 10))).astype(int)
    model = (np.eye(10) * 95 + rng.integers(0, 3, (10, 10))).astype(int)
    steps = np.arange(40)
    return {
        "confusion_matrix": {"matrix": matrix.tolist(), "model_matrix": model.tolist()},
        "loss_log": {"train": (2.3 * np.exp(-steps / 12) + 0.1).tolist(),
                     "valid": (2.3 * np.exp(-steps / 14) + 0.2).tolist()[::4]},
        "top3": {"index": (np.arange(30).reshape(10, 3) * 7).tolist(),
                 "prob": np.clip(0.99 - rng.random((10, 3)) * 0.1, 0, 1).tolist(), "among": 1000},
        "cam": {"cam": rng.random((7, 7)).tolist(), "reference_cam": rng.random((7, 7)).tolist(), "sample_index": 3},
        "accuracy": {"reported": 0.981, "measured": 0.976},
    }


def sample_report(untrusted: str = "<script>alert('x')</script> & [/]") -> Report:
    f = deliverable_figures()
    checks = [
        _check("load", "passed", "2 files imported"),
        _check("layers.affine.forward", "passed", "matches the reference", 1, 1, cases={"passed": 4, "total": 4}),
        _check("layers.convolution.backward", "failed",
               f"dx differs from the reference: {untrusted}\nmax abs error 0.31 at [0, 2, 5, 5]\n"
               "hint: the backward of a strided convolution scatters into every window",
               0.5, 1, cases={"passed": 2, "total": 4}),
        _check("layers.softmax.forward", "error", "your code raised ZeroDivisionError\nline 12 in softmax", 0, 1),
        _check("layers.pooling.forward", "skipped", "no pooling layer in the submission"),
        _check("three_layer_cnn.gradient", "passed", "matches finite differences", 2, 2),
        _check("three_layer_cnn.confusion_matrix", "passed", "accuracy 91.2 % on 1000 test images", 1, 1,
               **f["confusion_matrix"]),
        _check("three_layer_cnn.loss_log", "passed", "loss went down from 2.4 to 0.15", 1, 1, **f["loss_log"]),
        _check("three_layer_cnn.top3", "passed", "top-3 images found", 1, 1, **f["top3"]),
        _check("three_layer_cnn.accuracy", "failed", "reported 98.1 % but measured 97.6 %", 1, 2, **f["accuracy"]),
        _check("three_layer_cnn.cam", "passed", "CAM agrees with the reference", 3, 3, extra=True, **f["cam"]),
        _check(HIDDEN_IDS[0], "failed", f"{HIDDEN_MESSAGES[0]}\nsecond line", 0, 2, hidden=True,
               cases={"passed": 0, "total": 3}),
        _check(HIDDEN_IDS[1], "passed", HIDDEN_MESSAGES[1], 1, 1, hidden=True, matrix=[[1, 2], [3, 4]]),
    ]
    return Report(submission=f"sample {untrusted}", rubric="built-in:pa2", seed=7, sandbox={"isolation": "none"},
                  checks=checks, warnings=[f"a warning with {untrusted}"], seconds=12.34, grader_version="0.1.0")


def layers_only_report() -> Report:
    """No deliverables, no hidden or extra checks: the smallest report every format must take."""
    return Report(submission="tiny", rubric="built-in:pa2", seed=1, sandbox={"isolation": "none"},
                  checks=[_check("load", "passed", "1 file imported"),
                          _check("layers.relu.forward", "passed", "", 1, 1)])
