"""Loading real-shaped submissions and finding the handout's symbols in them."""

import sys
import textwrap

import pytest

from grader.worker import discover
from tests.worker.fixtures.isolation import copy_fixture, isolated_interpreter


@pytest.fixture
def load(tmp_path):
    """load(fixture_name | {path: source}, manifest=None) -> Inventory, undone after the test."""
    with isolated_interpreter():
        def _load(submission, manifest=None):
            if isinstance(submission, str):
                root = copy_fixture(submission, tmp_path)
            else:
                root = tmp_path / "submission"
                for rel, text in submission.items():
                    path = root / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(textwrap.dedent(text), encoding="utf-8")
            return discover.load_submission(root, manifest)
        yield _load


def status(inv, path):
    return next(f for f in inv.files if f.path == path)


def test_dlfs_submission_loads_without_running_training(load):
    inv = load("dlfs")
    assert {f.path: f.status for f in inv.files} == {
        "ch07/simple_convnet.py": "ok", "ch07/train_convnet.py": "ok", "common/__init__.py": "ok",
        "common/functions.py": "ok", "common/layers.py": "ok", "common/util.py": "ok",
        "dataset/mnist.py": "ok", "pa1/three_layer_net.py": "ok"}
    assert not (inv.root / "dataset" / "LOADED").exists()  # load_mnist never ran
    train = status(inv, "ch07/train_convnet.py")
    assert [d["line"] for d in train.dropped] == [10, 13, 16, 19, 22, 23, 26, 27, 28]
    assert {d["kind"] for d in train.dropped} == {"assignment", "depends_on_dropped", "loop", "expression"}
    assert status(inv, "dataset/mnist.py").dropped[0]["kind"] == "main_guard"
    assert any("seaborn" in w for w in inv.warnings)  # a display-only package that is missing: stubbed


def test_dlfs_layers_and_networks_are_found_in_the_class_family(load):
    inv = load("dlfs")
    assert {k: (f.family, f.symbol, f.module) for k, f in inv.layers.items()} == {
        key: ("class", name, "common.layers") for key, name in [
            ("affine", "Affine"), ("relu", "Relu"), ("lrelu", "LeakyRelu"), ("convolution", "Convolution"),
            ("pooling", "Pooling"), ("flatten", "Flatten"), ("softmax", "SoftmaxWithLoss")]}
    assert {k: (f.family, f.symbol) for k, f in inv.networks.items()} == {
        "simple_convnet": ("class", "SimpleConvNet"), "three_layer_nn": ("class", "ThreeLayerNet"),
        "three_layer_nn_lrelu": ("class", "ThreeLayerNetLeakyRelu")}
    assert not inv.warnings[1:], inv.warnings  # only the seaborn stub note: no duplicate symbols


def test_sibling_imports_and_ours_share_one_module_object(load):
    inv = load("dlfs")
    layers = sys.modules["common.layers"]
    assert inv.modules["common.layers"] is layers
    net = inv.networks["simple_convnet"].obj()
    assert type(net.layers["Conv1"]) is inv.layers["convolution"].obj
    assert all(not p.startswith("..") and p != ".." for p in sys.path if isinstance(p, str))


def test_cs231n_functions_are_the_functional_family(load):
    inv = load("cs231n")
    found = {k: (f.family, f.symbol, getattr(f.backward, "__name__", None)) for k, f in inv.layers.items()}
    assert found == {"affine": ("functional", "affine_forward", "affine_backward"),
                     "relu": ("functional", "relu_forward", "relu_backward"),
                     "convolution": ("functional", "conv_forward_naive", "conv_backward_naive"),
                     "pooling": ("functional", "max_pool_forward_naive", "max_pool_backward_naive"),
                     "softmax": ("functional", "softmax_loss", None)}


def test_torch_modules_are_found_and_imported_torch_classes_are_not(load):
    inv = load("torch_cnn")
    assert {k: (f.family, f.symbol) for k, f in inv.networks.items()} == {
        "two_layer_cnn_torch": ("torch", "TwoLayerCNN"), "three_layer_cnn_torch": ("torch", "CNN3Torch")}
    assert inv.layers == {}  # torch.nn.Linear/Conv2d/ReLU/Flatten were imported, not written
    models = status(inv, "models.py")
    assert models.status == "ok" and {d["kind"] for d in models.dropped} == {"assignment", "loop"}
    assert any("torch.utils.tensorboard" in w for w in inv.warnings)


def test_colab_notebook_becomes_a_module(load):
    inv = load("colab")
    nb = status(inv, "PA1.ipynb")
    assert (nb.kind, nb.module, nb.status) == ("ipynb", "PA1", "ok")
    assert (inv.root / "PA1.py").exists()
    assert {k: f.module for k, f in inv.layers.items()} == {"affine": "PA1", "relu": "PA1"}
    assert any(d["kind"] == "colab" for d in nb.dropped)


def test_notebook_name_clash_and_odd_names(load):
    inv = load({"PA1.py": "class Relu:\n    def forward(self, x): return x\n    def backward(self, d): return d\n",
                "PA1.ipynb": open(copy_fixture.__globals__["FIXTURES"] / "colab" / "PA1.ipynb").read(),
                "hw7-1.py": "class LeNet:\n    def predict(self, x): return x\n",
                "HW 2/my net.ipynb": open(copy_fixture.__globals__["FIXTURES"] / "colab" / "PA1.ipynb").read()})
    modules = {f.path: (f.module, f.status) for f in inv.files}
    assert modules["PA1.ipynb"] == ("PA1_ipynb", "ok")
    assert modules["PA1.py"] == ("PA1", "ok")
    assert modules["hw7-1.py"] == ("hw7-1", "ok")
    assert modules["HW 2/my net.ipynb"] == ("HW 2.my_net", "ok")
    assert inv.networks["lenet"].symbol == "LeNet"
    assert any("PA1_ipynb" in w for w in inv.warnings)


def test_aliases_are_matched_case_insensitively(load):
    inv = load({"layers.py": """\
        class Dense:
            def forward(self, x): return x
            def backward(self, d): return d
        class ReLU(Dense): pass
        class LReLU(Dense): pass
        class Conv2D(Dense): pass
        class MaxPool(Dense): pass
        class SoftmaxCrossEntropy(Dense): pass
        """,
                "nets.py": """\
        import torch.nn as nn
        class CNN2:
            def predict(self, x): return x
        class three_layer_cnn:
            def gradient(self, x, t): return {}
        class CNN2Torch(nn.Module):
            pass
        class LeNet5(nn.Module):  # a torch LeNet has no torch key: not picked
            pass
        class Helper:  # not a network name
            def predict(self, x): return x
        """})
    assert {k: f.symbol for k, f in inv.layers.items()} == {
        "affine": "Dense", "relu": "ReLU", "lrelu": "LReLU", "convolution": "Conv2D", "pooling": "MaxPool",
        "softmax": "SoftmaxCrossEntropy"}
    assert {k: (f.symbol, f.family) for k, f in inv.networks.items()} == {
        "two_layer_cnn": ("CNN2", "class"), "three_layer_cnn": ("three_layer_cnn", "class"),
        "two_layer_cnn_torch": ("CNN2Torch", "torch")}


@pytest.mark.parametrize("relu_name, lrelu_name", [("TorchThreeLayerNet", "TorchThreeLayerNetLReLU"),
                                                   ("ThreeLayerNNPyTorch", "ThreeLayerNetLeakyReluTorch"),
                                                   ("MLP3", "PT_NN3LRelu")])
def test_torch_mlps_are_the_twins_of_the_numpy_mlps(load, relu_name, lrelu_name):
    inv = load({"nets.py": f"""\
        import torch.nn as nn
        class ThreeLayerNet:  # the NumPy network keeps its own key
            def predict(self, x): return x
        class {relu_name}(nn.Module):
            pass
        class {lrelu_name}(nn.Module):
            pass
        class LeakyReLU(nn.Module):  # a student's own activation module: not a network
            pass
        class Encoder(nn.Module):  # an unrelated module
            pass
        class TwoLayerCNN(nn.Module):  # the CNN twin, not an MLP one
            pass
        """})
    assert {k: (f.symbol, f.family) for k, f in inv.networks.items()} == {
        "three_layer_nn": ("ThreeLayerNet", "class"), "three_layer_nn_torch": (relu_name, "torch"),
        "three_layer_nn_lrelu_torch": (lrelu_name, "torch"), "two_layer_cnn_torch": ("TwoLayerCNN", "torch")}


def test_a_missing_torch_mlp_names_the_mlp_class_names(load):
    inv = load({"nets.py": "import torch.nn as nn\nclass Net(nn.Module):\n    pass\n"})
    assert inv.networks == {}
    with pytest.raises(discover.DiscoveryError, match=r"looked for classes named ThreeLayerNetLRelu.*"
                                                      r"\[networks.three_layer_nn_lrelu_torch\] symbol = "):
        inv.network("three_layer_nn_lrelu_torch")


def test_manifest_file_maps_odd_names(load):
    inv = load("manifest")
    assert (inv.layers["affine"].symbol, inv.layers["affine"].module) == ("FullyConn", "mylayers")
    assert inv.layers["relu"].symbol == "Rect"
    net = inv.networks["three_layer_nn"]
    assert (net.symbol, net.module, net.family, net.kwargs) == ("Model", "nets.model", "class", {"hidden": [30, 20]})


def test_yaml_manifest_and_header_manifest(load, tmp_path):
    files = {"a.py": "class Thing:\n    def predict(self, x): return x\n",
             "submission.yaml": "networks:\n  lenet:\n    symbol: a:Thing\n    kwargs: {k: 1}\n"}
    inv = load(files)
    assert inv.networks["lenet"].kwargs == {"k": 1}


def test_header_manifest_wins_and_bad_entries_warn(load):
    inv = load({"a.py": "class Thing:\n    def predict(self, x): return x\n",
                "grader.toml": "[networks.lenet]\nsymbol = 'a:Thing'\n"},
               manifest={"networks": {"simple_convnet": {"symbol": "Thing"}, "lenet": {"symbol": "a:Nope"}},
                         "layers": {"affine": "nomodule:X"}})
    assert inv.networks["simple_convnet"].symbol == "Thing"
    assert "lenet" not in inv.networks  # the file's manifest was not read
    assert any("'Nope' was not found in module 'a'" in w for w in inv.warnings)
    assert any("no module 'nomodule'" in w for w in inv.warnings)


def test_failed_statements_are_recorded_and_the_rest_of_the_file_loads(load):
    inv = load({"good.py": "class Relu:\n    def forward(self, x): return x\n    def backward(self, d): return d\n",
                "bad.py": "import numpy as np\n\nfrom missing_helpers import thing\n\ndef after():\n    return 2\n",
                "worse.py": "class A:\n    x = 1 / 0\n\nclass B:\n    y = 1\n",
                "syntax.py": "def f(:\n"})
    assert {f.path: f.status for f in inv.files} == {"bad.py": "ok", "good.py": "ok", "syntax.py": "error",
                                                     "worse.py": "ok"}
    (bad,) = status(inv, "bad.py").failed
    assert (bad["line"], bad["text"], bad["error"]) == (
        3, "from missing_helpers import thing", "import failed: No module named 'missing_helpers'")
    assert bad["names"] == ["thing"] and "stubbed: thing" in bad["resolution"]
    assert inv.modules["bad"].after() == 2 and inv.modules["bad"].np.__name__ == "numpy"
    with pytest.raises(NameError, match="'thing' is not available: from missing_helpers import thing failed "
                                        r"\(bad.py, line 3"):
        inv.modules["bad"].thing(1)
    (worse,) = status(inv, "worse.py").failed
    assert worse["error"] == "raised ZeroDivisionError: division by zero" and worse["names"] == ["A"]
    assert inv.modules["worse"].B.y == 1 and not hasattr(inv.modules["worse"], "A")
    assert status(inv, "syntax.py").error.startswith("SyntaxError") and "line 1" in status(inv, "syntax.py").error
    assert "relu" in inv.layers
    assert any("'thing' comes from a module that is neither in the submission nor installed" in w
               for w in inv.warnings)


def test_missing_symbols_say_how_to_map_them(load):
    inv = load({"a.py": "x = 1\n"})
    with pytest.raises(discover.DiscoveryError, match=r"grader.toml.*\[layers\] convolution = "):
        inv.layer("convolution")
    with pytest.raises(discover.DiscoveryError, match=r"\[networks.two_layer_cnn_torch\] symbol = "):
        inv.network("two_layer_cnn_torch")


def test_skipped_directories_and_large_files(load):
    inv = load({"venv/lib/x.py": "raise SystemExit\n", ".hidden/y.py": "raise SystemExit\n",
                "__pycache__/z.py": "raise SystemExit\n", "ok.py": "y = 1\n",
                "big.py": "# " + "x" * (5 * 1024 * 1024) + "\n"})
    assert [f.path for f in inv.files] == ["ok.py"]
    assert any("big.py" in w and "5 MB" in w for w in inv.warnings)


def test_failed_statement_in_a_notebook_points_at_the_cell(load):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import numpy as np"), new_code_cell("class A:\n    x = 1 / 0")])
    inv = load({"HW.ipynb": nbformat.writes(nb)})
    (failed,) = inv.files[0].failed
    assert inv.files[0].status == "ok"
    assert (failed["cell"], failed["cell_line"], failed["error"]) == (1, 1, "raised ZeroDivisionError: division by zero")


def test_a_name_a_failed_star_import_would_have_bound_is_explained(load):
    from grader.worker.main import error_info

    inv = load({"layers.py": "import numpy as np\nfrom common.functions import *\n\n"
                             "def loss(x):\n    return softmax(x)\n"})
    try:
        inv.modules["layers"].loss(1)
    except NameError as exc:
        message = error_info(exc)["message"]
    assert message == ("name 'softmax' is not defined ('softmax' may have come from a failed import (layers.py, "
                       "line 2: from common.functions import *: import failed: No module named 'common'))")


def test_a_figure_heavy_notebook_over_5_mb_is_loaded(load):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cell = new_code_cell("class Relu:\n    def forward(self, x): return x\n    def backward(self, d): return d")
    cell["outputs"] = [new_output("display_data", data={"image/png": "A" * (6 * 1024 * 1024)})]
    inv = load({"HW.ipynb": nbformat.writes(new_notebook(cells=[cell]))})
    assert inv.files[0].status == "ok" and "relu" in inv.layers
