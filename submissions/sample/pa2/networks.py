# coding: utf-8
# SE395 PA2 - 직접 구현한 네트워크들 (numpy only)
#   (5) 3-layer NN with ReLU (PA1), 3-layer NN with LReLU
#   (1) 2-layer CNN, (2) 3-layer CNN
import sys, os
sys.path.append(os.pardir)  # 부모 디렉터리의 파일(common)을 가져올 수 있도록 설정
import numpy as np
from collections import OrderedDict
from common.layers import *


class ThreeLayerNet:
    """Affine -> ReLU(or LReLU) -> Affine -> ReLU(or LReLU) -> Affine -> Softmax"""

    def __init__(self, input_size=784, hidden_size1=100, hidden_size2=50, output_size=10,
                 weight_init_std=0.01, activation='relu', alpha=0.1):
        # 가중치 초기화
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(input_size, hidden_size1)
        self.params['b1'] = np.zeros(hidden_size1)
        self.params['W2'] = weight_init_std * np.random.randn(hidden_size1, hidden_size2)
        self.params['b2'] = np.zeros(hidden_size2)
        self.params['W3'] = weight_init_std * np.random.randn(hidden_size2, output_size)
        self.params['b3'] = np.zeros(output_size)

        self.activation = activation
        self.alpha = alpha

        # 계층 생성
        self.layers = OrderedDict()
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        self.layers['Act1'] = self._make_activation()
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])
        self.layers['Act2'] = self._make_activation()
        self.layers['Affine3'] = Affine(self.params['W3'], self.params['b3'])

        self.last_layer = SoftmaxWithLoss()

    def _make_activation(self):
        if self.activation == 'relu':
            return Relu()
        elif self.activation == 'lrelu':
            return LeakyRelu(self.alpha)
        raise ValueError('unknown activation: ' + str(self.activation))

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    # x : 입력 데이터, t : 정답 레이블
    def loss(self, x, t):
        y = self.predict(x)
        return self.last_layer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)

        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.last_layer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        # 결과 저장
        grads = {}
        grads['W1'], grads['b1'] = self.layers['Affine1'].dW, self.layers['Affine1'].db
        grads['W2'], grads['b2'] = self.layers['Affine2'].dW, self.layers['Affine2'].db
        grads['W3'], grads['b3'] = self.layers['Affine3'].dW, self.layers['Affine3'].db

        return grads


class ThreeLayerNetLReLU(ThreeLayerNet):
    """PA1의 LReLU 버전 (alpha = 0.1)"""

    def __init__(self, input_size=784, hidden_size1=100, hidden_size2=50, output_size=10,
                 weight_init_std=0.01, alpha=0.1):
        super().__init__(input_size, hidden_size1, hidden_size2, output_size,
                         weight_init_std, activation='lrelu', alpha=alpha)


class TwoLayerCNN:
    """conv(20@5x5) - relu - conv(40@10x10) - relu - affine - softmax

    Parameters
    ----------
    input_dim : 입력 크기（MNIST의 경우엔 (1, 28, 28)）
    conv_param1, conv_param2 : 합성곱 계층의 하이퍼파라미터(딕셔너리)
        filter_num / filter_size / pad / stride
    output_size : 출력 크기（MNIST의 경우엔 10）
    weight_init_std : 가중치의 표준편차
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param1={'filter_num': 20, 'filter_size': 5, 'pad': 0, 'stride': 1},
                 conv_param2={'filter_num': 40, 'filter_size': 10, 'pad': 0, 'stride': 1},
                 output_size=10, weight_init_std=0.01):
        C, H, W = input_dim
        fn1, fs1 = conv_param1['filter_num'], conv_param1['filter_size']
        fn2, fs2 = conv_param2['filter_num'], conv_param2['filter_size']
        out1 = (H + 2 * conv_param1['pad'] - fs1) // conv_param1['stride'] + 1     # 28 -> 24
        out2 = (out1 + 2 * conv_param2['pad'] - fs2) // conv_param2['stride'] + 1  # 24 -> 15
        affine_input_size = fn2 * out2 * out2                                        # 40*15*15 = 9000

        # 가중치 초기화
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(fn1, C, fs1, fs1)
        self.params['b1'] = np.zeros(fn1)
        self.params['W2'] = weight_init_std * np.random.randn(fn2, fn1, fs2, fs2)
        self.params['b2'] = np.zeros(fn2)
        self.params['W3'] = weight_init_std * np.random.randn(affine_input_size, output_size)
        self.params['b3'] = np.zeros(output_size)

        # 계층 생성
        self.layers = OrderedDict()
        self.layers['Conv1'] = Convolution(self.params['W1'], self.params['b1'],
                                           conv_param1['stride'], conv_param1['pad'])
        self.layers['Relu1'] = Relu()
        self.layers['Conv2'] = Convolution(self.params['W2'], self.params['b2'],
                                           conv_param2['stride'], conv_param2['pad'])
        self.layers['Relu2'] = Relu()
        self.layers['Affine1'] = Affine(self.params['W3'], self.params['b3'])

        self.last_layer = SoftmaxWithLoss()

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

        acc = 0.0
        for i in range(int(np.ceil(x.shape[0] / batch_size))):
            tx = x[i * batch_size:(i + 1) * batch_size]
            tt = t[i * batch_size:(i + 1) * batch_size]
            y = self.predict(tx)
            y = np.argmax(y, axis=1)
            acc += np.sum(y == tt)

        return acc / x.shape[0]

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.last_layer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        # 결과 저장
        grads = {}
        grads['W1'], grads['b1'] = self.layers['Conv1'].dW, self.layers['Conv1'].db
        grads['W2'], grads['b2'] = self.layers['Conv2'].dW, self.layers['Conv2'].db
        grads['W3'], grads['b3'] = self.layers['Affine1'].dW, self.layers['Affine1'].db

        return grads


class ThreeLayerCNN:
    """conv(20@5x5) - relu - conv(40@10x10) - relu - conv(80@10x10) - relu - affine - softmax"""

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param1={'filter_num': 20, 'filter_size': 5, 'pad': 0, 'stride': 1},
                 conv_param2={'filter_num': 40, 'filter_size': 10, 'pad': 0, 'stride': 1},
                 conv_param3={'filter_num': 80, 'filter_size': 10, 'pad': 0, 'stride': 1},
                 output_size=10, weight_init_std=0.01):
        C, H, W = input_dim
        conv_params = [conv_param1, conv_param2, conv_param3]

        # 가중치 초기화
        self.params = {}
        size, channels = H, C
        for i, p in enumerate(conv_params):
            self.params['W' + str(i + 1)] = weight_init_std * np.random.randn(
                p['filter_num'], channels, p['filter_size'], p['filter_size'])
            self.params['b' + str(i + 1)] = np.zeros(p['filter_num'])
            size = (size + 2 * p['pad'] - p['filter_size']) // p['stride'] + 1  # 28 -> 24 -> 15 -> 6
            channels = p['filter_num']
        self.params['W4'] = weight_init_std * np.random.randn(channels * size * size, output_size)  # 2880
        self.params['b4'] = np.zeros(output_size)

        # 계층 생성
        self.layers = OrderedDict()
        for i, p in enumerate(conv_params):
            self.layers['Conv' + str(i + 1)] = Convolution(self.params['W' + str(i + 1)],
                                                           self.params['b' + str(i + 1)],
                                                           p['stride'], p['pad'])
            self.layers['Relu' + str(i + 1)] = Relu()
        self.layers['Affine1'] = Affine(self.params['W4'], self.params['b4'])

        self.last_layer = SoftmaxWithLoss()

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

        acc = 0.0
        for i in range(int(np.ceil(x.shape[0] / batch_size))):
            tx = x[i * batch_size:(i + 1) * batch_size]
            tt = t[i * batch_size:(i + 1) * batch_size]
            y = self.predict(tx)
            y = np.argmax(y, axis=1)
            acc += np.sum(y == tt)

        return acc / x.shape[0]

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.last_layer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        # 결과 저장
        grads = {}
        for i in range(3):
            conv = self.layers['Conv' + str(i + 1)]
            grads['W' + str(i + 1)], grads['b' + str(i + 1)] = conv.dW, conv.db
        grads['W4'], grads['b4'] = self.layers['Affine1'].dW, self.layers['Affine1'].db

        return grads
