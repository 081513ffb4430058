"""The handed-in model on the test set: weights loaded into the student's own network in the
sandbox, logits computed there in chunks (images cross, labels never do), or, for a CNN whose
``<net>.logits`` proved it equal to the reference, by the reference here with the student's weights.

The reference's pass is the costly part (about 600 GFLOP for a 3-layer PA2 CNN), so :func:`start`
runs it in a background thread of the grader while the worker goes on with the network's other
checks, and :func:`finish` collects it when the deliverable checks need it."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from grader.session import CallFailure, describe_failure
from grader.checks.networks import Worker, reference_network
from grader.deliverables.judges import ModelOutputs
from grader.validate import InvalidOutput, validate_array

#: Images per request to the worker (the worker runs them a chunk at a time).
REQUEST_IMAGES = 1000
#: Images per forward pass inside the worker: NumPy CNNs (textbook im2col ~4 MB per image) / torch / MLPs;
#: and in the grader's own float32 reference pass (100: torch's convolution workspace for 500 images of the
#: 2-layer CNN took the grader to 690 MB; at 100 it peaks near 350 MB).
CNN_CHUNK, TORCH_CHUNK, MLP_CHUNK, REFERENCE_CHUNK = 25, 250, 1000, 100

_background: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """One background thread for reference passes (torch releases the GIL inside its kernels)."""
    global _background
    if _background is None:
        _background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reference-pass")
    return _background


@dataclass
class Evaluation:
    """What was learnt from the handed-in weights ``rel``: outputs on the test set, or why not."""

    outputs: ModelOutputs | None = None
    problem: str | None = None
    loaded: bool = False  # ev.handle holds the handed-in weights (the CAM check reuses it)
    rel: str = ""
    pending: Future | None = None  # the reference's pass, running in the background
    family: str = ""               # "torch" | "numpy", from loading the weights


@lru_cache(maxsize=2)
def test_set(data_dir: str | None):
    """The full MNIST test set: images float32 (N, 1, 28, 28) in [0, 1], labels int64."""
    from reference import data as mnist

    return mnist.load_mnist("test", data_dir=data_dir, dtype=np.float32)


def warm_up(data_dir) -> None:
    """Import torch and read the test set in the background thread, while the sandbox starts and the
    worker imports the submission (the grader idles then): ~2 CPU-s off the deliverables' path."""

    def work():
        import torch  # noqa: F401

        try:
            test_set(None if data_dir is None else str(data_dir))
        except Exception:
            pass  # the checks report it when they need the test set

    _pool().submit(work)


def load_weights(session, ev, rel: str, seed: int, timeout=None) -> dict:
    """A fresh handle of the student's network with the handed-in weights loaded (in the worker)."""
    Worker(session, timeout).renew(ev, seed)
    header, _ = session.call("weights_load", {"handle": ev.handle, "path": rel}, timeout=timeout)
    return header


def _own_logits(session, ev, x: np.ndarray, chunk: int, timeout, float32: bool = False) -> np.ndarray:
    parts = []
    for lo in range(0, len(x), REQUEST_IMAGES):
        part = np.asarray(x[lo:lo + REQUEST_IMAGES], dtype=np.float32 if float32 else np.float64)
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
    out = []
    with torch.no_grad():
        for lo in range(0, len(x), REFERENCE_CHUNK):
            part = torch.from_numpy(np.ascontiguousarray(x[lo:lo + REFERENCE_CHUNK], dtype=np.float32))
            part = part.reshape((len(part), 1, 28, 28))
            if conv:
                part = part.contiguous(memory_format=torch.channels_last)
            out.append(layers(part).double().numpy())
    return np.concatenate(out)


def stands_in(ev, logits_passed: bool) -> bool:
    """The reference may run the test set for the student's network: a CNN (an MLP is cheap in the
    worker) whose ``.logits`` proved it computes what the reference computes."""
    return logits_passed and not ev.spec.is_mlp and ev.options is not None


def _load(session, ev, result: Evaluation, seed: int, timeout) -> None:
    info = load_weights(session, ev, result.rel, seed, timeout)
    result.loaded = True
    result.family = "torch" if info.get("family") == "torch" else "numpy"


def start(session, ev, rel: str, x: np.ndarray, seed: int, *, logits_passed: bool, timeout=None) -> Evaluation:
    """When the reference stands in (:func:`stands_in`): load ``rel`` into the student's network, read
    the parameters back and start the reference's pass over ``x`` in the background. Otherwise nothing
    yet: :func:`finish` runs the student's network in the worker."""
    result = Evaluation(rel=rel)
    if not stands_in(ev, logits_passed):
        return result
    try:
        _load(session, ev, result, seed, timeout)
        _, params = session.call("net_get_params", {"handle": ev.handle}, timeout=timeout)
        params = {n: validate_array(f"parameter {n}", params.get(n)) for n in ev.param_names}
        result.pending = _pool().submit(reference_logits, ev, params, x)
    except CallFailure as exc:
        result.problem = f"the handed-in weights {rel} could not be run in your network: {describe_failure(exc)}"
    except InvalidOutput as exc:
        result.problem = f"your network with the handed-in weights {rel} gave unusable parameters: {exc}"
    return result


def finish(session, ev, result: Evaluation, x: np.ndarray, labels: np.ndarray, seed: int, *,
           timeout=None) -> Evaluation:
    """The outputs of a started evaluation: the background reference pass collected, or the student's
    own network run on ``x`` in the worker now (a torch module as a float32 copy)."""
    if result.problem is not None or result.outputs is not None:
        return result
    try:
        if result.pending is not None:
            logits = result.pending.result()
            result.pending = None
            source = f"the reference network with your weights (float32; {ev.key}.logits proved the two equal)"
        else:
            if not result.loaded:
                _load(session, ev, result, seed, timeout)
            torch_family = result.family == "torch"
            chunk = MLP_CHUNK if ev.spec.is_mlp else TORCH_CHUNK if torch_family else CNN_CHUNK
            logits = _own_logits(session, ev, x, chunk, timeout, float32=torch_family)
            source = "your network (float32)" if torch_family else "your network"
    except CallFailure as exc:
        result.problem = f"the handed-in weights {result.rel} could not be run in your network: {describe_failure(exc)}"
        return result
    except InvalidOutput as exc:
        result.problem = f"your network with the handed-in weights {result.rel} gave unusable logits: {exc}"
        return result
    except Exception as exc:  # the reference pass itself (shapes the reference cannot take): the grader's side
        result.problem = f"the reference could not run your weights ({type(exc).__name__}: {exc})"
        return result
    result.outputs = ModelOutputs(logits=logits, labels=labels, source=source)
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
