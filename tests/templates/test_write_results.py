"""The students' writer (grader/templates/write_results.py) against reference/metrics.py and the
reference networks, for a textbook NumPy network and a torch module, on small random test sets."""

import json

import numpy as np
import pytest
import torch

from grader.templates import copy_writer, write_results as writer
from reference import metrics
from reference.networks import Network, three_layer_nn
from reference.torch_networks import to_torch

SMALL_CNN = [{"type": "conv", "filters": 3, "size": 5, "stride": 1, "pad": 0}, {"type": "relu"},
             {"type": "flatten"}, {"type": "affine", "units": 10}]


def random_test_set(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 12, 12)), rng.integers(0, 10, n)


def read(folder):
    cm = np.loadtxt(folder / "confusion.csv", delimiter=",", dtype=np.int64)
    top = json.loads((folder / "top3.json").read_text())
    metrics_json = json.loads((folder / "metrics.json").read_text())
    return cm, top, metrics_json


def test_numpy_cnn_matches_reference_metrics(tmp_path):
    net = Network(SMALL_CNN, input_shape=(1, 12, 12), weight_init_std=0.3, seed=1)
    x, t = random_test_set()
    written = writer.write_results(net, x, t, "two_layer_cnn", out=str(tmp_path), train_loss=[2.3, 1.0],
                                   valid_loss=[2.31, 1.1], cam_sample=4, batch_size=7)
    folder = tmp_path / "two_layer_cnn"
    cm, top, metrics_json = read(folder)
    logits = net.predict(x)
    probs = metrics.softmax(logits)
    np.testing.assert_array_equal(cm, metrics.confusion_matrix(t, logits.argmax(axis=1)))
    assert cm.sum(axis=1).tolist() == np.bincount(t, minlength=10).tolist()
    idx, p = metrics.top3_per_class(probs)
    assert top["among"] == "all" and top["index"] == idx.tolist()
    np.testing.assert_allclose(top["prob"], p, rtol=1e-12)
    assert metrics_json == {"test_accuracy": pytest.approx(np.mean(logits.argmax(axis=1) == t))}
    assert written["test_accuracy"] == metrics_json["test_accuracy"]
    with np.load(folder / "weights.npz", allow_pickle=False) as w:
        assert sorted(w.files) == sorted(net.params)
        np.testing.assert_array_equal(w["W1"], net.params["W1"])
    assert (folder / "loss.csv").read_text().splitlines() == ["epoch,train_loss,valid_loss", "0,2.3,2.31", "1,1.0,1.1"]
    cam = np.load(tmp_path / "cam" / "two_layer_cnn.npy")
    expected = metrics.cam_flatten_affine(net.feature_maps(x[4:5])[0], net.params["W2"], int(t[4]))
    np.testing.assert_allclose(cam, expected, rtol=1e-12)
    assert cam.shape == (8, 8)
    # the map summed over locations plus the bias is the logit itself
    assert cam.sum() + net.params["b2"][t[4]] == pytest.approx(logits[4, t[4]])
    assert json.loads((tmp_path / "cam" / "sample.json").read_text()) == {"index": 4, "class": int(t[4])}


def test_torch_module_matches_its_numpy_twin(tmp_path):
    np_net = Network(SMALL_CNN, input_shape=(1, 12, 12), weight_init_std=0.3, seed=2)
    module = to_torch(np_net)
    x, t = random_test_set(seed=3)
    writer.write_results(np_net, x, t, "two_layer_cnn", out=str(tmp_path / "np"), cam_sample=0)
    writer.write_results(module, x, t, "two_layer_cnn_torch", out=str(tmp_path / "pt"), cam_sample=0)
    cm_np, top_np, _ = read(tmp_path / "np" / "two_layer_cnn")
    cm_pt, top_pt, _ = read(tmp_path / "pt" / "two_layer_cnn_torch")
    np.testing.assert_array_equal(cm_np, cm_pt)
    assert top_np["index"] == top_pt["index"]
    np.testing.assert_allclose(top_np["prob"], top_pt["prob"], rtol=1e-10)
    np.testing.assert_allclose(np.load(tmp_path / "pt" / "cam" / "two_layer_cnn_torch.npy"),
                               np.load(tmp_path / "np" / "cam" / "two_layer_cnn.npy"), rtol=1e-10)
    with np.load(tmp_path / "pt" / "two_layer_cnn_torch" / "weights.npz", allow_pickle=False) as w:
        assert sorted(w.files) == sorted(module.state_dict())


class GapNet(torch.nn.Module):
    """conv -> F.relu (functional, invisible to hooks) -> global average pool -> linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4, 10)

    def forward(self, x):
        a = torch.nn.functional.relu(self.conv(x))
        return self.fc(a.mean(dim=(2, 3)))


def test_gap_head_gives_the_standard_cam():
    net = GapNet().double()
    x, t = random_test_set(n=2)
    with torch.no_grad():
        features = torch.relu(net.conv(torch.as_tensor(x[:1])))[0].numpy()
    cam = writer.class_activation_map(net, x[:1], 3)
    np.testing.assert_allclose(cam, metrics.cam_gap(features, net.fc.weight.detach().numpy().T, 3), rtol=1e-12)


def test_mlp_gets_no_cam_and_among_class(tmp_path):
    net = Network(three_layer_nn(hidden=(8, 6)), input_shape=(784,), weight_init_std=0.5, seed=0)
    rng = np.random.default_rng(0)
    x, t = rng.random((50, 784)), np.arange(50) % 10
    writer.write_results(net, x, t, "three_layer_nn", out=str(tmp_path), among="class")
    assert not (tmp_path / "cam").exists()
    top = json.loads((tmp_path / "three_layer_nn" / "top3.json").read_text())
    idx, p = metrics.top3_per_class(metrics.softmax(net.predict(x)), t, among="label")
    assert top["among"] == "class" and top["index"] == idx.tolist()
    assert all(t[i] == c for c, row in enumerate(top["index"]) for i in row)


def test_refuses_unequal_loss_logs_and_a_second_cam_sample(tmp_path):
    net = Network(SMALL_CNN, input_shape=(1, 12, 12), seed=0)
    x, t = random_test_set(n=20)
    with pytest.raises(ValueError, match="train_loss has 3 entries but valid_loss 2"):
        writer.write_results(net, x, t, "a", out=str(tmp_path), train_loss=[1, 2, 3], valid_loss=[1, 2])
    writer.write_results(net, x, t, "a", out=str(tmp_path), cam_sample=1)
    with pytest.raises(ValueError, match="same test image"):
        writer.write_results(net, x, t, "b", out=str(tmp_path), cam_sample=2)


def test_copy_writer_gives_a_file_that_imports_nothing_of_the_grader(tmp_path):
    target = copy_writer(tmp_path / "sub")
    text = target.read_text()
    assert target.name == "write_results.py"
    assert "import grader" not in text and "import reference" not in text and "from grader" not in text
