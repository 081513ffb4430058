"""reference/metrics.py: confusion matrix, top-3 per class, softmax and the CAM variants."""

from __future__ import annotations

import numpy as np
import pytest

from reference import metrics


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --------------------------------------------------------------------------- confusion matrix

def test_confusion_matrix_rows_are_true_classes(rng):
    true = rng.integers(0, 10, 500)
    pred = np.where(rng.random(500) < 0.7, true, rng.integers(0, 10, 500))
    cm = metrics.confusion_matrix(true, pred)
    assert cm.shape == (10, 10) and cm.dtype == np.int64
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(true, minlength=10))
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(pred, minlength=10))
    assert np.trace(cm) == int((true == pred).sum())
    assert cm[3, 5] == int(((true == 3) & (pred == 5)).sum())


def test_confusion_matrix_rejects_bad_labels():
    with pytest.raises(ValueError):
        metrics.confusion_matrix([0, 10], [0, 1])
    with pytest.raises(ValueError):
        metrics.confusion_matrix([0, 1], [0])
    assert metrics.confusion_matrix([0, 2, 2], [1, 2, 2], n_classes=3).tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 2]]


# --------------------------------------------------------------------------- softmax, top-3

def test_softmax_is_stable_and_sums_to_one():
    p = metrics.softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), 0.0]]))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(p[1], [0.2, 0.6, 0.2])


def check_top(probs, idx, p, k):
    for c in range(probs.shape[1]):
        valid = idx[c] >= 0
        assert np.all(idx[c][valid] < len(probs))
        np.testing.assert_array_equal(p[c][valid], probs[idx[c][valid], c])
        assert np.all(np.diff(p[c][valid]) <= 0)  # best first
        assert np.all((0 <= p[c][valid]) & (p[c][valid] <= 1))
        assert len(set(idx[c][valid].tolist())) == valid.sum()


def test_top3_among_all_images(rng):
    probs = metrics.softmax(rng.standard_normal((200, 10)) * 3)
    idx, p = metrics.top3_per_class(probs)
    assert idx.shape == (10, 3) and p.shape == (10, 3)
    check_top(probs, idx, p, 3)
    for c in range(10):  # they are the three largest of the column
        np.testing.assert_array_equal(p[c], np.sort(probs[:, c])[::-1][:3])


def test_top3_among_images_of_the_class(rng):
    probs = metrics.softmax(rng.standard_normal((200, 10)) * 3)
    labels = rng.integers(0, 10, 200)
    labels[labels == 9] = 8
    labels[0] = 9  # class 9 has a single image: padded
    idx, p = metrics.top3_per_class(probs, labels, among="label")
    check_top(probs, idx, p, 3)
    for c in range(9):
        assert np.all(labels[idx[c]] == c)
        np.testing.assert_array_equal(p[c], np.sort(probs[labels == c, c])[::-1][:3])
    assert idx[9].tolist() == [0, -1, -1] and np.isnan(p[9, 1:]).all()
    with pytest.raises(ValueError):
        metrics.top3_per_class(probs, among="label")


def test_top_k_ties_keep_the_lower_index_first():
    probs = np.full((5, 2), 0.5)
    idx, _ = metrics.top3_per_class(probs, k=2)
    assert idx.tolist() == [[0, 1], [0, 1]]


# --------------------------------------------------------------------------- CAM

def test_cam_flatten_affine_sums_to_the_logit(rng):
    C, H, W, n = 4, 5, 6, 10
    A = rng.random((C, H, W))
    W_fc, b = rng.standard_normal((C * H * W, n)), rng.standard_normal(n)
    logits = A.reshape(-1) @ W_fc + b  # a flatten -> affine head, C, H, W order
    for c in range(n):
        cam = metrics.cam_flatten_affine(A, W_fc, c)
        assert cam.shape == (H, W)
        assert cam.sum() + b[c] == pytest.approx(logits[c], rel=1e-12)
    # and each location is its own share, written out
    h, w = 2, 3
    assert metrics.cam_flatten_affine(A, W_fc, 7)[h, w] == pytest.approx(
        sum(A[k, h, w] * W_fc[k * H * W + h * W + w, 7] for k in range(C)))


def test_cam_gap_mean_plus_bias_is_the_logit(rng):
    A = rng.random((8, 6, 6))
    W_fc, b = rng.standard_normal((8, 10)), rng.standard_normal(10)
    logits = A.mean(axis=(1, 2)) @ W_fc + b  # global average pooling -> affine
    for c in range(10):
        assert metrics.cam_gap(A, W_fc, c).mean() + b[c] == pytest.approx(logits[c], rel=1e-12)


def test_grad_cam_for_a_flatten_affine_head_by_hand(rng):
    C, H, W = 3, 4, 4
    A = rng.random((C, H, W))
    W_fc = rng.standard_normal((C * H * W, 10))
    c = 2
    grads = W_fc[:, c].reshape(C, H, W)  # d logit_c / dA for a flatten -> affine head
    expected = np.zeros((H, W))
    for k in range(C):
        expected += grads[k].mean() * A[k]
    np.testing.assert_allclose(metrics.grad_cam(A, grads), np.maximum(expected, 0))
    assert metrics.grad_cam(A, -np.abs(grads) - 1).max() == 0.0  # all negative evidence -> zero map


def test_cams_agree_with_the_reference_network(rng):
    networks = pytest.importorskip("reference.networks")
    net = networks.build("two_layer_cnn", seed=1)
    x = rng.random((1, 1, 28, 28))
    logits = net.predict(x)[0]
    A, dA = net.feature_gradient(x, 4)
    assert A.shape == (1, 40, 15, 15)
    cam = metrics.cam_flatten_affine(A[0], net.params["W3"], 4)
    assert cam.sum() + net.params["b3"][4] == pytest.approx(logits[4], rel=1e-9)
    np.testing.assert_allclose(metrics.grad_cam(A[0], dA[0]),
                               metrics.grad_cam(A[0], net.params["W3"][:, 4].reshape(40, 15, 15)))


# --------------------------------------------------------------------------- upsampling

def test_upsample_keeps_constants_and_corners(rng):
    np.testing.assert_allclose(metrics.upsample(np.full((6, 6), 0.3)), 0.3)
    cam = rng.random((15, 15))
    up = metrics.upsample(cam, (28, 28))
    assert up.shape == (28, 28)
    for (i, j), (y, x) in {(0, 0): (0, 0), (0, -1): (0, -1), (-1, 0): (-1, 0), (-1, -1): (-1, -1)}.items():
        assert up[y, x] == pytest.approx(cam[i, j])
    assert cam.min() <= up.min() and up.max() <= cam.max()  # bilinear never overshoots
    np.testing.assert_allclose(metrics.upsample(cam, (15, 15)), cam)


def test_upsample_matches_torch_bilinear_align_corners(rng):
    torch = pytest.importorskip("torch")
    cam = rng.random((6, 6))
    expected = torch.nn.functional.interpolate(torch.from_numpy(cam)[None, None], size=(28, 28),
                                               mode="bilinear", align_corners=True)[0, 0].numpy()
    np.testing.assert_allclose(metrics.upsample(cam), expected, atol=1e-12)


def test_upsample_is_linear_along_a_ramp():
    ramp = np.tile(np.arange(4.0), (3, 1))  # 0, 1, 2, 3 across
    up = metrics.upsample(ramp, (5, 7))
    np.testing.assert_allclose(up, np.tile(np.linspace(0, 3, 7), (5, 1)))


def test_normalize_cam(rng):
    cam = rng.standard_normal((6, 6))
    n = metrics.normalize_cam(cam)
    assert n.min() == 0.0 and n.max() == 1.0
    np.testing.assert_allclose(n, (cam - cam.min()) / (cam.max() - cam.min()))
    np.testing.assert_array_equal(metrics.normalize_cam(np.full((3, 3), 2.0)), 0.0)
