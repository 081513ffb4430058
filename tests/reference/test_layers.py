"""The reference layers against central finite differences, torch, and their own contract."""

import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reference.layers as layers
from reference.gradcheck import numerical_gradient, rel_difference
from reference.im2col import col2im, im2col
from reference.layers import (Affine, Convolution, Flatten, LeakyRelu, Pooling, Relu,
                              SoftmaxWithLoss)

TOL = 1e-7


def away_from_zero(rng, shape):
    """Random values with |x| >= 0.1, so a finite-difference step never crosses a kink."""
    return rng.choice([-1.0, 1.0], size=shape) * (0.1 + rng.random(shape))


def distinct_values(rng, shape):
    """Values at least 0.1 apart, so no max-pooling window has a tie or changes its argmax."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1


def check_backward(layer, x, params=()):
    """Assert dx (and dW, db for the names in ``params``) match finite differences of
    f = sum(forward(x) * dout) for a random dout."""
    rng = np.random.default_rng(1)
    dout = rng.standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout)
    f = lambda _: np.sum(layer.forward(x) * dout)  # noqa: E731 - reads x and params in place
    assert rel_difference(dx, numerical_gradient(f, x)) < TOL
    for name in params:
        analytic = getattr(layer, "d" + name)
        numeric = numerical_gradient(f, getattr(layer, name))
        assert analytic.shape == getattr(layer, name).shape
        assert rel_difference(analytic, numeric) < TOL, name


# --------------------------------------------------------------------------- im2col

def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    col = im2col(x, 3, 2, stride=2, pad=1)
    c = rng.standard_normal(col.shape)
    assert col.shape == (2 * 4 * 4, 3 * 3 * 2)
    assert np.isclose(np.sum(col * c), np.sum(x * col2im(c, x.shape, 3, 2, stride=2, pad=1)))


def test_im2col_rows_are_receptive_fields():
    x = np.arange(2 * 2 * 4 * 5, dtype=float).reshape(2, 2, 4, 5)
    col = im2col(x, 2, 3, stride=1, pad=0)            # output 3 x 3 per image
    row = 1 * 9 + 2 * 3 + 1                          # n=1, oh=2, ow=1
    assert np.array_equal(col[row], x[1, :, 2:4, 1:4].ravel())


# --------------------------------------------------------------------------- layers vs finite differences

@pytest.mark.parametrize("x_shape, w_shape", [((3, 4), (4, 5)), ((2, 3, 2, 2), (12, 5)),
                                              ((1, 6), (6, 2))])
def test_affine_backward(x_shape, w_shape):
    rng = np.random.default_rng(0)
    layer = Affine(rng.standard_normal(w_shape), rng.standard_normal(w_shape[1]))
    x = rng.standard_normal(x_shape)
    check_backward(layer, x, ("W", "b"))
    assert layer.backward(np.ones((x_shape[0], w_shape[1]))).shape == x_shape


@pytest.mark.parametrize("layer", [Relu(), LeakyRelu(0.1), LeakyRelu(0.3), Flatten()])
def test_elementwise_backward(layer):
    rng = np.random.default_rng(0)
    check_backward(layer, away_from_zero(rng, (2, 3, 4, 3)))


def test_activations_forward():
    x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    assert np.array_equal(Relu().forward(x), [[0.0, 0.0, 0.0, 1.5]])
    assert np.allclose(LeakyRelu(0.1).forward(x), [[-0.2, -0.05, 0.0, 1.5]])


CONV_CASES = [  # x (N, C, H, W), W (FN, C, FH, FW), stride, pad
    ((1, 1, 5, 5), (2, 1, 3, 3), 1, 0),     # batch 1, one channel
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),     # non-square input and kernel, stride 2, pad
    ((3, 2, 8, 5), (3, 2, 2, 4), 1, 2),     # several channels, pad 2
    ((2, 4, 9, 9), (2, 4, 3, 3), 3, 1),     # stride 3
    ((2, 2, 6, 7), (3, 2, 4, 4), 2, 0),     # stride that does not divide evenly
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_convolution_backward(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(0)
    layer = Convolution(rng.standard_normal(w_shape), rng.standard_normal(w_shape[0]),
                        stride, pad)
    check_backward(layer, rng.standard_normal(x_shape), ("W", "b"))


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_convolution_matches_torch(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(0)
    x, W, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
    layer = Convolution(W, b, stride, pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    out_t = F.conv2d(xt, Wt, bt, stride=stride, padding=pad)
    out_t.backward(torch.from_numpy(dout))
    assert rel_difference(out, out_t.detach().numpy()) < 1e-12
    assert rel_difference(dx, xt.grad.numpy()) < 1e-12
    assert rel_difference(layer.dW, Wt.grad.numpy()) < 1e-12
    assert rel_difference(layer.db, bt.grad.numpy()) < 1e-12


def test_convolution_chunks_give_the_same_result(monkeypatch):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), np.ones(4)
    dout = rng.standard_normal((5, 4, 6, 6))
    whole = Convolution(W, b)
    out, dx = whole.forward(x), whole.backward(dout)
    monkeypatch.setattr(layers, "COL_BUFFER_BYTES", 1)   # one sample per chunk
    chunked = Convolution(W, b)
    assert len(chunked._chunks(x)) == 5
    assert np.allclose(chunked.forward(x), out, rtol=0, atol=1e-13)
    assert np.allclose(chunked.backward(dout), dx, rtol=0, atol=1e-13)
    assert np.allclose(chunked.dW, whole.dW, rtol=0, atol=1e-12)


def test_convolution_memory_stays_bounded():
    """PA2's second conv on a batch of 100: one im2col buffer would be 360 MB."""
    rng = np.random.default_rng(0)
    x = rng.random((100, 20, 24, 24))
    layer = Convolution(0.01 * rng.standard_normal((40, 20, 10, 10)), np.zeros(40))
    dout = np.ones((100, 40, 15, 15))
    tracemalloc.start()
    try:
        layer.forward(x)
        layer.backward(dout)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # out (7 MB) + dx (9 MB) + two column buffers (~32 MB); unchunked it would exceed 700 MB.
    assert peak < 100 * 2**20


POOL_CASES = [  # x (N, C, H, W), pool_h, pool_w, stride, pad
    ((2, 3, 6, 6), 2, 2, 2, 0),     # the assignments' 2x2/2
    ((1, 2, 7, 5), 3, 2, 2, 1),     # non-square, padded, odd sizes
    ((2, 2, 5, 5), 3, 3, 1, 0),     # overlapping windows
    ((1, 1, 5, 4), 2, 2, 2, 1),     # padding with a 2x2 window
]


@pytest.mark.parametrize("x_shape, pool_h, pool_w, stride, pad", POOL_CASES)
def test_pooling_backward(x_shape, pool_h, pool_w, stride, pad):
    rng = np.random.default_rng(0)
    check_backward(Pooling(pool_h, pool_w, stride, pad), distinct_values(rng, x_shape))


@pytest.mark.parametrize("x_shape, pool_h, pool_w, stride, pad", POOL_CASES)
def test_pooling_matches_torch(x_shape, pool_h, pool_w, stride, pad):
    rng = np.random.default_rng(0)
    x = distinct_values(rng, x_shape) - 3.0   # negative values: padding must not win the max
    layer = Pooling(pool_h, pool_w, stride, pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    xt = torch.tensor(x, requires_grad=True)
    out_t = F.max_pool2d(xt, (pool_h, pool_w), stride=stride, padding=pad)
    out_t.backward(torch.from_numpy(dout))
    assert np.array_equal(out, out_t.detach().numpy())
    assert np.array_equal(layer.backward(dout), xt.grad.numpy())


@pytest.mark.parametrize("x_shape, pool_h, pool_w, stride, pad", POOL_CASES)
def test_pooling_gives_a_tie_to_the_first_maximum_as_torch_does(x_shape, pool_h, pool_w, stride, pad):
    """ReLU outputs tie often (whole windows of zeros): the gradient goes to the first of the equal
    maxima in row-major order, never to a later one or to several."""
    rng = np.random.default_rng(1)
    x = np.maximum(rng.integers(-2, 3, size=x_shape), 0).astype(float)   # values 0, 1, 2: ties everywhere
    layer = Pooling(pool_h, pool_w, stride, pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, (pool_h, pool_w), stride=stride, padding=pad).backward(torch.from_numpy(dout))
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=0, atol=1e-12)


def test_pooling_output_size_counts_padding():
    assert Pooling(2, 2, 2, 1).forward(np.zeros((1, 1, 4, 4))).shape == (1, 1, 3, 3)


# --------------------------------------------------------------------------- softmax

def test_softmax_int_and_one_hot_labels_agree():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 10)), np.array([3, 0, 9, 3])
    by_index, one_hot = SoftmaxWithLoss(), SoftmaxWithLoss()
    loss = by_index.forward(x, t)
    assert loss == pytest.approx(one_hot.forward(x, np.eye(10)[t]), abs=1e-15)
    assert np.array_equal(by_index.backward(), one_hot.backward())
    expected = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)).item()
    assert loss == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_backward(one_hot):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((3, 5)), np.array([1, 4, 0])
    t = np.eye(5)[t] if one_hot else t
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    dx = layer.backward(2.0)
    numeric = numerical_gradient(lambda _: 2.0 * layer.forward(x, t), x)
    assert rel_difference(dx, numeric) < TOL


def test_softmax_is_stable_for_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [0.0, 2000.0, 0.0]])
    layer = SoftmaxWithLoss()
    assert layer.forward(x, np.array([0, 0])) == pytest.approx(1000.0)
    assert np.all(np.isfinite(layer.backward()))


def test_fresh_softmax_loss_is_ln_10():
    assert SoftmaxWithLoss().forward(np.zeros((5, 10)), np.arange(5)) == pytest.approx(np.log(10))


# --------------------------------------------------------------------------- no mutation

def _all_layers(rng):
    return [
        (Affine(rng.standard_normal((12, 3)), rng.standard_normal(3)), (2, 3, 2, 2)),
        (Relu(), (2, 3, 4, 4)),
        (LeakyRelu(0.1), (2, 3, 4, 4)),
        (Flatten(), (2, 3, 4, 4)),
        (Convolution(rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2), 2, 1),
         (2, 3, 5, 5)),
        (Pooling(2, 2, 2, 1), (2, 3, 5, 5)),
    ]


@pytest.mark.parametrize("index", range(6))
def test_layers_do_not_modify_their_inputs(index):
    rng = np.random.default_rng(0)
    layer, shape = _all_layers(rng)[index]
    x = rng.standard_normal(shape)
    params = [getattr(layer, name) for name in ("W", "b") if hasattr(layer, name)]
    saved = [x.copy()] + [p.copy() for p in params]
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dout_saved = dout.copy()
    layer.backward(dout)
    for before, after in zip(saved, [x] + params):
        assert np.array_equal(before, after)
    assert np.array_equal(dout, dout_saved)


def test_softmax_does_not_modify_its_inputs():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((3, 4)), np.eye(4)[[0, 2, 3]]
    x_saved, t_saved = x.copy(), t.copy()
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    layer.backward()
    assert np.array_equal(x, x_saved) and np.array_equal(t, t_saved)
