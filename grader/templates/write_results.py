"""write_results: hand in the deliverables the grader reads, in one call per network.

Copy this file into your submission (``python -m grader --write-helper DIR`` puts it there)
and call it after training; it needs only NumPy (and torch for a torch network)::

    from write_results import write_results
    write_results(net, x_test, t_test, "two_layer_cnn",
                  train_loss=[2.30, 0.41, 0.22], valid_loss=[2.30, 0.35, 0.20], cam_sample=0)

It writes, under ``out`` (default ``results/``):

- ``<name>/weights.npz``     the trained parameters (keys of ``net.params``, or the torch ``state_dict``)
- ``<name>/confusion.csv``   10x10 counts on the test set, rows = true class, columns = predicted
- ``<name>/top3.json``       ``{"among": "all", "index": [[i, i, i] x 10], "prob": [[p, p, p] x 10]}``,
                             for each class the three images with the highest probability of it, best first
- ``<name>/loss.csv``        ``epoch,train_loss,valid_loss`` (when both losses are given; entry 0 = before training)
- ``<name>/metrics.json``    ``{"test_accuracy": 0.9701}``
- for a CNN: ``cam/<name>.npy`` (the class activation map at the last conv layer's resolution, for the
  sample's true class) and ``cam/sample.json`` (``{"index": i, "class": c}``), one sample for all CNNs.

Networks: the textbook's (a ``params`` dict, ``predict(x)`` and an ordered ``layers`` dict whose last
parametrised layer is an ``Affine`` with ``W`` shaped (in, out)) or a ``torch.nn.Module`` whose
``forward`` returns logits and whose last ``nn.Linear`` is the classifier. The test set is evaluated
``batch_size`` images at a time so memory stays small. The CAM is the per-location logit contribution
for a flatten -> affine head, or the standard CAM (Zhou et al. 2016) for a global-average-pooled head.
"""

import json
import os

import numpy as np

__all__ = ["write_results", "evaluate", "confusion_matrix", "top3", "class_activation_map"]

N_CLASSES = 10


# ----------------------------------------------------------------------------- running the network

def _is_torch(net):
    return any(c.__module__.startswith("torch") for c in type(net).__mro__) and hasattr(net, "state_dict")


def _torch_dtype(net):
    for p in net.parameters():
        return p.dtype
    import torch
    return torch.float32


def _logits(net, x):
    """The network's logits for one chunk, as a float64 NumPy array (N, classes)."""
    if _is_torch(net):
        import torch
        with torch.no_grad():
            out = net(torch.as_tensor(np.ascontiguousarray(x), dtype=_torch_dtype(net)))
        return out.detach().cpu().double().numpy().reshape(len(x), -1)
    return np.asarray(net.predict(x), dtype=np.float64).reshape(len(x), -1)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def evaluate(net, x, batch_size=100):
    """Softmax probabilities of every image (N, classes), computed ``batch_size`` images at a time."""
    was_training = getattr(net, "training", None) if _is_torch(net) else None
    if was_training:
        net.eval()  # dropout / batch-norm in inference mode
    try:
        chunks = [_softmax(_logits(net, x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    finally:
        if was_training:
            net.train()
    return np.concatenate(chunks)


def confusion_matrix(true, pred, n_classes=N_CLASSES):
    """(n_classes, n_classes) int counts: rows are the true class, columns the predicted one."""
    true = np.asarray(true, dtype=np.int64).reshape(-1)
    pred = np.asarray(pred, dtype=np.int64).reshape(-1)
    return np.bincount(true * n_classes + pred, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def top3(probs, labels=None, among="all", k=3):
    """For each class c the ``k`` images with the highest probability of c, best first (ties: lower index).

    ``among="all"`` ranks every test image, ``among="class"`` only the images labelled c.
    Returns ``(index, prob)``, two lists of 10 rows of ``k``.
    """
    if among not in ("all", "class"):
        raise ValueError('among must be "all" or "class", not %r' % (among,))
    index, prob = [], []
    for c in range(probs.shape[1]):
        candidates = np.arange(len(probs)) if among == "all" else np.flatnonzero(np.asarray(labels) == c)
        best = candidates[np.argsort(-probs[candidates, c], kind="stable")][:k]
        index.append([int(i) for i in best])
        prob.append([float(probs[i, c]) for i in best])
    return index, prob


def _weights(net):
    if _is_torch(net):
        return {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    return {k: np.asarray(v) for k, v in net.params.items()}


# ----------------------------------------------------------------------------- class activation maps

def _numpy_head(net, x):
    """(feature map A (C, H, W), classifier W (in, classes)) of a textbook network for one image.

    Runs the layers one by one: A is the last 4-D output before the final affine layer, and the
    affine layer's own input tells whether the head flattens A or averages it (GAP).
    """
    layers = list(net.layers.values())
    last = max((i for i, layer in enumerate(layers) if np.ndim(getattr(layer, "W", None)) == 2), default=None)
    if last is None:
        raise ValueError("no affine layer (a layer with a 2-D W) found in net.layers")
    out, feature = x, None
    for layer in layers[:last]:
        out = layer.forward(out)
        if np.ndim(out) == 4:
            feature = np.asarray(out, dtype=np.float64)[0]
    return feature, np.asarray(layers[last].W, dtype=np.float64), np.asarray(out).reshape(1, -1)[0]


def _torch_head(net, x):
    """(A (C, H, W), classifier W (in, classes), classifier input) of a torch module for one image,
    read with forward hooks: A is the last 4-D output of a leaf module before the last nn.Linear."""
    import torch
    seen, hooks = [], []
    for module in net.modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(
                lambda m, inp, out: seen.append((m, inp[0] if inp else None, out))))
    try:
        _logits(net, x)
    finally:
        for h in hooks:
            h.remove()
    linears = [i for i, (m, _, _) in enumerate(seen) if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError("no nn.Linear classifier found in the module")
    i_lin = linears[-1]
    lin, lin_in, _ = seen[i_lin]
    feature = None
    for m, _, out in seen[:i_lin]:
        if torch.is_tensor(out) and out.dim() == 4:
            feature = out.detach().cpu().double().numpy()[0]
    return (feature, lin.weight.detach().cpu().double().numpy().T,
            lin_in.detach().cpu().double().numpy().reshape(1, -1)[0])


def class_activation_map(net, image, c):
    """The CAM of class ``c`` for one image (1, C, H, W) at the last conv layer's resolution.

    Flatten -> affine head: cam[h, w] = sum_k A[k, h, w] * W[k*H*W + h*W + w, c], the share of
    logit c coming from location (h, w). GAP head: the standard sum_k W[k, c] * A[k]. Returns
    None for a network without feature maps (an MLP).
    """
    feature, W, head_in = (_torch_head if _is_torch(net) else _numpy_head)(net, image)
    if feature is None:
        return None
    if W.shape[0] == feature.size:
        if not np.allclose(head_in, feature.reshape(-1), rtol=1e-4, atol=1e-6):
            # e.g. F.relu in forward(): the hooked conv output is before the activation
            if np.allclose(head_in, np.maximum(feature, 0).reshape(-1), rtol=1e-4, atol=1e-6):
                feature = np.maximum(feature, 0)
            else:
                raise ValueError("the classifier's input is not the last feature map flattened; "
                                 "compute the CAM yourself and save it as results/cam/<network>.npy")
        return (feature * W[:, c].reshape(feature.shape)).sum(axis=0)
    if W.shape[0] == feature.shape[0]:
        if not np.allclose(head_in, feature.mean(axis=(1, 2)), rtol=1e-4, atol=1e-6):
            feature = np.maximum(feature, 0)
        return np.tensordot(W[:, c], feature, axes=(0, 0))
    raise ValueError("the classifier takes %d inputs, neither the feature map's %d values nor its %d "
                     "channels: compute the CAM yourself" % (W.shape[0], feature.size, feature.shape[0]))


# ----------------------------------------------------------------------------- the one call

def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def write_results(net, x_test, t_test, name, out="results", train_loss=None, valid_loss=None,
                  cam_sample=0, among="all", batch_size=100):
    """Write every deliverable of network ``name`` (the grader's id, e.g. ``two_layer_cnn``) under ``out``.

    ``x_test``: the whole test set as the network takes it ((10000, 1, 28, 28) or (10000, 784));
    ``t_test``: class indices or one-hot. ``train_loss``/``valid_loss``: per-epoch losses, entry 0
    before training, of equal length. ``cam_sample``: index of the test image for the CAM (the same
    for all CNNs; None: no CAM). Returns a dict of the figures written (test_accuracy, paths).
    """
    t = np.asarray(t_test)
    if t.ndim == 2:
        t = t.argmax(axis=1)
    if len(x_test) != len(t):
        raise ValueError("%d test images but %d labels" % (len(x_test), len(t)))
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)

    np.savez(os.path.join(folder, "weights.npz"), **_weights(net))
    probs = evaluate(net, x_test, batch_size)
    cm = confusion_matrix(t, probs.argmax(axis=1), probs.shape[1])
    np.savetxt(os.path.join(folder, "confusion.csv"), cm, fmt="%d", delimiter=",")
    index, prob = top3(probs, t, among)
    _write_json(os.path.join(folder, "top3.json"), {"among": among, "index": index, "prob": prob})
    accuracy = float(np.trace(cm) / len(t))
    _write_json(os.path.join(folder, "metrics.json"), {"test_accuracy": accuracy})
    written = {"test_accuracy": accuracy, "folder": folder}

    if train_loss is not None and valid_loss is not None:
        if len(train_loss) != len(valid_loss):
            raise ValueError("train_loss has %d entries but valid_loss %d: log both once per epoch "
                             "(entry 0 before training)" % (len(train_loss), len(valid_loss)))
        with open(os.path.join(folder, "loss.csv"), "w") as f:
            f.write("epoch,train_loss,valid_loss\n")
            for epoch, (tr, va) in enumerate(zip(train_loss, valid_loss)):
                f.write("%d,%r,%r\n" % (epoch, float(tr), float(va)))

    if cam_sample is not None:
        i = int(cam_sample)
        c = int(t[i])
        cam = class_activation_map(net, x_test[i:i + 1], c)
        if cam is not None:
            cam_dir = os.path.join(out, "cam")
            os.makedirs(cam_dir, exist_ok=True)
            sample_path = os.path.join(cam_dir, "sample.json")
            if os.path.exists(sample_path):
                with open(sample_path) as f:
                    previous = json.load(f)
                if previous.get("index") != i:
                    raise ValueError("%s holds sample %s but this CAM is for sample %d: every CNN's CAM must "
                                     "use the same test image (delete the file to start over)"
                                     % (sample_path, previous.get("index"), i))
            _write_json(sample_path, {"index": i, "class": c})
            np.save(os.path.join(cam_dir, name + ".npy"), cam)
            written["cam"] = os.path.join(cam_dir, name + ".npy")
    return written
