# coding: utf-8
# SE395 PA2 학습 스크립트: 5개 네트워크를 3 epoch씩 학습하고 결과를 results/ 에 저장
import sys, os
sys.path.append(os.pardir)
import gzip
import json
import numpy as np
import torch
import torch.nn as nn
from common.optimizer import SGD
from networks import ThreeLayerNet, TwoLayerCNN, ThreeLayerCNN
from torch_networks import TorchTwoLayerCNN, TorchThreeLayerCNN

file_path = '../mnist/'  # train-images-idx3-ubyte.gz 등 4개 파일이 있는 곳


def load_mnist(path, kind='train'):
    prefix = 't10k' if kind == 'test' else 'train'
    with gzip.open(os.path.join(path, prefix + '-labels-idx1-ubyte.gz'), 'rb') as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    with gzip.open(os.path.join(path, prefix + '-images-idx3-ubyte.gz'), 'rb') as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return images.astype(np.float64) / 255.0, labels


def confusion_matrix(pred, t):
    cm = np.zeros((10, 10), dtype=np.int64)
    for p, l in zip(pred, t):
        cm[l, p] += 1
    return cm


def batch_loss(f, x, t, batch_size=500):
    return float(np.mean([f(x[i:i + batch_size], t[i:i + batch_size]) for i in range(0, len(x), batch_size)]))


x_train, t_train = load_mnist(file_path, 'train')
x_test, t_test = load_mnist(file_path, 'test')
x_valid, t_valid = x_test[:1000], t_test[:1000]  # validation은 시간 때문에 1000장만

epochs, batch_size, lr = 3, 100, 0.1
iter_per_epoch = x_train.shape[0] // batch_size
os.makedirs('results', exist_ok=True)

# ---- (1) 2-layer CNN, (2) 3-layer CNN, (5) 3-layer NN (numpy) ----
for name, net in [('3layer_nn', ThreeLayerNet()), ('2layer_cnn', TwoLayerCNN()), ('3layer_cnn', ThreeLayerCNN())]:
    optimizer = SGD(lr=lr)
    log = {'train_loss': [batch_loss(net.loss, x_train[:1000], t_train[:1000])],
           'valid_loss': [batch_loss(net.loss, x_valid, t_valid)]}
    for epoch in range(epochs):
        idx = np.random.permutation(x_train.shape[0])
        losses = []
        for i in range(iter_per_epoch):
            batch = idx[i * batch_size:(i + 1) * batch_size]
            grads = net.gradient(x_train[batch], t_train[batch])
            optimizer.update(net.params, grads)
            losses.append(net.last_layer.loss)
        log['train_loss'].append(float(np.mean(losses)))
        log['valid_loss'].append(batch_loss(net.loss, x_valid, t_valid))
        print(name, 'epoch', epoch + 1, log['train_loss'][-1], log['valid_loss'][-1])

    pred = np.concatenate([np.argmax(net.predict(x_test[i:i + 500]), axis=1) for i in range(0, len(x_test), 500)])
    cm = confusion_matrix(pred, t_test)
    print(name, 'test acc:', np.trace(cm) / len(t_test))
    np.save('results/%s_confusion.npy' % name, cm)
    with open('results/%s_loss.json' % name, 'w') as f:
        json.dump(log, f)

# ---- (3), (4) PyTorch ----
xt, tt = torch.tensor(x_train, dtype=torch.float32), torch.tensor(t_train)
for name, model in [('2layer_cnn_torch', TorchTwoLayerCNN()), ('3layer_cnn_torch', TorchThreeLayerCNN())]:
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        perm = torch.randperm(xt.shape[0])
        for i in range(iter_per_epoch):
            batch = perm[i * batch_size:(i + 1) * batch_size]
            optimizer.zero_grad()
            loss = criterion(model(xt[batch]), tt[batch])
            loss.backward()
            optimizer.step()
        print(name, 'epoch', epoch + 1, loss.item())
    with torch.no_grad():
        pred = model(torch.tensor(x_test, dtype=torch.float32)).argmax(dim=1).numpy()
    cm = confusion_matrix(pred, t_test)
    print(name, 'test acc:', np.trace(cm) / len(t_test))
    np.save('results/%s_confusion.npy' % name, cm)
    torch.save(model.state_dict(), 'results/%s.pt' % name)
