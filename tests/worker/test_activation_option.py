"""One ThreeLayerNN class with an activation option answers both PA1 networks (issue 15)."""

import shutil
import textwrap

import pytest

from grader.worker import activation_option, adapters, discover
from grader.worker.activation_option import Option, find_option
from tests.worker.fixtures.isolation import FIXTURES, isolated_interpreter

EMPTY = Option.__dataclass_fields__["default"].default  # inspect.Parameter.empty


@pytest.fixture
def load(tmp_path):
    """load(variant, extra_files={}) -> Inventory of one_class/layers.py + one_class/<variant>.py."""
    with isolated_interpreter():
        def _load(variant, extra=None, manifest=None):
            root = tmp_path / variant
            root.mkdir()
            shutil.copy(FIXTURES / "one_class" / "layers.py", root)
            shutil.copy(FIXTURES / "one_class" / f"{variant}.py", root)
            for rel, text in (extra or {}).items():
                (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
            return discover.load_submission(root, manifest)
        yield _load


def built(inv, key):
    """The activation object of the network the grader would construct for ``key``."""
    return adapters.NetworkAdapter.create(inv.network(key), {}, seed=0).net.act


# ----------------------------------------------------------------------------- signatures alone

def test_the_option_is_read_from_the_signature():
    class A:
        def __init__(self, input_size=784, activation="relu", alpha=0.1): ...

    class B:
        def __init__(self, use_leaky=False): ...

    class C:
        def __init__(self, hidden=(100, 50), negative_slope=None): ...

    class D:
        def __init__(self, kind="tanh"): ...  # an activation spelled in the default: any name

    class E:
        def __init__(self, lr=0.1, hidden_size=100): ...

    assert find_option(A) == Option("choice", "activation", "relu", slope="alpha", slope_default=0.1)
    assert find_option(B) == Option("flag", "use_leaky", False)
    assert find_option(C) == Option("slope", "negative_slope", None)
    assert find_option(D) == Option("choice", "kind", "tanh")
    assert find_option(E) is None


def test_an_ambiguous_alpha_counts_only_where_the_class_mentions_leaky():
    class Decay:
        def __init__(self, alpha=0.001): ...

    assert find_option(Decay) is None  # a slope named "alpha" in a class that never says leaky
    assert find_option(type("Leaky", (), {"__init__": lambda self, leaky_alpha=0.0: None})).kind == "slope"


def test_kwargs_for_each_kind_of_option():
    inv = discover.Inventory(root=None)
    choice = Option("choice", "act", "relu", slope="alpha", slope_default=None)
    assert activation_option.leaky_kwargs(choice, ["relu", "leaky_relu"], inv) == {"act": "leaky_relu", "alpha": 0.1}
    assert activation_option.leaky_kwargs(choice, [], inv) == {"act": "lrelu", "alpha": 0.1}
    assert activation_option.relu_kwargs(choice, [], inv) == {}
    assert activation_option.relu_kwargs(Option("choice", "act", EMPTY), ["ReLU"], inv) == {"act": "ReLU"}
    flag = Option("flag", "use_leaky", True)
    assert (activation_option.leaky_kwargs(flag, [], inv), activation_option.relu_kwargs(flag, [], inv)) == (
        {"use_leaky": True}, {"use_leaky": False})
    slope = Option("slope", "alpha", 0.02)
    assert (activation_option.leaky_kwargs(slope, [], inv), activation_option.relu_kwargs(slope, [], inv)) == (
        {"alpha": 0.02}, {"alpha": 0.0})
    assert activation_option.leaky_kwargs(Option("slope", "alpha", 0), [], inv) == {"alpha": 0.1}


# ----------------------------------------------------------------------------- whole submissions

@pytest.mark.parametrize("variant, lrelu_built_as, alpha, relu_built_as", [
    ("activation_string", "ThreeLayerNN(activation='lrelu')", 0.1, None),
    ("act_dict", "ThreeLayerNet(act='leaky_relu', alpha=0.1)", 0.1, None),
    ("use_leaky", "ThreeLayerNN(use_leaky=True)", 0.05, "ThreeLayerNN(use_leaky=False)"),
    ("alpha_only", "ThreeLayerNN(alpha=0.1)", 0.1, None),
    ("layer_class", "ThreeLayerNN(activation=LeakyRelu)", 0.01, None),
    ("sigmoid_default", "ThreeLayerNN(activation='leaky')", 0.01, "ThreeLayerNN(activation='relu')"),
])
def test_one_class_answers_both_networks(load, variant, lrelu_built_as, alpha, relu_built_as):
    inv = load(variant)
    lrelu, relu = inv.networks["three_layer_nn_lrelu"], inv.networks["three_layer_nn"]
    assert lrelu.obj is relu.obj and lrelu.built_as == lrelu_built_as
    assert relu.built_as == relu_built_as
    act = built(inv, "three_layer_nn_lrelu")
    assert type(act).__name__ == "LeakyRelu" and act.alpha == alpha
    assert type(built(inv, "three_layer_nn")).__name__ == "Relu"
    assert inv.summary()["networks"]["three_layer_nn_lrelu"]["built_as"] == lrelu_built_as
    assert any(w.startswith(f"three_layer_nn_lrelu: the submission has no Leaky-ReLU network class; built as "
                            f"{lrelu_built_as}") for w in inv.warnings)
    if relu_built_as is None:
        assert "built_as" not in inv.summary()["networks"]["three_layer_nn"]


def test_an_alpha_that_is_not_a_slope_builds_nothing(load):
    inv = load("regularization_alpha")
    assert "three_layer_nn_lrelu" not in inv.networks
    assert inv.networks["three_layer_nn"].kwargs == {} and inv.networks["three_layer_nn"].built_as is None
    with pytest.raises(discover.DiscoveryError, match="network 'three_layer_nn_lrelu' was not found"):
        inv.network("three_layer_nn_lrelu")


def test_a_class_of_its_own_is_used_rather_than_the_option(load):
    inv = load("activation_string", {"lrelu_net.py": """\
        from layers import LeakyRelu, Stack

        class ThreeLayerNetLeakyRelu(Stack):
            def __init__(self):
                super().__init__(LeakyRelu(0.3))
        """})
    assert inv.networks["three_layer_nn_lrelu"].symbol == "ThreeLayerNetLeakyRelu"
    assert inv.networks["three_layer_nn_lrelu"].built_as is None
    assert built(inv, "three_layer_nn_lrelu").alpha == 0.3


def test_the_manifest_wins(load):
    inv = load("sigmoid_default", {"other.py": """\
        from layers import LeakyRelu, Stack

        class Mine(Stack):
            def __init__(self):
                super().__init__(LeakyRelu(0.2))
        """, "grader.toml": """\
        [networks.three_layer_nn]
        symbol = "sigmoid_default:ThreeLayerNN"
        [networks.three_layer_nn_lrelu]
        symbol = "other:Mine"
        """})
    assert inv.networks["three_layer_nn_lrelu"].symbol == "Mine" and built(inv, "three_layer_nn_lrelu").alpha == 0.2
    # mapped by hand: its default (sigmoid) is left as the manifest gave it
    assert inv.networks["three_layer_nn"].kwargs == {} and type(built(inv, "three_layer_nn")).__name__ == "Sigmoid"
    assert not any("built as" in w for w in inv.warnings)


def test_a_manifest_mapped_relu_network_still_lends_its_option(load):
    inv = load("activation_string", manifest={"networks": {"three_layer_nn": {"symbol": "ThreeLayerNN",
                                                                              "kwargs": {"alpha": 0.3}}}})
    lrelu = inv.networks["three_layer_nn_lrelu"]
    assert lrelu.built_as == "ThreeLayerNN(alpha=0.3, activation='lrelu')" and built(inv, "three_layer_nn_lrelu").alpha == 0.3


def test_a_required_option_is_given_for_both_networks(load):
    inv = load("activation_string", {"activation_string.py": """\
        from layers import LeakyRelu, Relu, Stack

        class ThreeLayerNN(Stack):
            def __init__(self, nonlinearity):
                super().__init__({"relu": Relu, "leaky": LeakyRelu}[nonlinearity]())
        """})
    assert inv.networks["three_layer_nn"].built_as == "ThreeLayerNN(nonlinearity='relu')"
    assert inv.networks["three_layer_nn_lrelu"].built_as == "ThreeLayerNN(nonlinearity='leaky')"
    assert "three_layer_nn: built as ThreeLayerNN(nonlinearity='relu'), since the constructor requires " \
           "nonlinearity" in inv.warnings
    assert type(built(inv, "three_layer_nn")).__name__ == "Relu"


def test_a_signature_that_raises_costs_only_the_option(load):
    inv = load("activation_string", {"activation_string.py": """\
        from layers import Relu, Stack

        class Meta(type):
            @property
            def __signature__(cls):
                raise RuntimeError("no peeking")

        class ThreeLayerNN(Stack, metaclass=Meta):
            def __init__(self):
                super().__init__(Relu())
        """})
    assert "three_layer_nn" in inv.networks and "three_layer_nn_lrelu" not in inv.networks
    assert any("its constructor's activation option could not be read (RuntimeError: no peeking)" in w
               for w in inv.warnings)



TORCH_ONE_CLASS = {
    "layer class": ("def __init__(self, activation=nn.ReLU):", "activation()", "activation=LeakyReLU"),
    "string and slope": ("def __init__(self, act='relu', alpha=0.3):",
                         "nn.LeakyReLU(alpha) if act == 'leaky_relu' else nn.ReLU()", "act='leaky_relu'"),
}


@pytest.mark.parametrize("case", TORCH_ONE_CLASS)
def test_a_torch_mlp_with_an_option_answers_both_torch_twins(load, case):
    signature, activation, leaky = TORCH_ONE_CLASS[case]
    inv = load("activation_string", {"activation_string.py": f"""\
        import torch.nn as nn

        class TorchThreeLayerNet(nn.Module):
            {signature}
                super().__init__()
                self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 20), {activation}, nn.Linear(20, 10))

            def forward(self, x):
                return self.net(x)
        """})
    assert inv.networks["three_layer_nn_lrelu_torch"].built_as == f"TorchThreeLayerNet({leaky})"
    assert "three_layer_nn_lrelu" not in inv.networks  # a torch class lends its option to its own twin only
    for key, act in (("three_layer_nn_lrelu_torch", "LeakyReLU"), ("three_layer_nn_torch", "ReLU")):
        module = adapters.NetworkAdapter.create(inv.network(key), {}, seed=0).module
        assert type(module.net[2]).__name__ == act, key
