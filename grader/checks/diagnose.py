"""Known mistakes that explain a layer mismatch.

Each diagnosis recomputes what a specific wrong implementation would have produced on the
same inputs and compares it with what the student produced. A match names the mistake;
nothing is guessed from the message of an exception alone.

A diagnosis is a function ``(evidence, failing cases) -> (code, hint) | None``; which ones a
layer tries, and in which order, is part of that layer's entry in
:data:`grader.checks.layers.LAYERS`. :func:`explain` runs such a list.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from grader.checks.compare import LAYER_RTOL, gradcheck_tolerance, rel_error, scalar_rel_error
from reference import layers as ref

#: Agreement needed to say "your output is exactly what mistake X produces".
MATCH = 1e-6

Found = tuple[str, str]
Diagnosis = Callable[[object, list], "Found | None"]

FORWARD_OUTPUTS = ("out",)
BACKWARD_OUTPUTS = ("dx", "dW", "db")


def explain(diagnoses: Sequence[Diagnosis], ev, part: str) -> tuple[str | None, str | None]:
    """(code, hint) of the first diagnosis that matches a ``part`` ("forward"/"backward") mismatch,
    or (None, None); a backward that agrees with the student's own forward blames the forward."""
    names = (["loss"] if ev.key == "softmax" else list(FORWARD_OUTPUTS)) if part == "forward" else list(BACKWARD_OUTPUTS)
    bad = failing(ev, names)
    for diagnosis in diagnoses:
        found = diagnosis(ev, bad)
        if found:
            return found
    if part == "backward" and (found := forward_wrong(ev, bad)):
        return found
    return None, None


def _same(a, b) -> bool:
    return a is not None and b is not None and np.shape(a) == np.shape(b) and rel_error(a, b) <= MATCH


def failing(ev, names) -> list:
    """Cases (that ran) where any of the named outputs differs from the reference."""
    out = []
    backward = any(n in BACKWARD_OUTPUTS for n in names)
    for c in ev.cases:
        if c.problem or (backward and c.backward_problem):  # raised: no outputs to compare
            continue
        if any(c.golden.get(n) is not None and (c.student.get(n) is None or rel_error(c.student[n], c.golden[n]) > LAYER_RTOL)
               for n in names):
            out.append(c)
    return out


def _only_with_option(ev, failing_cases, option: str, part: str = "forward") -> bool:
    """True when the cases that failed or raised are exactly those using an option (stride > 1,
    pad > 0) and at least one case without it passed: the bug hides in that option."""
    default = {"stride": 1, "pad": 0}[option]
    raised = {id(c) for c in ev.cases if c.failure(part)}
    bad = {id(c) for c in failing_cases} | raised
    with_opt = {id(c) for c in ev.cases if c.case.config.get(option, default) != default}
    return bool(bad) and bad <= with_opt and len(bad) < len(ev.cases)


# ----------------------------------------------------------------------------- forward

def flipped_kernel(ev, bad) -> Found | None:
    for c in bad:
        cfg = c.case.config
        flipped = ref.Convolution(c.inputs["W"][:, :, ::-1, ::-1].copy(), c.inputs["b"],
                                  stride=cfg["stride"], pad=cfg["pad"]).forward(c.inputs["x"].copy())
        if _same(c.student["out"], flipped):
            return "flipped_kernel", ("your forward flips the kernel (a true convolution). The handout's "
                                      "Convolution, like torch's, is a cross-correlation: use W as it is.")
    return None


def affine_weights(ev, bad) -> Found | None:
    for c in bad:
        x2, W, b = c.inputs["x"].reshape(c.inputs["x"].shape[0], -1), c.inputs["W"], c.inputs["b"]
        if W.shape[0] == W.shape[1] and _same(c.student["out"], x2 @ W.T + b):
            return "transposed_weight", "your forward uses W.T; with W shaped (in, out) the output is x · W + b."
        if _same(c.student["out"], x2 @ W):
            return "missing_bias", "your forward leaves out the bias b."
    return None


def lrelu_slope_forward(ev, bad) -> Found | None:
    for c in bad:
        x = c.inputs["x"]
        neg = x < 0
        slope = float(np.median(c.student["out"][neg] / x[neg]))
        alpha = c.case.config["alpha"]
        if abs(slope - alpha) > 1e-6:
            return "lrelu_slope", (f"for negative inputs your forward multiplies by {slope:.3g}; "
                                   f"it should multiply by alpha = {alpha} (the alpha given to the constructor).")
    return None


def loss_not_averaged(ev, bad) -> Found | None:
    for c in bad:
        n = c.inputs["x"].shape[0]
        if n > 1 and _same(c.student["loss"], c.golden["loss"] * n):
            return "not_averaged", "your loss is the sum over the batch; the handout's loss is the mean."
    return None


def average_pool(ev, bad) -> Found | None:
    for c in bad:
        cfg = c.case.config
        if _same(c.student["out"], _avg_pool(c.inputs["x"], cfg["pool_h"], cfg["pool_w"], cfg["stride"])):
            return "average_pool", "your pooling averages each window; the assignment uses max pooling."
    return None


def padding(ev, bad) -> Found | None:
    if _only_with_option(ev, bad, "pad"):
        return "padding", "wrong only in the cases with padding: check how you pad the input and the output-size formula."
    return None


def stride(ev, bad) -> Found | None:
    if _only_with_option(ev, bad, "stride"):
        return "stride", "wrong only in the cases with stride > 1: check the output-size formula and how im2col steps."
    return None


# ----------------------------------------------------------------------------- backward

def stride_in_backward(ev, bad) -> Found | None:
    if _only_with_option(ev, bad, "stride", "backward"):
        return "stride_in_backward", ("wrong only in the cases with stride > 1: your backward (col2im) ignores "
                                      "or mishandles the stride.")
    return None


def missing_bias_gradient(ev, bad) -> Found | None:
    for c in bad:
        s, g = c.student, c.golden
        if "db" in g and (s.get("db") is None or not np.any(s["db"])) and np.any(g["db"]):
            return "missing_bias_gradient", ("db is not computed (left empty or zero): the bias gradient is dout "
                                             "summed over the batch (and, for a convolution, over positions).")
    return None


def dx_not_averaged(ev, bad) -> Found | None:
    for c in bad:
        n = c.inputs["x"].shape[0]
        if n > 1 and _same(c.student["dx"], c.golden["dx"] * n):
            return "not_averaged", ("your dx is batch-size times too large: the loss is a mean over the batch, "
                                    "so its gradient is (softmax - t) / batch_size.")
    return None


def affine_transposed_backward(ev, bad) -> Found | None:
    for c in bad:
        W = c.inputs["W"]
        if W.shape[0] == W.shape[1] and _same(c.student["dx"], (c.dout @ W).reshape(c.inputs["x"].shape)):
            return "transposed_weight", "dx uses W where it needs W.T: dx = dout · W.T (W is shaped (in, out))."
    return None


def relu_mask(ev, bad) -> Found | None:
    for c in bad:
        if _same(c.student["dx"], c.dout * (c.dout > 0)):
            return "relu_mask_wrong", ("your ReLU mask comes from dout, not from the forward input: the mask must "
                                       "be the positions where the forward's x was > 0 (saved in forward).")
        if _same(c.student["dx"], c.dout * (c.inputs["x"] <= 0)):
            return "relu_mask_inverted", "your ReLU mask is inverted: pass dout where x > 0, zero elsewhere."
    return None


def lrelu_slope_backward(ev, bad) -> Found | None:
    for c in bad:
        x, alpha, dx = c.inputs["x"], c.case.config["alpha"], c.student["dx"]
        neg, pos = x < 0, x > 0
        slope_neg = float(np.median(dx[neg] / c.dout[neg]))
        slope_pos = float(np.median(dx[pos] / c.dout[pos]))
        if abs(slope_neg - alpha) > 1e-6 or abs(slope_pos - 1) > 1e-6:
            return "lrelu_slope", (f"your backward scales dout by {slope_neg:.3g} for negative inputs and "
                                   f"{slope_pos:.3g} for positive ones; it should be alpha = {alpha} and 1.")
    return None


def maxpool_routing(ev, bad) -> Found | None:
    for c in bad:
        s, g, cfg = c.student, c.golden, c.case.config
        first = _first_element_routing(c.dout, c.inputs["x"].shape, cfg["pool_h"], cfg["pool_w"], cfg["stride"])
        if _same(s["dx"], first):
            return "maxpool_wrong_element", ("your backward sends each gradient to the first element of its "
                                             "window; it belongs to the element that was the maximum in forward.")
        if np.isclose(s["dx"].sum(), g["dx"].sum()) and not _same(np.sign(s["dx"]) != 0, np.sign(g["dx"]) != 0):
            return "maxpool_wrong_element", ("your backward routes the gradient to the wrong elements (the total "
                                             "is right): it belongs to each window's argmax from the forward pass.")
    return None


def padding_in_backward(ev, bad) -> Found | None:
    if _only_with_option(ev, bad, "pad", "backward"):
        return "padding_in_backward", ("wrong only in the cases with padding: remove the padding from dx "
                                       "(crop pad rows and columns) after col2im.")
    return None


def forward_wrong(ev, bad) -> Found | None:
    """Tried after every layer's own backward diagnoses: the backward agrees with the student's forward."""
    if bad and all(_gradcheck_ok(c, gradcheck_tolerance(ev.key)) for c in bad):
        return "forward_wrong", ("your backward is consistent with your own forward, so the difference comes from "
                                 "the forward: fix the forward first.")
    return None


# ----------------------------------------------------------------------------- gradcheck

def gradcheck_hint(ev) -> str | None:
    """Which arrays' derivatives disagree with finite differences, in words."""
    rtol = gradcheck_tolerance(ev.key)
    wrong = sorted({name for c in ev.cases for name, fd, an, typ in c.directional
                    if scalar_rel_error(fd, an, floor=typ) > rtol})
    if not wrong:
        return None
    names = {"x": "dx", "W": "dW", "b": "db"}
    return "the mismatch is in " + ", ".join(names[w] for w in wrong) + " (compare it with your forward's formula)."


def _gradcheck_ok(c, rtol: float) -> bool:
    return bool(c.directional) and all(scalar_rel_error(fd, an, floor=typ) <= rtol for _, fd, an, typ in c.directional)


def _windows(shape, ph, pw, stride_):
    n, ch, h, w = shape
    return (h - ph) // stride_ + 1, (w - pw) // stride_ + 1


def _avg_pool(x, ph, pw, stride_):
    oh, ow = _windows(x.shape, ph, pw, stride_)
    win = np.lib.stride_tricks.sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride_, ::stride_][:, :, :oh, :ow]
    return win.mean(axis=(-2, -1))


def _first_element_routing(dout, x_shape, ph, pw, stride_):
    """dx of a max-pool backward that always picks the window's top-left element."""
    dx = np.zeros(x_shape)
    oh, ow = _windows(x_shape, ph, pw, stride_)
    rows = np.arange(oh) * stride_
    cols = np.arange(ow) * stride_
    np.add.at(dx, (slice(None), slice(None), rows[:, None], cols[None, :]), dout)
    return dx
