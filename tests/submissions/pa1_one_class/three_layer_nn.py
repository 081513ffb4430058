# PA1: one network class for both activations
from collections import OrderedDict

import numpy as np

from layers import Affine, LeakyRelu, Relu, SoftmaxWithLoss


class ThreeLayerNN:
    """Affine - act - Affine - act - Affine - softmax; act is "relu" or "leaky_relu"."""

    def __init__(self, input_size=784, hidden_size1=100, hidden_size2=50, output_size=10,
                 weight_init_std=0.01, act="relu", alpha=0.1):
        sizes = [input_size, hidden_size1, hidden_size2, output_size]
        self.params = {}
        for i in range(3):
            self.params[f"W{i + 1}"] = weight_init_std * np.random.randn(sizes[i], sizes[i + 1])
            self.params[f"b{i + 1}"] = np.zeros(sizes[i + 1])
        self.layers = OrderedDict()
        for i in range(1, 4):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            if i < 3:
                self.layers[f"Act{i}"] = LeakyRelu(alpha) if act == "leaky_relu" else Relu()
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {f"{p}{i}": getattr(self.layers[f"Affine{i}"], "d" + p) for i in range(1, 4) for p in "Wb"}


if __name__ == "__main__":
    net = ThreeLayerNN(act="leaky_relu")
    print(net.predict(np.zeros((1, 784))))
