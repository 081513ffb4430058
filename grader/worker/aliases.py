"""The handout's layer and network keys and the names students give them.

Names are compared after :func:`normalize` (case, ``_``/``-``/spaces ignored), with or without a
``torch``/``pytorch``/``numpy``/``np``/``pt`` prefix or suffix (:func:`name_variants`).
"""

from __future__ import annotations

import re

LAYER_KEYS = ("affine", "relu", "lrelu", "convolution", "pooling", "flatten", "softmax")
NETWORK_KEYS = ("three_layer_nn", "three_layer_nn_lrelu", "two_layer_cnn", "three_layer_cnn",
                "three_layer_nn_torch", "three_layer_nn_lrelu_torch", "two_layer_cnn_torch", "three_layer_cnn_torch",
                "simple_convnet", "one_conv_net", "lenet")

#: Layer key -> class names (first = the handout's), compared after :func:`normalize`.
LAYER_ALIASES = {
    "affine": ["Affine", "Linear", "Dense", "FullyConnected", "FC", "AffineLayer", "FullyConnectedLayer"],
    "relu": ["Relu", "ReLU", "ReluLayer"],
    "lrelu": ["LeakyRelu", "LeakyReLU", "LReLU", "LRelu", "LeakyReluLayer"],
    "convolution": ["Convolution", "Conv", "Conv2D", "Conv2d", "ConvLayer", "Convolution2D", "ConvolutionLayer"],
    "pooling": ["Pooling", "MaxPool", "MaxPooling", "MaxPool2D", "Pool", "MaxPooling2D", "PoolingLayer"],
    "flatten": ["Flatten", "FlattenLayer"],
    "softmax": ["SoftmaxWithLoss", "SoftmaxLoss", "SoftmaxCrossEntropy", "SoftmaxCrossEntropyLoss",
                "SoftmaxWithCrossEntropy"],
}

#: Layer key -> [(forward, backward)] of the CS231n functional API, preferred first.
FUNCTIONAL_LAYERS = {
    "affine": [("affine_forward", "affine_backward")],
    "relu": [("relu_forward", "relu_backward")],
    "lrelu": [("leaky_relu_forward", "leaky_relu_backward"), ("lrelu_forward", "lrelu_backward")],
    "convolution": [("conv_forward_naive", "conv_backward_naive"), ("conv_forward", "conv_backward"),
                    ("conv_forward_fast", "conv_backward_fast"), ("conv_forward_im2col", "conv_backward_im2col")],
    "pooling": [("max_pool_forward_naive", "max_pool_backward_naive"), ("max_pool_forward", "max_pool_backward"),
                ("max_pool_forward_fast", "max_pool_backward_fast")],
    "softmax": [("softmax_loss", None)],
}

#: Network key (NumPy) -> class names; the ``*_torch`` keys use the same names on nn.Modules.
NETWORK_ALIASES = {
    "three_layer_nn": ["ThreeLayerNet", "ThreeLayerNN", "ThreeLayerNetwork", "ThreeLayerNeuralNet",
                       "ThreeLayerNeuralNetwork", "ThreeLayerMLP", "MLP3", "NN3", "ThreeLayerReluNet",
                       "ThreeLayerNetRelu", "ThreeLayerNNRelu", "MultiLayerNet"],
    "three_layer_nn_lrelu": ["ThreeLayerNetLRelu", "ThreeLayerNNLRelu", "ThreeLayerNetLeakyRelu",
                             "ThreeLayerNNLeakyRelu", "ThreeLayerLeakyReluNet", "ThreeLayerLReluNet",
                             "LeakyReluNet", "ThreeLayerNetworkLeakyRelu", "MLP3LeakyRelu", "NN3LRelu"],
    "two_layer_cnn": ["TwoLayerCNN", "CNN2", "TwoLayerConvNet", "TwoConvNet", "CNN2Layer", "TwoLayerConvNN",
                      "TwoLayerConv", "ConvNet2", "TwoConvLayerNet"],
    "three_layer_cnn": ["ThreeLayerCNN", "CNN3", "ThreeLayerConvNet", "ThreeConvNet", "CNN3Layer",
                        "ThreeLayerConvNN", "ThreeLayerConv", "ConvNet3", "ThreeConvLayerNet"],
    "simple_convnet": ["SimpleConvNet", "SimpleCNN"],
    "one_conv_net": ["OneConvNet", "OneConvNetwork", "SingleConvNet", "OneLayerCNN", "OneConvLayerNet",
                     "SimpleConvNet1", "ConvNet1"],
    "lenet": ["LeNet", "LeNet5", "LeNetModel"],
}
#: Torch twin key -> the NumPy key whose class names it goes by (PA1's MLPs, PA2's CNNs).
TORCH_NETWORKS = {"three_layer_nn_torch": "three_layer_nn", "three_layer_nn_lrelu_torch": "three_layer_nn_lrelu",
                  "two_layer_cnn_torch": "two_layer_cnn", "three_layer_cnn_torch": "three_layer_cnn"}

_AFFIXES = ("pytorch", "torch", "numpy", "np", "pt")


def normalize(name: str) -> str:
    """``"Three_Layer-NN"`` -> ``"threelayernn"``: the form names are compared in."""
    return re.sub(r"[_\-\s]", "", name).lower()


#: Key -> {normalized alias: preference (0 = the handout's name)}.
NORMALIZED_LAYERS = {key: {normalize(a): i for i, a in enumerate(names)} for key, names in LAYER_ALIASES.items()}
NORMALIZED_NETS = {key: {normalize(a): i for i, a in enumerate(names)} for key, names in NETWORK_ALIASES.items()}


def name_variants(name: str) -> list[tuple[str, bool]]:
    """(normalized name, had a framework affix) for the name and the name without an affix."""
    n = normalize(name)
    out = [(n, False)]
    for affix in _AFFIXES:
        if n.startswith(affix) and len(n) > len(affix):
            out.append((n[len(affix):], True))
        if n.endswith(affix) and len(n) > len(affix):
            out.append((n[: -len(affix)], True))
    return out


def missing_message(kind: str, key: str) -> str:
    """Why a key was not found and how to map it in the manifest (``kind``: "layers" | "networks")."""
    if kind == "layers":
        names = ", ".join(LAYER_ALIASES.get(key, [key])[:4])
        funcs = ", ".join(f for f, _ in FUNCTIONAL_LAYERS.get(key, []))
        return (f"layer '{key}' was not found in the submission (looked for classes named {names}, ..."
                + (f" and functions {funcs}" if funcs else "") + "). If it has another name, map it in "
                f"grader.toml at the submission root: [layers] {key} = \"module:ClassName\"")
    names = ", ".join(NETWORK_ALIASES.get(TORCH_NETWORKS.get(key, key), [key])[:4])
    return (f"network '{key}' was not found in the submission (looked for classes named {names}, ...). "
            f"If it has another name, map it in grader.toml at the submission root: "
            f"[networks.{key}] symbol = \"module:ClassName\"")

