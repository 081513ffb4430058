"""Pictures for the HTML feedback page, drawn with matplotlib (Agg, no display) as PNG bytes.

Each function takes a check's figures (numbers that came from student code, so possibly
malformed) and returns PNG bytes, or raises FigureError saying why it cannot draw them; the page
then shows the numbers' absence instead of a broken picture.
"""

from __future__ import annotations

import io
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")  # before pyplot: never a display, never a GUI toolkit
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: at most this many points per curve are drawn (longer logs are subsampled evenly)
MAX_CURVE_POINTS = 2000
#: images (N, H, W) in [0, 1] for MNIST test-set indices, or None when no data is at hand
ImageLoader = Callable[[list[int]], "np.ndarray | None"]


class FigureError(ValueError):
    """The figures cannot be drawn (wrong shape, not numbers, empty)."""


def _array(value: Any, name: str, ndim: int, max_side: int = 1000) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise FigureError(f"{name} is not an array of numbers") from None
    if a.ndim != ndim or a.size == 0 or max(a.shape) > max_side:
        raise FigureError(f"{name} has shape {a.shape}, expected {ndim} dimensions of at most {max_side}")
    return a


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)  # not bbox_inches="tight": it draws everything twice
    plt.close(fig)
    return buf.getvalue()


def _heat(ax, m: np.ndarray, title: str) -> None:
    finite = np.where(np.isfinite(m), m, 0)
    ax.imshow(finite, cmap="Blues", vmin=0, vmax=max(finite.max(), 1e-12))
    ax.set_title(title)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    n, k = m.shape
    ax.set_xticks(range(k))
    ax.set_yticks(range(n))
    if n * k <= 400:
        top = max(finite.max(), 1e-12)
        for i in range(n):
            for j in range(k):
                v = finite[i, j]
                ax.text(j, i, f"{v:g}" if v == int(v) else f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if v > top / 2 else "black")


def confusion_matrix(figures: dict[str, Any]) -> bytes:
    """The submission's confusion matrix as a heatmap, beside the reference model's when given."""
    mats = [(_array(figures["matrix"], "matrix", 2, 100), "your network")]
    if figures.get("model_matrix") is not None:
        mats.append((_array(figures["model_matrix"], "model_matrix", 2, 100), "reference network"))
    fig, axes = plt.subplots(1, len(mats), figsize=(4.6 * len(mats), 4.4), squeeze=False, layout="constrained")
    for ax, (m, title) in zip(axes[0], mats):
        _heat(ax, m, title)
    return _png(fig)


def _curve(values: Any, name: str) -> np.ndarray:
    a = _array(values, name, 1, max_side=10_000_000)
    if len(a) > MAX_CURVE_POINTS:
        a = a[np.linspace(0, len(a) - 1, MAX_CURVE_POINTS).astype(int)]
    return a


def loss_curves(figures: dict[str, Any]) -> bytes:
    """Training and validation loss per logged step."""
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    drawn = 0
    for key, label in (("train", "training loss"), ("valid", "validation loss")):
        if figures.get(key) is None or len(figures.get(key) or []) == 0:
            continue
        y = _curve(figures[key], key)
        ax.plot(np.linspace(0, 1, len(y)) if len(y) > 1 else [0], y, marker="o" if len(y) < 30 else None,
                label=label)
        drawn += 1
    if not drawn:
        plt.close(fig)
        raise FigureError("neither a training nor a validation loss was logged")
    ax.set_xlabel("fraction of training")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def top3_grid(figures: dict[str, Any], images: ImageLoader | None) -> bytes:
    """For each class, the three test images the network is most sure of, with probabilities."""
    index = _array(figures["index"], "index", 2, 100).astype(int)
    prob = _array(figures["prob"], "prob", 2, 100)
    if index.shape != prob.shape:
        raise FigureError(f"index {index.shape} and prob {prob.shape} differ in shape")
    pictures = images(index.reshape(-1).tolist()) if images else None
    if pictures is None:
        raise FigureError("the MNIST test images are not available here")
    pictures = np.asarray(pictures, dtype=float)
    pictures = pictures.reshape(index.shape + pictures.shape[-2:])
    classes, ranks = index.shape
    h, w = pictures.shape[-2:]
    pad = max(h, w) // 4
    # one mosaic, one image: a column per class, the surest image on top (30 subplots draw slowly)
    mosaic = np.ones((ranks * (h + pad) + pad, classes * (w + pad) + pad))
    for k in range(classes):
        for r in range(ranks):
            y, x = pad + r * (h + pad), pad + k * (w + pad)
            mosaic[y:y + h, x:x + w] = 1 - np.clip(pictures[k, r], 0, 1)
    fig, ax = plt.subplots(figsize=(0.95 * classes + 0.6, 1.15 * ranks + 0.5), layout="constrained")
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([pad + k * (w + pad) + w / 2 for k in range(classes)], [f"class {k}" for k in range(classes)],
                  fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(ranks)], [f"rank {r + 1}" for r in range(ranks)],
                  fontsize=8)
    for k in range(classes):
        for r in range(ranks):
            ax.text(pad + k * (w + pad) + w / 2, (r + 1) * (h + pad) + pad * 0.55, f"#{index[k, r]} p={prob[k, r]:.2f}",
                    ha="center", va="center", fontsize=6)
    for side in ax.spines.values():
        side.set_visible(False)
    return _png(fig)


def cam_overlay(figures: dict[str, Any], images: ImageLoader | None) -> bytes:
    """The class activation map over its test image, beside the reference network's."""
    maps = [(_array(figures["cam"], "cam", 2, 1000), "your CAM")]
    if figures.get("reference_cam") is not None:
        maps.append((_array(figures["reference_cam"], "reference_cam", 2, 1000), "reference CAM"))
    picture = None
    if images is not None and isinstance(figures.get("sample_index"), int):
        loaded = images([figures["sample_index"]])
        if loaded is not None:
            picture = np.asarray(loaded)[0].reshape(np.asarray(loaded).shape[-2:])
    fig, axes = plt.subplots(1, len(maps), figsize=(3.4 * len(maps), 3.4), squeeze=False, layout="constrained")
    for ax, (m, title) in zip(axes[0], maps):
        m = np.where(np.isfinite(m), m, 0)
        if picture is not None:
            h, w = picture.shape
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1, extent=(0, w, h, 0))
            ax.imshow(m, cmap="jet", alpha=0.45, extent=(0, w, h, 0), interpolation="bilinear")
        else:
            ax.imshow(m, cmap="jet", interpolation="bilinear")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    return _png(fig)


#: which figure a check kind (the last part of its id) gets, and its caption
DRAWINGS: dict[str, tuple[str, Callable[..., bytes], bool]] = {
    "confusion_matrix": ("confusion matrix on the test images (rows: true digit, columns: predicted)",
                         confusion_matrix, False),
    "loss_log": ("your logged losses", loss_curves, False),
    "top3": ("the three test images your network is surest of, per class", top3_grid, True),
    "cam": ("class activation map, yours beside the reference's", cam_overlay, True),
}


def draw(kind: str, figures: dict[str, Any], images: ImageLoader | None) -> tuple[str, bytes] | None:
    """(caption, PNG) for a check of this kind, None when the kind has no picture.
    Raises FigureError when it has one but the figures cannot be drawn."""
    if kind not in DRAWINGS:
        return None
    caption, function, needs_images = DRAWINGS[kind]
    try:
        png = function(figures, images) if needs_images else function(figures)
    except FigureError:
        plt.close("all")
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        plt.close("all")
        raise FigureError(f"the figures of this check cannot be drawn ({type(exc).__name__}: {exc})") from None
    return caption, png
