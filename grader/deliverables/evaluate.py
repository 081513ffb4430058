"""The handed-in model on the test set: weights loaded into the student's own network in the
sandbox, logits computed there in chunks (images cross, labels never do), or, when the student's
network is too slow and ``<net>.logits`` proved it equal to the reference, by the reference here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from grader.deliverables.judges import ModelOutputs
from grader.validate import InvalidOutput, validate_array

#: Images per request to the worker (the worker runs them a chunk at a time).
REQUEST_IMAGES = 500
#: Images timed first, to decide between the student's network and the reference.
PROBE_IMAGES = 50
#: Images per forward pass inside the worker: CNNs (textbook im2col ~4 MB per image) / MLPs.
CNN_CHUNK, MLP_CHUNK = 25, 1000
#: Seconds the student's own network may take for the whole test set before the reference is used.
OWN_NETWORK_BUDGET = 6.0


class EvaluationError(Exception):
    """The model could not be evaluated: the message says why, for every check that needed it."""


@dataclass
class Evaluation:
    """What was learnt from the handed-in weights: outputs on the test set, CAM inputs, notes."""

    outputs: ModelOutputs | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@lru_cache(maxsize=2)
def test_set(data_dir: str | None):
    """The full MNIST test set: images float32 (N, 1, 28, 28) in [0, 1], labels int64."""
    from reference import data as mnist

    return mnist.load_mnist("test", data_dir=data_dir, dtype=np.float32)


def load_weights(session, ev, rel: str, seed: int, timeout=None) -> dict:
    """A fresh handle of the student's network with the handed-in weights loaded (in the worker)."""
    from grader.checks.networks import new_network

    ev.handle, _, _ = new_network(session, ev.key, seed, timeout)
    header, _ = session.call("weights_load", {"handle": ev.handle, "path": rel}, timeout=timeout)
    return header


def _own_logits(session, ev, x: np.ndarray, chunk: int, timeout, start: int = 0, stop: int | None = None) -> np.ndarray:
    stop = len(x) if stop is None else stop
    parts = []
    for lo in range(start, stop, REQUEST_IMAGES):
        part = np.asarray(x[lo:min(lo + REQUEST_IMAGES, stop)], dtype=np.float64)
        _, out = session.call("net_logits_chunked", {"handle": ev.handle, "chunk": chunk}, {"x": part}, timeout=timeout)
        parts.append(validate_array("logits", out.get("logits"), shape=(len(part), 10)))
    return np.concatenate(parts) if parts else np.zeros((0, 10))


def reference_logits(ev, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits of the reference network (torch, float32) with the student's parameters (NumPy layout)."""
    import torch

    from grader.checks.networks import reference_network
    from reference.torch_networks import TorchNetwork, load_numpy_params

    ref = reference_network(ev.spec, ev.options, 0)
    module = TorchNetwork(ref.spec, (1, 28, 28))
    load_numpy_params(module, dict(zip(ref.params, (params[n] for n in ev.param_names))))
    module = module.float().eval()
    out = []
    with torch.no_grad():
        for lo in range(0, len(x), 1000):
            part = torch.from_numpy(np.ascontiguousarray(x[lo:lo + 1000], dtype=np.float32))
            out.append(module.layers(part.reshape((len(part), 1, 28, 28))).double().numpy())
    return np.concatenate(out)


def evaluate(session, ev, rel: str, x: np.ndarray, labels: np.ndarray, seed: int, *, logits_passed: bool,
             timeout=None, budget: float = OWN_NETWORK_BUDGET) -> Evaluation:
    """Load ``rel`` into the student's network and compute its logits on all of ``x``."""
    from grader.session import CallFailure, describe_failure

    result = Evaluation()
    started = time.monotonic()
    try:
        info = load_weights(session, ev, rel, seed, timeout)
        result.notes.append(f"{rel} ({info.get('format')}, {info.get('layout')} layout) loaded into your network")
        chunk = MLP_CHUNK if ev.spec.is_mlp else CNN_CHUNK
        probe = time.monotonic()
        first = _own_logits(session, ev, x, chunk, timeout, 0, min(PROBE_IMAGES, len(x)))
        projected = (time.monotonic() - probe) * len(x) / max(len(first), 1)
        if projected > budget and logits_passed and ev.options is not None and len(x) > len(first):
            _, params = session.call("net_get_params", {"handle": ev.handle}, timeout=timeout)
            params = {n: validate_array(f"parameter {n}", params.get(n)) for n in ev.param_names}
            logits = reference_logits(ev, params, x)
            source = ("the reference network with your weights (your network would take about "
                      f"{projected:.0f} s for 10000 images; {ev.key}.logits proved the two equal)")
        else:
            logits = np.concatenate([first, _own_logits(session, ev, x, chunk, timeout, len(first))])
            source = "your network"
    except CallFailure as exc:
        result.problem = f"the handed-in weights {rel} could not be run in your network: {describe_failure(exc)}"
        return result
    except InvalidOutput as exc:
        result.problem = f"your network with the handed-in weights {rel} gave unusable logits: {exc}"
        return result
    result.outputs = ModelOutputs(logits=logits, labels=labels, source=source)
    result.seconds = time.monotonic() - started
    return result


def cam_inputs(session, ev, image: np.ndarray, timeout=None) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """(feature maps (C, H, W), final affine weights (in, out), where the maps came from) of one image."""
    header, out = session.call("cam_inputs", {"handle": ev.handle},
                               {"x": np.asarray(image, dtype=np.float64)[None]}, timeout=timeout)
    features = out.get("features")
    if features is not None:
        features = validate_array("feature maps", features)
        features = features[0] if features.ndim == 4 else features
        if features.ndim != 3:
            raise InvalidOutput(f"feature maps: shape {features.shape}, expected (C, H, W)")
    W = out.get("W_fc")
    W = None if W is None else validate_array("final affine weights", W)
    return features, W, header.get("features_from")
