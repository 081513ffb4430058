"""Planting deliverables in a submission folder from a reference network with seeded weights:
the correct files first, then each test forges one of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reference import data as mnist
from reference import metrics
from reference import networks as refnets


def test_data():
    return mnist.load_mnist("test", dtype=np.float32)


def seeded_network(name: str, seed: int = 3, steps: int = 0):
    """A reference network with He-scale seeded weights (predictions vary by class, ties are rare),
    trained ``steps`` SGD steps of 50 training images (an MLP learns something in 100)."""
    net = refnets.Network(getattr(refnets, name)(), weight_init_std="he", seed=seed)
    if steps:
        x, t = mnist.load_mnist("train", indices=np.arange(steps * 50))
        for i in range(steps):
            grads = net.gradient(x[i * 50:(i + 1) * 50], t[i * 50:(i + 1) * 50])
            for k, g in grads.items():
                net.params[k] -= 0.1 * g
    return net


def logits_of(net, x, chunk=500):
    """Logits on ``x``: NumPy float64 for an MLP (cheap), torch float32 for a CNN (a float64 NumPy
    pass of a textbook CNN over 10000 images takes minutes)."""
    if not any(layer["type"] == "conv" for layer in net.spec):
        return np.concatenate([net.predict(np.asarray(x[i:i + chunk], dtype=np.float64)) for i in range(0, len(x), chunk)])
    import torch

    from reference.torch_networks import TorchNetwork, load_numpy_params

    layers = load_numpy_params(TorchNetwork(net.spec), net.params).layers.float().eval()
    with torch.no_grad():
        return np.concatenate([layers(torch.from_numpy(np.ascontiguousarray(x[i:i + chunk], dtype=np.float32))
                                      .reshape(-1, 1, 28, 28)).double().numpy() for i in range(0, len(x), chunk)])


def torch_state_dict(module, net) -> dict[str, np.ndarray]:
    """``net``'s parameters put into the student's torch ``module``, as its state_dict (torch layout)."""
    from reference.torch_networks import load_numpy_params

    load_numpy_params(module, net.params)
    return {k: v.detach().double().numpy() for k, v in module.state_dict().items()}


def plant(root: Path, key: str, net, x, t, *, logits=None, weights=True, cam_sample=0, saved=None) -> dict:
    """Write every deliverable of ``key`` for ``net`` under ``root/results``; returns what was written.

    ``saved``: the arrays written as weights.npz (default ``net.params``; a torch student's state_dict)."""
    out = root / "results" / key
    out.mkdir(parents=True, exist_ok=True)
    logits = logits_of(net, x) if logits is None else logits
    probs = metrics.softmax(logits)
    cm = metrics.confusion_matrix(t, logits.argmax(1))
    idx, p = metrics.top3_per_class(probs)
    if weights:
        np.savez(out / "weights.npz", **(net.params if saved is None else saved))
    np.savetxt(out / "confusion.csv", cm, fmt="%d", delimiter=",")
    (out / "top3.json").write_text(json.dumps({"among": "all", "index": idx.tolist(), "prob": p.tolist()}))
    test_loss = float(-np.log(probs[np.arange(len(t)), t]).mean())
    if test_loss < 0.8:  # no entry before training (allowed); unrounded, going down, ending at the test loss
        train = [test_loss * 1.6 + 0.000123, test_loss * 1.3 + 0.000321, test_loss * 0.95 + 0.000111]
        valid = [test_loss * 1.7 + 0.000456, test_loss * 1.35 + 0.000654, test_loss + 0.000222]
    else:  # barely trained: entry 0 near ln 10, then down to a loss within the judge's tolerance
        train = [2.301234, 1.876543, 1.412345]
        valid = [2.302345, 1.903456, 1.502101]
    rows = ["epoch,train_loss,valid_loss"] + [f"{i},{a!r},{b!r}" for i, (a, b) in enumerate(zip(train, valid))]
    (out / "loss.csv").write_text("\n".join(rows) + "\n")
    acc = float((logits.argmax(1) == t).mean())
    (out / "metrics.json").write_text(json.dumps({"test_accuracy": acc}))
    written = {"matrix": cm, "index": idx, "prob": p, "accuracy": acc, "logits": logits}
    if any(layer["type"] == "conv" for layer in net.spec):
        cam_dir = root / "results" / "cam"
        cam_dir.mkdir(parents=True, exist_ok=True)
        image = np.asarray(x[cam_sample:cam_sample + 1], dtype=np.float64)
        A = net.feature_maps(image)[0]
        c = int(logits[cam_sample].argmax())
        W = list(net.params.values())[-2]
        cam = metrics.cam_flatten_affine(A, W, c)
        np.save(cam_dir / f"{key}.npy", cam)
        (cam_dir / "sample.json").write_text(json.dumps({"index": cam_sample, "class": c}))
        written.update(cam=cam, features=A, W_fc=W, cam_class=c)
    return written
