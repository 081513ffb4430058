# coding: utf-8
# SE395 PA2 (201811118) - DL framework 없이 numpy 로 구현한 모델들
#   (1) CNN2Layer : conv(20@5x5) - relu - conv(40@10x10) - relu - affine - softmax
#   (2) CNN3Layer : conv(20@5x5) - relu - conv(40@10x10) - relu - conv(80@10x10) - relu - affine - softmax
#   (5) ThreeLayerNN : PA1 의 3-layer NN (ReLU)
import sys, os
sys.path.append(os.pardir)
import numpy as np
from collections import OrderedDict
from common.layers import Affine, Relu, Convolution, SoftmaxWithLoss


def conv_out(size, filter_size, stride=1, pad=0):
    return (size + 2 * pad - filter_size) // stride + 1


class BaseNet:
    """predict / loss / accuracy / gradient 는 모든 모델이 같다 (layers 순서대로 forward, 역순으로 backward)"""

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        return self.last_layer.forward(y, t)

    def accuracy(self, x, t, batch_size=100):
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        correct = 0
        for i in range(0, x.shape[0], batch_size):
            y = self.predict(x[i:i + batch_size])
            correct += np.sum(np.argmax(y, axis=1) == t[i:i + batch_size])
        return correct / x.shape[0]

    def gradient(self, x, t):
        self.loss(x, t)

        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)

        grads = {}
        for i, name in enumerate(self.param_layers):
            grads['W' + str(i + 1)] = self.layers[name].dW
            grads['b' + str(i + 1)] = self.layers[name].db
        return grads


class CNN2Layer(BaseNet):
    def __init__(self, input_dim=(1, 28, 28), filters=(20, 40), sizes=(5, 10), output_size=10,
                 weight_init_std=0.01):
        C, H, _ = input_dim
        self.params = {}
        self.layers = OrderedDict()
        self.param_layers = []
        size, channel = H, C
        for i, (fn, fs) in enumerate(zip(filters, sizes)):
            self.params['W%d' % (i + 1)] = weight_init_std * np.random.randn(fn, channel, fs, fs)
            self.params['b%d' % (i + 1)] = np.zeros(fn)
            self.layers['Conv%d' % (i + 1)] = Convolution(self.params['W%d' % (i + 1)], self.params['b%d' % (i + 1)])
            self.layers['Relu%d' % (i + 1)] = Relu()
            self.param_layers.append('Conv%d' % (i + 1))
            size, channel = conv_out(size, fs), fn          # 28 -> 24 -> 15 (-> 6)
        n = len(filters) + 1
        self.params['W%d' % n] = weight_init_std * np.random.randn(channel * size * size, output_size)
        self.params['b%d' % n] = np.zeros(output_size)
        self.layers['Affine'] = Affine(self.params['W%d' % n], self.params['b%d' % n])
        self.param_layers.append('Affine')
        self.last_layer = SoftmaxWithLoss()

    def feature_map(self, x):
        """마지막 conv layer(ReLU 후)의 출력: CAM 에 사용"""
        for name, layer in self.layers.items():
            if name == 'Affine':
                break
            x = layer.forward(x)
        return x


class CNN3Layer(CNN2Layer):
    # 초기화 표준편차 0.01 (2-layer 와 같음), learning rate 0.1
    def __init__(self, input_dim=(1, 28, 28), filters=(20, 40, 80), sizes=(5, 10, 10), output_size=10,
                 weight_init_std=0.01):
        super().__init__(input_dim, filters, sizes, output_size, weight_init_std)


class ThreeLayerNN(BaseNet):
    """PA1: Affine - ReLU - Affine - ReLU - Affine - Softmax"""

    def __init__(self, input_size=784, hidden_size1=256, hidden_size2=128, output_size=10,
                 weight_init_std=0.01):
        sizes = [input_size, hidden_size1, hidden_size2, output_size]
        self.params = {}
        self.layers = OrderedDict()
        self.param_layers = []
        for i in range(3):
            self.params['W%d' % (i + 1)] = weight_init_std * np.random.randn(sizes[i], sizes[i + 1])
            self.params['b%d' % (i + 1)] = np.zeros(sizes[i + 1])
            self.layers['Affine%d' % (i + 1)] = Affine(self.params['W%d' % (i + 1)], self.params['b%d' % (i + 1)])
            self.param_layers.append('Affine%d' % (i + 1))
            if i < 2:
                self.layers['Relu%d' % (i + 1)] = Relu()
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        return super().predict(x.reshape(x.shape[0], -1))
