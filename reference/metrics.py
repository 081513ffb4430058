"""The handout's deliverables computed from a model's outputs: confusion matrix, top-3 images
per class, and class activation maps (CAM) in the three forms students meet."""

from __future__ import annotations

import numpy as np


def softmax(logits):
    """Row-wise softmax over the last axis, with the maximum subtracted so exp never overflows."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def confusion_matrix(true, pred, n_classes=10):
    """(n_classes, n_classes) int64 counts: rows are the true class, columns the predicted one.

    Row sums are the class counts and the trace is the number of correct predictions.
    """
    true = np.asarray(true, dtype=np.int64).reshape(-1)
    pred = np.asarray(pred, dtype=np.int64).reshape(-1)
    if true.shape != pred.shape:
        raise ValueError(f"{len(true)} true labels but {len(pred)} predictions")
    for name, values in (("true", true), ("pred", pred)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(f"{name} labels must lie in [0, {n_classes}), found {values.min()}..{values.max()}")
    counts = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


def top3_per_class(probs, labels=None, k=3, among="all"):
    """For each class c, the ``k`` images with the highest ``probs[:, c]``, best first.

    ``among="all"`` ranks every image; ``among="label"`` only the images labelled c (the
    handout lets the rubric choose). Returns ``(idx, p)``, both (C, k): image indices and
    their probabilities of c, sorted descending (ties: lower index first). A class with fewer
    than ``k`` candidates is padded with index -1 and probability NaN.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n, n_classes = probs.shape
    if among not in ("all", "label"):
        raise ValueError(f"among must be 'all' or 'label', not {among!r}")
    if among == "label":
        if labels is None:
            raise ValueError("among='label' needs the labels")
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != n:
            raise ValueError(f"{n} rows of probabilities but {len(labels)} labels")
    idx = np.full((n_classes, k), -1, dtype=np.int64)
    p = np.full((n_classes, k), np.nan)
    for c in range(n_classes):
        candidates = np.arange(n) if among == "all" else np.flatnonzero(labels == c)
        order = candidates[np.argsort(-probs[candidates, c], kind="stable")][:k]
        idx[c, :len(order)] = order
        p[c, :len(order)] = probs[order, c]
    return idx, p


# --------------------------------------------------------------------------- class activation maps

def cam_gap(features, W_fc, c):
    """Standard CAM (Zhou et al. 2016) for a global-average-pooling head: sum_k W[k, c] * A_k.

    ``features`` A is (C, H, W) and ``W_fc`` (C, n_classes) is the affine layer after the GAP,
    so the map's spatial mean plus the bias is exactly the logit of class c.
    """
    A = np.asarray(features, dtype=np.float64)
    return np.tensordot(np.asarray(W_fc, dtype=np.float64)[:, c], A, axes=(0, 0))


def cam_flatten_affine(features, W_fc, c):
    """Per-location logit contribution for a flatten -> affine head (the handout's CNNs).

    With A (C, H, W) flattened in C, H, W order and ``W_fc`` (C*H*W, n_classes), the map is
    cam[h, w] = sum_k A[k, h, w] * W[k*H*W + h*W + w, c]: the share of logit c that comes from
    location (h, w), so the map summed over locations plus the bias is the logit itself.
    (Plain CAM does not apply: this head has a separate weight per location.)
    """
    A = np.asarray(features, dtype=np.float64)
    weights = np.asarray(W_fc, dtype=np.float64)[:, c].reshape(A.shape)
    return (A * weights).sum(axis=0)


def grad_cam(features, grads):
    """Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A_k), alpha_k = mean of dlogit_c/dA_k.

    ``grads`` is the gradient of the class logit with respect to ``features`` (both (C, H, W)),
    e.g. from ``Network.feature_gradient``. Works for any head, GAP or flatten -> affine.
    """
    A = np.asarray(features, dtype=np.float64)
    alpha = np.asarray(grads, dtype=np.float64).mean(axis=(1, 2))
    return np.maximum(np.tensordot(alpha, A, axes=(0, 0)), 0.0)


def _interpolation(n_in, n_out):
    """Source rows for each output row (corners aligned): lower index, upper index, weight."""
    if n_out == 1 or n_in == 1:
        pos = np.zeros(n_out)
    else:
        pos = np.arange(n_out) * (n_in - 1) / (n_out - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, pos - lo


def upsample(cam, size=(28, 28)):
    """Bilinear resize of a 2-D map to ``size`` with corners aligned (corner values are kept).

    Output pixel i samples the input at i * (H - 1) / (size - 1), as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=True)`` does.
    """
    cam = np.asarray(cam, dtype=np.float64)
    r0, r1, wr = _interpolation(cam.shape[0], size[0])
    c0, c1, wc = _interpolation(cam.shape[1], size[1])
    rows = cam[r0] * (1 - wr)[:, None] + cam[r1] * wr[:, None]
    return rows[:, c0] * (1 - wc) + rows[:, c1] * wc


def normalize_cam(cam):
    """The map scaled to [0, 1] (min -> 0, max -> 1); a constant map becomes all zeros."""
    cam = np.asarray(cam, dtype=np.float64)
    span = cam.max() - cam.min()
    return (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
