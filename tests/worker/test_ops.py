"""The submission ops, called the way main.py calls them: handler(header, arrays) -> (header, arrays)."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.worker import ops
from grader.worker.discover import DiscoveryError
from tests.worker.fixtures.isolation import copy_fixture, isolated_interpreter

REPO = Path(__file__).resolve().parents[2]
rng = np.random.default_rng(1)


@pytest.fixture
def call(tmp_path):
    """call(op, header, arrays) on a fresh worker state; load(fixture) loads a tmp copy first."""
    with isolated_interpreter():
        ops.reset()

        def _call(op, header=None, arrays=None):
            return ops.OPS[op](dict(header or {}), dict(arrays or {}))

        def _load(name, manifest=None):
            root = copy_fixture(name, tmp_path)
            return _call("load", {"root": str(root), "manifest": manifest})[0]

        _call.load = _load
        yield _call
        ops.reset()


def test_load_reply_is_the_documented_json(call, tmp_path):
    reply = call.load("dlfs")
    assert json.loads(json.dumps(reply)) == reply
    assert set(reply) == {"files", "layers", "networks", "warnings", "missing_because"}
    assert set(reply["files"][0]) == {"path", "kind", "module", "status", "error", "dropped", "failed"}
    assert reply["missing_because"] == {"layers": {}, "networks": {}}
    assert reply["layers"]["convolution"] == {"family": "class", "symbol": "Convolution", "module": "common.layers"}
    assert reply["networks"]["simple_convnet"]["family"] == "class"
    # a second load (the parent retrying) answers from the first: the sources were already rewritten
    assert call("load", {"root": str(tmp_path / "dlfs"), "manifest": None})[0] is reply


@pytest.mark.parametrize("fixture", ["dlfs", "cs231n"])
def test_layer_run_and_forward_batch(call, fixture):
    call.load(fixture)
    x, W, b, dout = rng.standard_normal((2, 6)), rng.standard_normal((6, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))
    header, out = call("layer_run", {"layer": "affine", "config": {}}, {"x": x, "W": W, "b": b, "dout": dout})
    assert header == {} and set(out) == {"out", "dx", "dW", "db"}
    np.testing.assert_allclose(out["out"], x @ W + b)
    np.testing.assert_allclose(out["dW"], x.T @ dout)
    _, forward_only = call("layer_run", {"layer": "affine", "config": {}}, {"x": x, "W": W, "b": b})
    assert set(forward_only) == {"out"}

    t = np.array([2, 0])
    _, soft = call("layer_run", {"layer": "softmax", "config": {}}, {"x": x[:, :3], "t": t})
    assert set(soft) == {"loss", "dx"} and soft["loss"].shape == ()

    K = 4
    xs, Ws, bs = np.stack([x] * K), np.stack([W * k for k in range(K)]), np.stack([b] * K)
    _, batch = call("layer_forward_batch", {"layer": "affine", "config": {}}, {"x": xs, "W": Ws, "b": bs})
    assert batch["out"].shape == (K, 2, 3)
    np.testing.assert_allclose(batch["out"][3], x @ (3 * W) + b)
    _, losses = call("layer_forward_batch", {"layer": "softmax", "config": {}},
                     {"x": np.stack([x[:, :3]] * K), "t": np.stack([t] * K)})
    assert losses["out"].shape == (K,)

    _, conv = call("layer_run", {"layer": "convolution", "config": {"stride": 1, "pad": 1}},
                   {"x": rng.standard_normal((1, 1, 4, 4)), "W": rng.standard_normal((2, 1, 3, 3)),
                    "b": np.zeros(2), "dout": rng.standard_normal((1, 2, 4, 4))})
    assert conv["out"].shape == (1, 2, 4, 4) and conv["dW"].shape == (2, 1, 3, 3) and conv["db"].shape == (2,)


def test_grader_mistakes_and_missing_layers_are_clear(call):
    with pytest.raises(ops.OpError, match="send the 'load' op first"):
        call("layer_run", {"layer": "relu"}, {"x": np.zeros(1)})
    call.load("cs231n")
    with pytest.raises(ops.OpError, match="unknown layer key 'conv'"):
        call("layer_run", {"layer": "conv"}, {"x": np.zeros(1)})
    with pytest.raises(DiscoveryError, match=r"layer 'flatten' was not found.*grader.toml.*\[layers\] flatten ="):
        call("layer_run", {"layer": "flatten"}, {"x": np.zeros((1, 2))})
    with pytest.raises(DiscoveryError, match=r"\[networks.lenet\] symbol ="):
        call("net_new", {"net": "lenet", "kwargs": {}, "seed": 0})
    with pytest.raises(ops.OpError, match="unknown network handle 7"):
        call("net_get_params", {"handle": 7})
    with pytest.raises(ops.OpError, match="no array 'W'"):
        call("layer_run", {"layer": "affine"}, {"x": np.zeros((1, 2))})


def test_student_errors_propagate(call):
    call.load("colab")
    with pytest.raises(ValueError, match="seven inputs"):
        call("layer_run", {"layer": "affine", "config": {}},
             {"x": np.zeros((1, 7)), "W": np.zeros((7, 2)), "b": np.zeros(2), "dout": np.zeros((1, 2))})


def test_class_network_ops_round_trip(call):
    call.load("dlfs")
    header, params = call("net_new", {"net": "simple_convnet", "kwargs": {}, "seed": 0})
    handle = header["handle"]
    assert header["param_names"] == ["W1", "b1", "W2", "b2", "W3", "b3"] and header["layout"] == "numpy"
    assert list(params) == header["param_names"] and params["W1"].shape == (30, 1, 5, 5)

    new = {k: rng.standard_normal(v.shape) * 0.01 for k, v in params.items()}
    assert call("net_set_params", {"handle": handle}, new) == ({}, {})
    _, got = call("net_get_params", {"handle": handle})
    for k in new:
        np.testing.assert_array_equal(got[k], new[k])

    x, t = rng.random((3, 1, 28, 28)), np.array([1, 2, 3])
    info, out = call("net_eval", {"handle": handle, "want": ["logits", "loss", "gradient", "features"]}, {"x": x, "t": t})
    assert info == {"features_from": "activation"}
    assert out["logits"].shape == (3, 10) and out["loss"].shape == () and out["features"].shape == (3, 30, 24, 24)
    assert sorted(k for k in out if k.startswith("grad.")) == sorted(f"grad.{k}" for k in new)

    S, B = 3, 4
    xb, tb = rng.random((S, B, 1, 28, 28)), rng.integers(0, 10, (S, B))
    _, trained = call("net_train", {"handle": handle, "lr": 0.1}, {"x": xb, "t": tb})
    assert trained["losses"].shape == (S,) and np.all(np.isfinite(trained["losses"]))
    _, after = call("net_get_params", {"handle": handle})
    assert not np.allclose(after["W3"], new["W3"])

    second, _ = call("net_new", {"net": "simple_convnet", "kwargs": {}, "seed": 0})
    assert second["handle"] != handle


def test_torch_network_ops(call):
    call.load("torch_cnn")
    header, params = call("net_new", {"net": "two_layer_cnn_torch", "kwargs": {}, "seed": 0})
    assert header["family"] == "torch" and params["fc.weight"].shape == (9000, 10)
    x, t = rng.random((2, 1, 28, 28)), np.array([5, 6])
    _, out = call("net_eval", {"handle": header["handle"], "want": ["loss", "gradient"]}, {"x": x, "t": t})
    assert out["grad.fc.weight"].shape == (9000, 10) and float(out["loss"]) == pytest.approx(np.log(10), abs=0.1)
    _, trained = call("net_train", {"handle": header["handle"], "lr": 0.1},
                      {"x": rng.random((2, 2, 1, 28, 28)), "t": rng.integers(0, 10, (2, 2))})
    assert trained["losses"].shape == (2,)


def _run_worker_script(script: str, cwd: Path, pythonpath: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, capture_output=True, text=True,
                            env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_copied_worker_package_is_self_contained_and_uses_cwd_as_root(tmp_path):
    """As in the sandbox: the package copied as _gradeworker, run from the submission copy."""
    shutil.copytree(REPO / "grader" / "worker", tmp_path / "pkg" / "_gradeworker",
                    ignore=shutil.ignore_patterns("__pycache__"))
    root = copy_fixture("dlfs", tmp_path)
    reply = _run_worker_script("""\
        import json, sys
        import numpy as np
        from _gradeworker.ops import OPS
        header, _ = OPS["load"]({"manifest": None}, {})
        h, params = OPS["net_new"]({"net": "three_layer_nn", "kwargs": {}, "seed": 0}, {})
        _, out = OPS["net_eval"]({"handle": h["handle"], "want": ["logits"]}, {"x": np.zeros((2, 784))})
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("grader", "reference", "torch"))
        print(json.dumps({"networks": sorted(header["networks"]), "leaked": leaked,
                          "logits": list(out["logits"].shape)}))
        """, root, tmp_path / "pkg")
    assert reply == {"networks": ["simple_convnet", "three_layer_nn", "three_layer_nn_lrelu"], "leaked": [],
                     "logits": [2, 10]}
