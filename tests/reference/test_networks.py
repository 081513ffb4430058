"""The spec networks: shapes, backprop against finite differences, CAM helpers, torch twins."""

import numpy as np
import pytest
import torch

from reference.gradcheck import numerical_gradient_at, rel_difference
from reference.networks import NETWORKS, Network, build, output_shape, three_layer_cnn
from reference.torch_networks import (TorchNetwork, load_numpy_params, numpy_params,
                                      to_torch)

EXPECTED_SHAPES = {
    "two_layer_cnn": {"W1": (20, 1, 5, 5), "W2": (40, 20, 10, 10), "W3": (9000, 10)},
    "three_layer_cnn": {"W1": (20, 1, 5, 5), "W2": (40, 20, 10, 10), "W3": (80, 40, 10, 10),
                        "W4": (2880, 10)},
    "simple_convnet": {"W1": (30, 1, 5, 5), "W2": (4320, 100), "W3": (100, 10)},
    "one_conv_net": {"W1": (30, 1, 5, 5), "W2": (4320, 10)},
    "lenet": {"W1": (4, 1, 5, 5), "W2": (12, 4, 5, 5), "W3": (192, 10)},
    "three_layer_nn": {"W1": (784, 100), "W2": (100, 50), "W3": (50, 10)},
}

# Networks small enough to gradient-check, with their factory options.
GRADCHECK_CASES = [
    ("three_layer_nn", {}), ("three_layer_nn", {"activation": "lrelu"}),
    ("two_layer_cnn", {}), ("two_layer_cnn", {"pool": True, "pad": "same"}),
    ("three_layer_cnn", {}), ("simple_convnet", {}), ("one_conv_net", {}),
    ("lenet", {}), ("lenet", {"hidden": 20}),
]


def batch(n=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28)), rng.integers(0, 10, size=n)


def lively(net, seed=1):
    """Give a network random biases (in place), so the bias paths carry signal too."""
    rng = np.random.default_rng(seed)
    for key, value in net.params.items():
        if key.startswith("b"):
            value += 0.1 * rng.standard_normal(value.shape)
    return net


def test_every_handout_network_is_registered():
    assert set(NETWORKS) == set(EXPECTED_SHAPES)


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPES))
def test_default_parameter_shapes(name):
    shapes = build(name).param_shapes()
    for key, shape in EXPECTED_SHAPES[name].items():
        assert shapes[key] == shape
        assert shapes["b" + key[1:]] == (shape[0] if len(shape) == 4 else shape[1],)
    assert len(shapes) == 2 * len(EXPECTED_SHAPES[name])


def test_variant_shapes():
    assert build("three_layer_nn", hidden=(30, 20)).param_shapes()["W2"] == (30, 20)
    assert build("lenet", hidden=64).param_shapes()["W3"] == (192, 64)
    assert build("two_layer_cnn", pool=True).param_shapes()["W3"] == (40, 10)
    padded = build("two_layer_cnn", pad="same")
    assert padded.spec[0]["pad"] == 2 and padded.param_shapes()["W3"] == (40 * 27 * 27, 10)


def test_output_shape_names_the_layer_that_does_not_fit():
    assert output_shape(three_layer_cnn())[-2] == (2880,)
    with pytest.raises(ValueError, match="layer 7 .*conv"):
        output_shape(three_layer_cnn(pool=True))
    with pytest.raises(ValueError, match="layer 1 .*unknown layer type"):
        output_shape([{"type": "dense", "units": 3}])
    with pytest.raises(ValueError, match="needs \\(C, H, W\\)"):
        output_shape([{"type": "affine", "units": 3}, {"type": "conv", "filters": 1, "size": 1}])


@pytest.mark.parametrize("name, options", GRADCHECK_CASES)
def test_gradient_matches_finite_differences(name, options):
    net = lively(build(name, weight_init_std="he", **options))
    x, t = batch()
    grads = net.gradient(x, t)
    assert set(grads) == set(net.params)
    rng = np.random.default_rng(2)
    for key, param in net.params.items():
        assert grads[key].shape == param.shape
        indices = [tuple(rng.integers(0, n) for n in param.shape) for _ in range(3)]
        numeric = numerical_gradient_at(lambda _: net.loss(x, t), param, indices)
        analytic = np.array([grads[key][i] for i in indices])
        assert rel_difference(analytic, numeric) < 1e-7, key


def test_layers_see_in_place_parameter_updates():
    net = build("simple_convnet")
    x, t = batch()
    assert net.layers["Conv1"].W is net.params["W1"]
    before = net.loss(x, t)
    grads = net.gradient(x, t)
    for key in net.params:
        net.params[key] -= 0.1 * grads[key]
    assert net.loss(x, t) < before


def test_mlp_accepts_flat_and_image_input():
    net = build("three_layer_nn", weight_init_std="he")
    x, _ = batch(3)
    assert np.array_equal(net.predict(x), net.predict(x.reshape(3, 784)))


def test_fresh_network_loss_is_near_ln_10():
    x, t = batch(8)
    assert build("two_layer_cnn").loss(x, t) == pytest.approx(np.log(10), abs=0.01)


def test_accuracy_is_batched_and_takes_one_hot_labels():
    net = build("lenet", weight_init_std="he")
    x, t = batch(7)
    expected = np.mean(net.predict(x).argmax(axis=1) == t)
    assert net.accuracy(x, t, batch_size=3) == pytest.approx(expected)
    assert net.accuracy(x, np.eye(10)[t]) == pytest.approx(expected)


def test_seed_and_init():
    assert np.array_equal(build("lenet", seed=3).params["W1"], build("lenet", seed=3).params["W1"])
    assert not np.array_equal(build("lenet", seed=3).params["W1"], build("lenet").params["W1"])
    he = build("three_layer_nn", weight_init_std="he").params["W1"]
    assert he.std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    assert build("three_layer_nn").params["W1"].std() == pytest.approx(0.01, rel=0.05)


def test_build_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown network"):
        build("resnet")


# --------------------------------------------------------------------------- CAM helpers

@pytest.mark.parametrize("name, shape", [("two_layer_cnn", (40, 15, 15)),
                                         ("three_layer_cnn", (80, 6, 6)),
                                         ("simple_convnet", (30, 24, 24)),
                                         ("lenet", (12, 8, 8))])
def test_feature_maps(name, shape):
    net = lively(build(name, weight_init_std="he"))
    x, _ = batch(3)
    A = net.feature_maps(x)
    assert A.shape == (3,) + shape
    assert A.min() >= 0                       # taken after the ReLU
    assert np.allclose(net.logits_from_features(A), net.predict(x), rtol=0, atol=1e-12)


def test_feature_maps_without_activation_is_the_last_conv():
    spec = [{"type": "conv", "filters": 3, "size": 5}, {"type": "affine", "units": 10}]
    net = Network(spec)
    x, _ = batch()
    assert np.array_equal(net.feature_maps(x), net.layers["Conv1"].forward(x))


def test_mlp_has_no_feature_maps():
    with pytest.raises(ValueError, match="no conv layer"):
        build("three_layer_nn").feature_maps(batch()[0])


@pytest.mark.parametrize("name, c", [("two_layer_cnn", 3), ("simple_convnet", np.array([1, 7]))])
def test_feature_gradient_matches_finite_differences(name, c):
    net = lively(build(name, weight_init_std="he"))
    x, _ = batch()
    A, dA = net.feature_gradient(x, c)
    assert dA.shape == A.shape
    c = np.broadcast_to(c, (2,))
    rng = np.random.default_rng(0)
    for n in range(2):
        f = lambda _: net.logits_from_features(A)[n, c[n]]  # noqa: E731 - reads A in place
        # Positive features only: at a ReLU zero a max pool that follows has ties, where the
        # logit is not differentiable and finite differences see a one-sided slope.
        positive = np.argwhere(A[n] > 1e-3)
        indices = [(n,) + tuple(i) for i in positive[rng.choice(len(positive), 8)]]
        numeric = numerical_gradient_at(f, A, indices)
        analytic = np.array([dA[i] for i in indices])
        assert rel_difference(analytic, numeric) < 1e-7
        # A sample's logit does not depend on the other sample's features.
        other = 1 - n
        assert numerical_gradient_at(f, A, [(other, 0, 0, 0)])[0] == 0.0


# --------------------------------------------------------------------------- torch twins

def test_weights_round_trip_through_torch():
    net = lively(build("simple_convnet"))
    module = to_torch(net)
    assert isinstance(module, TorchNetwork)
    back = numpy_params(module)
    assert all(np.array_equal(back[key], net.params[key]) for key in net.params)
    x, _ = batch()
    logits = module(torch.from_numpy(x)).detach().numpy()
    assert rel_difference(logits, net.predict(x)) < 1e-12


def test_load_numpy_params_rejects_wrong_shapes():
    net = build("three_layer_nn")
    module = TorchNetwork(net.spec)
    bad = dict(net.params, W1=net.params["W1"].T)
    with pytest.raises(ValueError, match="W1"):
        load_numpy_params(module, bad)
