"""Planted deliverables: correct ones pass, each forged or broken one fails exactly its check."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from grader.deliverables import judges, readers
from grader.deliverables.checks import deliverable_checks
from grader.deliverables.readers import ReadError
from reference import data as mnist
from reference import metrics

from tests.deliverables import planting


@pytest.fixture(scope="module")
def model():
    """Synthetic outputs on the real MNIST test labels: random logits, the true class ahead on 90 %
    of the images (what a trained network looks like to the judges; no network runs)."""
    labels = mnist.load_labels("test")
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 1.0, (len(labels), 10))
    right = np.flatnonzero(rng.random(len(labels)) < 0.9)
    logits[right, labels[right]] += 4.0
    return judges.ModelOutputs(logits, labels, "your network")


@pytest.fixture(scope="module")
def mnist_test(model):
    return None, model.labels


@pytest.fixture(scope="module")
def mlp(model):
    return None, model.logits, model


@pytest.fixture()
def planted(tmp_path, model):
    """Every deliverable of three_layer_nn written from ``model`` (no weights: nothing runs)."""
    net = SimpleNamespace(spec=[], params={})
    return tmp_path, planting.plant(tmp_path, "three_layer_nn", net, None, model.labels, logits=model.logits,
                                    weights=False)


def test_correct_deliverables_pass_against_the_model(planted, mlp, mnist_test):
    root, w = planted
    _, _, model = mlp
    out = root / "results" / "three_layer_nn"
    assert judges.judge_confusion("n", readers.read_confusion(out / "confusion.csv"), model=model,
                                  reported_accuracy=readers.read_metrics(out / "metrics.json")).ok
    assert judges.judge_top3("n", readers.read_top3(out / "top3.json"), labels=mnist_test[1], model=model).ok
    res = judges.judge_loss_log("n", readers.read_loss(out / "loss.csv"), model=model)
    assert res.ok, res.message
    acc = judges.judge_accuracy("n", readers.read_metrics(out / "metrics.json"), model=model)
    assert acc.ok and acc.figures["measured"] == pytest.approx(w["accuracy"])


def test_forged_matrix_with_the_right_row_sums_is_not_the_model(planted, mlp):
    _, w = planted
    forged = w["matrix"].copy()
    forged[3, 3] -= 5
    forged[3, 5] += 5          # rows still sum to the class counts
    res = judges.judge_confusion("n", forged, model=mlp[2])
    assert res.status == "failed" and res.diagnosis == "not_the_model"
    assert res.figures["model_matrix"] == w["matrix"].tolist()
    # without weights the same matrix is consistent, and the message says what to add
    res = judges.judge_confusion("n", forged, weights_hint="results/n/weights.npz")
    assert res.ok and "results/n/weights.npz" in res.message


def test_transposed_matrix_is_named_and_normalised_one_accepted(planted, mlp):
    _, w = planted
    res = judges.judge_confusion("n", w["matrix"].T, model=mlp[2])
    assert res.status == "failed" and res.diagnosis == "transposed" and "transposed" in res.message
    counts = np.asarray(judges.MNIST_TEST_COUNTS)
    res = judges.judge_confusion("n", np.round(w["matrix"] / counts[:, None], 6), model=mlp[2])
    assert res.ok and "row-normalised" in res.message


def test_trace_must_agree_with_the_reported_accuracy(planted):
    _, w = planted
    res = judges.judge_confusion("n", w["matrix"], reported_accuracy=round(w["accuracy"] + 0.05, 4))
    assert res.status == "failed" and "trace" in res.message


def test_top3_that_is_not_the_top_fails(planted, mlp, mnist_test):
    _, w = planted
    _, _, model = mlp
    index, prob = w["index"].copy(), w["prob"].copy()
    worse = int(np.argsort(model.probs[:, 4])[-10])     # the 10th best image of class 4
    index[4, 2], prob[4, 2] = worse, model.probs[worse, 4]
    res = judges.judge_top3("n", {"among": "all", "index": index, "prob": prob}, labels=mnist_test[1], model=model)
    assert res.status == "failed" and res.diagnosis == "not_the_top" and "class 4" in res.message
    # ascending order is accepted, an unsorted row is not
    asc = {"among": "all", "index": w["index"][:, ::-1], "prob": w["prob"][:, ::-1]}
    assert judges.judge_top3("n", asc, labels=mnist_test[1], model=model).ok
    mixed = {"among": "all", "index": w["index"][:, [1, 0, 2]], "prob": w["prob"][:, [1, 0, 2]]}
    if not np.all(np.diff(mixed["prob"], axis=1) == 0):
        assert judges.judge_top3("n", mixed, labels=mnist_test[1]).status == "failed"


def test_ties_at_one_are_not_errors(mnist_test):
    _, t = mnist_test
    logits = np.zeros((len(t), 10))
    logits[:, 0] = -50.0
    logits[:50, 0] = 50.0                  # 50 images with probability 1.0 (to float32) for class 0
    model = judges.ModelOutputs(logits, t, "your network")
    index = np.tile([7, 3, 11], (10, 1))
    prob = model.probs[index, np.arange(10)[:, None]].astype(np.float32).astype(np.float64)
    res = judges.judge_top3("n", {"among": "all", "index": index, "prob": prob}, labels=t, model=model)
    assert res.figures["among"] == "all"
    assert "class 0" not in res.message


def test_loss_log_typed_by_hand_fails(planted, mlp):
    typed = {"train": [2.3, 1.2, 0.8, 0.5], "valid": [2.3, 1.3, 0.9, 0.6]}
    res = judges.judge_loss_log("n", typed)
    assert res.status == "failed" and res.diagnosis == "typed_by_hand"


def test_loss_log_shape_rules():
    assert judges.judge_loss_log("n", {"train": [2.30, 0.5, 0.41, 0.3], "valid": [2.31, 0.41]}).diagnosis == "inconsistent"
    assert judges.judge_loss_log("n", {"train": [4.1234, 0.51], "valid": [4.0123, 0.61]}).diagnosis == "initial_loss"
    assert judges.judge_loss_log("n", {"train": [2.3011, 2.4123], "valid": [2.3012, 2.4567]}).diagnosis == "not_learning"
    assert judges.judge_loss_log("n", {"train": [2.3009, 0.0775, 0.0482, 0.0400],
                                       "valid": [2.3021, 0.0811, 0.0603, 0.0551]}).ok


def test_reported_accuracy_must_be_the_models(mlp):
    model = mlp[2]
    res = judges.judge_accuracy("n", round(model.accuracy + 0.01, 4), model=model)
    assert res.status == "failed" and res.figures["measured"] == pytest.approx(model.accuracy)


def test_accuracy_bar_pays_full_points_above_it_and_a_linear_share_below(mlp):
    from grader import scoring
    from grader.scoring import Rule

    model = mlp[2]
    acc = model.accuracy
    above = judges.judge_accuracy("n", round(acc, 4), model=model, thresholds=(acc - 0.01, acc - 0.2))
    assert above.ok and above.figures["fraction"] == 1.0
    below = judges.judge_accuracy("n", round(acc, 4), model=model, thresholds=(acc + 0.1, acc - 0.1))
    assert below.status == "failed" and below.diagnosis == "low_accuracy"
    assert below.figures["fraction"] == pytest.approx(0.5, abs=1e-3) and "full points" in below.message
    floor = judges.judge_accuracy("n", round(acc, 4), model=model, thresholds=(0.999, 0.99))
    assert floor.figures["fraction"] == 0.0
    # without weights the reported figure is what the bar reads
    assert judges.judge_accuracy("n", 0.5, thresholds=(0.9, 0.1)).figures["fraction"] == pytest.approx(0.5)
    # partial pays the fraction; without partial a bar not met earns nothing
    half = [dataclasses.replace(below, id="lenet.accuracy")]
    paid = scoring.score(half, {"accuracy": 2.0}, [Rule("accuracy", partial=True)])[0]
    assert paid.score == pytest.approx(2.0 * below.figures["fraction"]) and paid.max_score == 2.0
    assert scoring.score(half, {"accuracy": 2.0})[0].score == 0.0


@pytest.fixture(scope="module")
def cnn():
    net = planting.seeded_network("two_layer_cnn")
    image = np.random.default_rng(1).random((1, 1, 28, 28))
    A = net.feature_maps(image)[0]
    W = net.params["W3"]
    c = int(net.predict(image)[0].argmax())
    return net, image, A, W, c


def test_cam_from_the_last_conv_layer_passes_and_from_another_fails(cnn):
    net, image, A, W, c = cnn
    good = metrics.cam_flatten_affine(A, W, c)
    assert judges.judge_cam("n", good, (0, c), feature_shape=A.shape, features=A, W_fc=W, source="your network").ok
    up = metrics.upsample(good, (28, 28))
    assert judges.judge_cam("n", up, (0, c), feature_shape=A.shape, features=A, W_fc=W, source="your network").ok
    first_conv = net.layers[list(net.layers)[1]].forward(net.layers[list(net.layers)[0]].forward(image))[0]
    wrong = first_conv.mean(axis=0)                                   # 24x24: the first conv layer
    res = judges.judge_cam("n", wrong, (0, c), feature_shape=A.shape, features=A, W_fc=W, source="your network")
    assert res.status == "failed" and res.diagnosis == "wrong_layer"
    res = judges.judge_cam("n", metrics.upsample(wrong, (28, 28)), (0, c), feature_shape=A.shape, features=A, W_fc=W,
                           source="your network")
    assert res.status == "failed" and res.diagnosis == "wrong_cam"
    other = metrics.cam_flatten_affine(A, W, (c + 1) % 10)             # right layer, wrong class
    res = judges.judge_cam("n", other, (0, c), feature_shape=A.shape, features=A, W_fc=W, source="your network")
    assert res.status == "failed" and res.diagnosis == "wrong_cam"


# ----------------------------------------------------------------------------- malformed files

def test_oversized_csv_is_refused_by_its_size(tmp_path):
    path = tmp_path / "confusion.csv"
    with open(path, "wb") as f:
        f.seek(2 * 1024 ** 3)
        f.write(b"\n")                              # sparse: 2 GB on paper, nothing on disk
    with pytest.raises(ReadError, match="too large"):
        readers.read_confusion(path)


def test_json_bomb_is_refused(tmp_path):
    path = tmp_path / "top3.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ReadError, match="nested"):
        readers.read_top3(path)
    path.write_text('{"index": ' + json.dumps([[1, 2, 3]] * 10) + ', "prob": NaN}')
    with pytest.raises(ReadError, match="not valid JSON"):
        readers.read_top3(path)


def test_npy_with_objects_or_a_huge_header_is_refused(tmp_path):
    path = tmp_path / "cam.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ReadError, match="not numbers"):
        readers.read_cam(path)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})
    with pytest.raises(ReadError, match="too large"):
        readers.read_cam(path)


# ----------------------------------------------------------------------------- one check per file

def _checks(root: Path, key="three_layer_nn"):
    session = SimpleNamespace(sandbox=SimpleNamespace(submission_dir=root))
    ev = SimpleNamespace(found=False, options=None, key=key)
    plan = SimpleNamespace(deliverables={})
    return {r.id.split(".")[-1]: r for r in deliverable_checks(session, key, ev, plan, None, 0)}


def test_missing_and_malformed_files_fail_only_their_check(planted):
    root, _ = planted
    out = root / "results" / "three_layer_nn"
    results = _checks(root)
    assert all(r.ok for r in results.values()), {k: r.message for k, r in results.items()}
    assert "cam" not in results                      # an MLP has no CAM
    (out / "confusion.csv").unlink()
    (out / "top3.json").write_text("[" * 100)
    results = _checks(root)
    assert results["confusion_matrix"].diagnosis == "missing_file"
    assert "results/three_layer_nn/confusion.csv" in results["confusion_matrix"].message
    # the network itself is missing here (ev.found False): the message starts with that, not with a file
    assert results["confusion_matrix"].message.startswith("network 'three_layer_nn' was not found")
    assert results["top3"].diagnosis == "unreadable_file" and "top3.json" in results["top3"].message
    assert results["loss_log"].ok and results["accuracy"].ok
    assert "weights" in results["accuracy"].message  # weights are not used here: says what to add


def test_a_low_accuracy_is_explained_by_what_the_other_checks_found():
    from grader.deliverables.checks import explain_low_accuracy
    from grader.results import failed, passed, uninformative

    ev = SimpleNamespace(initial={f"W{i}": np.full((40, 20, 3, 3), 0.01) * np.sign(np.random.default_rng(i).normal(size=(40, 20, 3, 3)))
                         for i in (1, 2, 3)}
                         | {"b1": np.zeros(40)})
    right = [passed("cnn.gradient"), passed("cnn.gradcheck"), uninformative("cnn.training", "the reference stalls")]
    why = explain_low_accuracy("cnn", right, ev)
    assert "your gradient is right" in why and "W1 0.01" in why  # std shown to 3 significant digits
    assert "He init" in why and "the reference stalls" in why
    wrong = explain_low_accuracy("cnn", [failed("cnn.gradient", "off"), passed("cnn.gradcheck")],
                                 SimpleNamespace(initial={"W1": np.ones((3, 3))}))
    assert "your gradient is wrong" in wrong and "He init" not in wrong  # a large init is not the stall's cause
    assert explain_low_accuracy("cnn", [], SimpleNamespace(initial={})) == ""
