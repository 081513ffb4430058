"""The adapters run class, functional and torch submissions through one interface, correctly."""

import textwrap

import numpy as np
import pytest

from grader.worker import discover
from grader.worker.adapters import AdapterError, LayerAdapter, NetworkAdapter
from tests.worker.fixtures.isolation import copy_fixture, isolated_interpreter


@pytest.fixture
def load(tmp_path):
    with isolated_interpreter():
        def _load(submission):
            if isinstance(submission, str):
                root = copy_fixture(submission, tmp_path)
            else:
                root = tmp_path / "submission"
                root.mkdir()
                for rel, text in submission.items():
                    (root / rel).write_text(textwrap.dedent(text))
            return discover.load_submission(root)
        yield _load


rng = np.random.default_rng(0)


# ----------------------------------------------------------------------------- numpy truth

def conv_truth(x, W, b, stride, pad):
    N, C, H, Wd = x.shape
    F, _, HH, WW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = (H + 2 * pad - HH) // stride + 1, (Wd + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] * W[f]) + b[f]
    return out


def pool_truth(x, size, stride):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return out


def numeric_grad(f, a, h=1e-6):
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + h
        plus = f()
        a[idx] = old - h
        minus = f()
        a[idx] = old
        g[idx] = (plus - minus) / (2 * h)
    return g


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- layers

@pytest.mark.parametrize("fixture", ["dlfs", "cs231n"])
def test_affine_and_relu(load, fixture):
    inv = load(fixture)
    x, W, b = rng.standard_normal((3, 2, 2, 2)), rng.standard_normal((8, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((3, 4))
    layer = LayerAdapter.from_found(inv.layer("affine"), {"W": W, "b": b})
    out = layer.forward(x)
    np.testing.assert_allclose(out, x.reshape(3, -1) @ W + b)
    dx, grads = layer.backward(dout)
    np.testing.assert_allclose(dx, (dout @ W.T).reshape(x.shape))
    np.testing.assert_allclose(grads["W"], x.reshape(3, -1).T @ dout)
    np.testing.assert_allclose(grads["b"], dout.sum(axis=0))

    relu = LayerAdapter.from_found(inv.layer("relu"))
    h = rng.standard_normal((4, 5))
    d = rng.standard_normal((4, 5))
    d_before = d.copy()
    np.testing.assert_allclose(relu.forward(h), np.maximum(h, 0))
    dx, grads = relu.backward(d)
    np.testing.assert_allclose(dx, d_before * (h > 0))
    np.testing.assert_array_equal(d, d_before)  # the textbook Relu writes into dout: it got a copy
    assert grads == {}


@pytest.mark.parametrize("fixture", ["dlfs", "cs231n"])
@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1)])
def test_convolution(load, fixture, stride, pad):
    inv = load(fixture)
    x, W, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    config = {"stride": stride, "pad": pad}
    layer = LayerAdapter.from_found(inv.layer("convolution"), {"W": W, "b": b}, config)
    out = layer.forward(x)
    np.testing.assert_allclose(out, conv_truth(x, W, b, stride, pad), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx, grads = layer.backward(dout)
    loss = lambda: np.sum(conv_truth(x, W, b, stride, pad) * dout)  # noqa: E731
    np.testing.assert_allclose(grads["W"], numeric_grad(loss, W), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads["b"], numeric_grad(loss, b), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fixture", ["dlfs", "cs231n"])
def test_pooling(load, fixture):
    inv = load(fixture)
    x = rng.standard_normal((2, 3, 4, 4))
    layer = LayerAdapter.from_found(inv.layer("pooling"), {}, {"pool_h": 2, "pool_w": 2, "stride": 2, "pad": 0})
    out = layer.forward(x)
    np.testing.assert_allclose(out, pool_truth(x, 2, 2))
    dout = rng.standard_normal(out.shape)
    dx, _ = layer.backward(dout)
    np.testing.assert_allclose(dx, numeric_grad(lambda: np.sum(pool_truth(x, 2, 2) * dout), x), atol=1e-7)


@pytest.mark.parametrize("fixture", ["dlfs", "cs231n"])
@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss(load, fixture, one_hot):
    inv = load(fixture)
    z = rng.standard_normal((4, 10))
    t = np.array([1, 0, 9, 3])
    labels = np.eye(10)[t] if one_hot else t
    layer = LayerAdapter.from_found(inv.layer("softmax"))
    loss = layer.forward(z, labels)
    p = softmax(z)
    p_true = p[np.arange(4), t]
    # DLFS takes log(p + 1e-7): that moves the loss by about mean(1e-7 / p), which for a small p (the
    # draws of the module's rng depend on test order) is more than a relative 1e-6
    assert loss.shape == () and loss == pytest.approx(-np.mean(np.log(p_true)), abs=np.mean(1e-7 / p_true) + 1e-12)
    dx, _ = layer.backward()
    np.testing.assert_allclose(dx, (p - np.eye(10)[t]) / 4, atol=1e-12)


def test_leaky_relu_with_alpha_and_without_a_constructor_argument(load):
    inv = load("dlfs")
    h = np.array([[-2.0, 3.0]])
    assert LayerAdapter.from_found(inv.layer("lrelu"), {}, {"alpha": 0.2}).forward(h).tolist() == [[-0.4, 3.0]]
    inv2 = load({"act.py": """\
        import numpy as np
        class LReLU:
            def __init__(self):
                self.alpha = 0.01
            def forward(self, x):
                return np.where(x > 0, x, self.alpha * x)
            def backward(self, dout):
                return dout
        """})
    assert LayerAdapter.from_found(inv2.layer("lrelu"), {}, {"alpha": 0.2}).forward(h).tolist() == [[-0.4, 3.0]]


def test_positional_constructors_and_grad_w_names(load):
    inv = load({"layers.py": """\
        import numpy as np
        class Conv:
            def __init__(self, W, b, s, p):
                self.W, self.b, self.s, self.p = W, b, s, p
            def forward(self, x):
                self.used = (self.s, self.p)
                return x
            def backward(self, dout):
                return dout, np.ones_like(self.W), np.zeros_like(self.b)
        class Dense:
            def __init__(self, W, b):
                self.W, self.b = W, b
            def forward(self, x):
                self.x = x
                return x @ self.W + self.b
            def backward(self, dout):
                self.grad_W, self.grad_b = self.x.T @ dout, dout.sum(0)
                return dout @ self.W.T
        """})
    conv = LayerAdapter.from_found(inv.layer("convolution"), {"W": np.zeros((1, 1, 2, 2)), "b": np.zeros(1)},
                                   {"stride": 2, "pad": 1})
    conv.forward(np.zeros((1, 1, 3, 3)))
    assert conv.obj.used == (2, 1)
    _, grads = conv.backward(np.zeros((1, 1, 3, 3)))  # (dx, dW, db) returned instead of stored
    assert grads["W"].tolist() == np.ones((1, 1, 2, 2)).tolist()
    dense = LayerAdapter.from_found(inv.layer("affine"), {"W": np.eye(2), "b": np.zeros(2)})
    dense.forward(np.array([[1.0, 2.0]]))
    _, grads = dense.backward(np.array([[1.0, 1.0]]))
    assert grads["W"].tolist() == [[1, 1], [2, 2]] and grads["b"].tolist() == [1, 1]


def test_unconstructible_layer_says_what_was_tried(load):
    inv = load({"layers.py": """\
        class Affine:
            def __init__(self, input_size, output_size, init_std, seed):
                pass
            def forward(self, x): return x
            def backward(self, d): return d
        """})
    with pytest.raises(AdapterError, match=r"Affine cannot be constructed as the handout's Affine\(W, b\)"):
        LayerAdapter.from_found(inv.layer("affine"), {"W": np.eye(2), "b": np.zeros(2)})


# ----------------------------------------------------------------------------- networks

def test_class_network_params_in_place_and_gradient(load):
    inv = load("dlfs")
    net = NetworkAdapter.create(inv.network("simple_convnet"), seed=3)
    assert net.param_names() == ["W1", "b1", "W2", "b2", "W3", "b3"]
    params = net.get_params()
    assert params["W1"].shape == (30, 1, 5, 5) and params["W2"].shape == (4320, 100)
    again = NetworkAdapter.create(inv.network("simple_convnet"), seed=3).get_params()
    np.testing.assert_array_equal(params["W1"], again["W1"])  # seeded

    new = {k: rng.standard_normal(v.shape) * 0.05 for k, v in params.items()}
    net.set_params(new)
    assert net.net.layers["Conv1"].W is net.net.params["W1"]  # same array: the layer sees the copy
    np.testing.assert_array_equal(net.net.layers["Conv1"].W, new["W1"])
    np.testing.assert_array_equal(net.get_params()["W3"], new["W3"])

    x, t = rng.random((2, 1, 28, 28)), np.array([3, 7])
    features, source = net.features(x)
    expected = np.maximum(conv_truth(x, new["W1"], new["b1"], 1, 0), 0)
    assert source == "activation"
    np.testing.assert_allclose(features, expected, atol=1e-12)
    pooled = pool_truth(features, 2, 2).reshape(2, -1)
    logits = np.maximum(pooled @ new["W2"] + new["b2"], 0) @ new["W3"] + new["b3"]
    np.testing.assert_allclose(net.logits(x), logits, atol=1e-12)
    grads = net.gradient(x, t)
    hidden = np.maximum(pooled @ new["W2"] + new["b2"], 0)
    np.testing.assert_allclose(grads["W3"], hidden.T @ (softmax(logits) - np.eye(10)[t]) / 2, atol=1e-10)

    with pytest.raises(ValueError, match=r"params\['W1'\] has shape \(30, 1, 5, 5\), the grader sent \(2, 2\)"):
        net.set_params({"W1": np.zeros((2, 2))})
    with pytest.raises(KeyError, match="no parameter 'W9'"):
        net.set_params({"W9": np.zeros(1)})


def test_class_network_sgd_and_mlp_inputs(load):
    inv = load("dlfs")
    net = NetworkAdapter.create(inv.network("three_layer_nn"), seed=0)
    own = np.random.default_rng(7)  # not the shared rng: the result must not depend on test order
    x, t = own.random((20, 1, 28, 28)), own.integers(0, 10, 20)
    assert net.logits(x).shape == (20, 10)  # images flattened for the MLP
    before = net.get_params()
    grads = net.gradient(x, t)
    loss0 = net.sgd_step(x, t, lr=0.5)
    assert loss0 == pytest.approx(np.log(10), abs=0.01)
    np.testing.assert_allclose(net.get_params()["W1"], before["W1"] - 0.5 * grads["W1"])
    losses = [net.sgd_step(x, t, lr=0.5) for _ in range(30)]
    assert losses[-1] < loss0 - 0.1 and losses == sorted(losses, reverse=True)


def test_manifest_kwargs_reach_the_constructor(load):
    inv = load("manifest")
    net = NetworkAdapter.create(inv.network("three_layer_nn"), seed=0)
    assert [net.get_params()[k].shape for k in ("W1", "W2", "W3")] == [(784, 30), (30, 20), (20, 10)]
    assert net.features(np.zeros((1, 784))) == (None, None)  # an MLP has no conv layer


def test_torch_network_in_numpy_layout(load):
    import torch

    inv = load("torch_cnn")
    net = NetworkAdapter.create(inv.network("two_layer_cnn_torch"), seed=1)
    assert net.param_names() == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc.weight", "fc.bias"]
    params = net.get_params()
    assert params["fc.weight"].shape == (9000, 10) and params["conv2.weight"].shape == (40, 20, 10, 10)
    assert all(v.dtype == np.float64 for v in params.values())
    np.testing.assert_array_equal(params["fc.weight"], net.module.fc.weight.detach().numpy().T)

    new = {k: rng.standard_normal(v.shape) * 0.01 for k, v in params.items()}
    net.set_params(new)
    for k, v in net.get_params().items():
        np.testing.assert_array_equal(v, new[k])
    with pytest.raises(ValueError, match="fc.weight"):
        net.set_params({"fc.weight": np.zeros((10, 9000))})

    x, t = rng.random((3, 1, 28, 28)), np.array([0, 4, 9])
    A, source = net.features(x)
    assert source == "activation" and A.shape == (3, 40, 15, 15) and A.min() >= 0
    logits = net.logits(x)
    np.testing.assert_allclose(logits, A.reshape(3, -1) @ new["fc.weight"] + new["fc.bias"], atol=1e-10)
    p = softmax(logits)
    assert net.loss(x, t) == pytest.approx(-np.mean(np.log(p[np.arange(3), t])))
    grads = net.gradient(x, t)
    np.testing.assert_allclose(grads["fc.weight"], A.reshape(3, -1).T @ (p - np.eye(10)[t]) / 3, atol=1e-10)
    np.testing.assert_allclose(grads["fc.bias"], (p - np.eye(10)[t]).mean(axis=0), atol=1e-12)

    loss = net.sgd_step(x, t, lr=0.1)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(3), t])))  # the loss before the step
    np.testing.assert_allclose(net.get_params()["fc.bias"], new["fc.bias"] - 0.1 * grads["fc.bias"], atol=1e-12)
    assert isinstance(net.module.fc.weight, torch.nn.Parameter)


def test_torch_features_fall_back_to_the_conv_output(load):
    inv = load("torch_cnn")
    net = NetworkAdapter.create(inv.network("three_layer_cnn_torch"), seed=0)
    A, source = net.features(rng.random((2, 1, 28, 28)))
    assert source == "conv" and A.shape == (2, 80, 6, 6)  # F.relu is not a module: no hook sees it
