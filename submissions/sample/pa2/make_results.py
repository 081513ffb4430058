# coding: utf-8
# SE395 PA2: 5개 네트워크를 짧게 학습하고 grader 가 읽는 results/ 파일을 write_results 로 저장
#   python make_results.py [MNIST 폴더]   (기본 ../mnist/)
# numpy CNN 은 CPU 에서 느리므로 학습 데이터 일부만 1 epoch (정확도보다 결과 파일의 형식 확인용)
import sys, os
sys.path.append(os.pardir)
import time
import numpy as np
import torch
import torch.nn as nn
from common.optimizer import SGD
from networks import ThreeLayerNet, TwoLayerCNN, ThreeLayerCNN
from torch_networks import TorchTwoLayerCNN, TorchThreeLayerCNN
import gzip
from write_results import write_results

def load_mnist(path, kind='train'):
    prefix = 't10k' if kind == 'test' else 'train'
    with gzip.open(os.path.join(path, prefix + '-labels-idx1-ubyte.gz'), 'rb') as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    with gzip.open(os.path.join(path, prefix + '-images-idx3-ubyte.gz'), 'rb') as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return images.astype(np.float64) / 255.0, labels


def batch_loss(f, x, t, batch_size=500):
    return float(np.mean([f(x[i:i + batch_size], t[i:i + batch_size]) for i in range(0, len(x), batch_size)]))


OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'results')


def he_init(net):
    """3-layer CNN 은 0.01 초기화로는 짧은 학습에서 loss 가 거의 줄지 않으므로 He 초기화 (제자리 갱신)"""
    for key, value in net.params.items():
        if key.startswith('W'):
            fan_in = np.prod(value.shape[1:]) if value.ndim == 4 else value.shape[0]
            value[...] = np.random.randn(*value.shape) * np.sqrt(2.0 / fan_in)


def train_numpy(net, x, t, xv, tv, lr, epochs, batch_size=100):
    optimizer = SGD(lr=lr)
    train_loss, valid_loss = [batch_loss(net.loss, x[:500], t[:500], 100)], [batch_loss(net.loss, xv, tv, 100)]
    for epoch in range(epochs):
        idx = np.random.permutation(len(x))
        losses = []
        for i in range(0, len(x) - batch_size + 1, batch_size):
            grads = net.gradient(x[idx[i:i + batch_size]], t[idx[i:i + batch_size]])
            optimizer.update(net.params, grads)
            losses.append(net.last_layer.loss)
        train_loss.append(float(np.mean(losses)))
        valid_loss.append(batch_loss(net.loss, xv, tv, 100))
    return train_loss, valid_loss


def train_torch(model, x, t, xv, tv, lr, epochs, batch_size=100):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    x, t = torch.tensor(x, dtype=torch.float32), torch.tensor(t)
    xv, tv = torch.tensor(xv, dtype=torch.float32), torch.tensor(tv)

    def mean_loss(a, b):
        with torch.no_grad():
            return float(criterion(model(a), b))

    train_loss, valid_loss = [mean_loss(x[:1000], t[:1000])], [mean_loss(xv, tv)]
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        losses = []
        for i in range(0, len(x) - batch_size + 1, batch_size):
            optimizer.zero_grad()
            loss = criterion(model(x[perm[i:i + batch_size]]), t[perm[i:i + batch_size]])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        train_loss.append(float(np.mean(losses)))
        valid_loss.append(mean_loss(xv, tv))
    return train_loss, valid_loss


if __name__ == '__main__':
    path = sys.argv[1] if len(sys.argv) > 1 else '../mnist/'
    only = sys.argv[2:]  # 네트워크 이름을 주면 그것만
    x_train, t_train = load_mnist(path, 'train')
    x_test, t_test = load_mnist(path, 'test')
    xv, tv = x_test[:500], t_test[:500]
    np.random.seed(0)
    torch.manual_seed(0)
    jobs = {
        # 이름: (네트워크, 학습 이미지 수, epoch, lr)
        'three_layer_nn': (ThreeLayerNet, 60000, 3, 0.1),
        'two_layer_cnn': (TwoLayerCNN, 3000, 1, 0.1),
        'three_layer_cnn': (ThreeLayerCNN, 3000, 1, 0.05),
        'two_layer_cnn_torch': (TorchTwoLayerCNN, 10000, 1, 0.1),
        'three_layer_cnn_torch': (TorchThreeLayerCNN, 10000, 1, 0.1),
    }
    for name, (cls, n, epochs, lr) in jobs.items():
        if only and name not in only:
            continue
        start = time.time()
        net = cls()
        mlp = name == 'three_layer_nn'
        x, xs, xvv = (x_train[:n].reshape(n, -1), x_test.reshape(len(x_test), -1), xv.reshape(len(xv), -1)) if mlp \
            else (x_train[:n], x_test, xv)
        if name.endswith('torch'):
            train_loss, valid_loss = train_torch(net, x, t_train[:n], xvv, tv, lr, epochs)
        else:
            if name == 'three_layer_cnn':
                he_init(net)
            train_loss, valid_loss = train_numpy(net, x, t_train[:n], xvv, tv, lr, epochs)
        written = write_results(net, xs, t_test, name, out=OUT, train_loss=train_loss, valid_loss=valid_loss,
                                cam_sample=None if mlp else 0)
        print(name, 'loss', [round(v, 4) for v in train_loss], [round(v, 4) for v in valid_loss],
              'test acc', written['test_accuracy'], '%.0f s' % (time.time() - start), flush=True)
