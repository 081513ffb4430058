"""The handed-in model on the test set: weights loaded into the student's own network in the
sandbox, logits computed there in chunks (images cross, labels never do), or, when the student's
network is too slow and ``<net>.logits`` proved it equal to the reference, by the reference here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from grader.session import CallFailure, describe_failure
from grader.checks.networks import Worker, reference_network
from grader.deliverables.judges import ModelOutputs
from grader.validate import InvalidOutput, validate_array

#: Images per request to the worker (the worker runs them a chunk at a time).
REQUEST_IMAGES = 1000
#: Images timed first, to decide between a NumPy network of the student's and the reference.
PROBE_IMAGES = 20
#: Images per forward pass inside the worker: NumPy CNNs (textbook im2col ~4 MB per image) / torch / MLPs;
#: and in the grader's own float32 reference pass.
CNN_CHUNK, TORCH_CHUNK, MLP_CHUNK, REFERENCE_CHUNK = 25, 250, 1000, 500
#: Seconds the student's own network may take for the whole test set before the reference is used.
OWN_NETWORK_BUDGET = 6.0
#: Threads of the grader's reference pass (the worker is idle meanwhile; the machine has 2 cores).
REFERENCE_THREADS = 2


class EvaluationError(Exception):
    """The model could not be evaluated: the message says why, for every check that needed it."""


@dataclass
class Evaluation:
    """What was learnt from the handed-in weights: outputs on the test set, CAM inputs, notes."""

    outputs: ModelOutputs | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    loaded: bool = False  # ev.handle holds the handed-in weights (the CAM check reuses it)


@lru_cache(maxsize=2)
def test_set(data_dir: str | None):
    """The full MNIST test set: images float32 (N, 1, 28, 28) in [0, 1], labels int64."""
    from reference import data as mnist

    return mnist.load_mnist("test", data_dir=data_dir, dtype=np.float32)


def load_weights(session, ev, rel: str, seed: int, timeout=None) -> dict:
    """A fresh handle of the student's network with the handed-in weights loaded (in the worker)."""
    Worker(session, timeout).renew(ev, seed)
    header, _ = session.call("weights_load", {"handle": ev.handle, "path": rel}, timeout=timeout)
    return header


def _own_logits(session, ev, x: np.ndarray, chunk: int, timeout, start: int = 0, stop: int | None = None,
                float32: bool = False) -> np.ndarray:
    stop = len(x) if stop is None else stop
    parts = []
    for lo in range(start, stop, REQUEST_IMAGES):
        part = np.asarray(x[lo:min(lo + REQUEST_IMAGES, stop)], dtype=np.float32 if float32 else np.float64)
        _, out = session.call("net_logits_chunked", {"handle": ev.handle, "chunk": chunk, "float32": float32},
                              {"x": part}, timeout=timeout)
        parts.append(validate_array("logits", out.get("logits"), shape=(len(part), 10)))
    return np.concatenate(parts) if parts else np.zeros((0, 10))


def reference_logits(ev, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Logits of the reference network (torch float32, channels-last, in chunks) with the student's
    parameters (NumPy layout): the float32 a framework would use, never a float64 NumPy pass."""
    import torch

    from reference.torch_networks import TorchNetwork, load_numpy_params

    ref = reference_network(ev.spec.factory, ev.options, 0)
    module = TorchNetwork(ref.spec, (1, 28, 28))
    load_numpy_params(module, dict(zip(ref.params, (params[n] for n in ev.param_names))))
    layers = module.layers.float().eval()
    conv = not ev.spec.is_mlp
    if conv:
        layers = layers.to(memory_format=torch.channels_last)
    threads = torch.get_num_threads()
    torch.set_num_threads(REFERENCE_THREADS)
    out = []
    try:
        with torch.no_grad():
            for lo in range(0, len(x), REFERENCE_CHUNK):
                part = torch.from_numpy(np.ascontiguousarray(x[lo:lo + REFERENCE_CHUNK], dtype=np.float32))
                part = part.reshape((len(part), 1, 28, 28))
                if conv:
                    part = part.contiguous(memory_format=torch.channels_last)
                out.append(layers(part).double().numpy())
    finally:
        torch.set_num_threads(threads)
    return np.concatenate(out)


def evaluate(session, ev, rel: str, x: np.ndarray, labels: np.ndarray, seed: int, *, logits_passed: bool,
             timeout=None, budget: float = OWN_NETWORK_BUDGET) -> Evaluation:
    """Load ``rel`` into the student's network and compute its logits on all of ``x``.

    A torch network runs in the worker as a float32 copy of the student's module. A NumPy network
    is timed on :data:`PROBE_IMAGES` images first; when the whole set would take more than
    ``budget`` seconds and ``<net>.logits`` proved it equal to the reference, the reference runs
    here with the student's weights (torch float32)."""

    result = Evaluation()
    started = time.monotonic()
    try:
        info = load_weights(session, ev, rel, seed, timeout)
        result.loaded = True
        result.notes.append(f"{rel} ({info.get('format')}, {info.get('layout')} layout) loaded into your network")
        if info.get("family") == "torch":
            logits = _own_logits(session, ev, x, MLP_CHUNK if ev.spec.is_mlp else TORCH_CHUNK, timeout, float32=True)
            source = "your network (float32)"
        else:
            chunk = MLP_CHUNK if ev.spec.is_mlp else CNN_CHUNK
            probe = time.monotonic()
            # an MLP is cheap: its probe would measure the request's overhead, not the network
            first = _own_logits(session, ev, x, chunk, timeout, 0, 0 if ev.spec.is_mlp else min(PROBE_IMAGES, len(x)))
            projected = (time.monotonic() - probe) * len(x) / max(len(first), 1)
            if len(first) and projected > budget and logits_passed and ev.options is not None and len(x) > len(first):
                _, params = session.call("net_get_params", {"handle": ev.handle}, timeout=timeout)
                params = {n: validate_array(f"parameter {n}", params.get(n)) for n in ev.param_names}
                logits = reference_logits(ev, params, x)
                source = ("the reference network with your weights (float32; your network would take about "
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
