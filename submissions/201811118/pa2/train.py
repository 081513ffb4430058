# coding: utf-8
# SE395 PA2 (201811118) 학습 스크립트
#   python train.py --net two_layer_cnn        (한 모델씩; --net all 이면 5개 전부)
# TensorBoard (runs/<모델>/) 에 train/valid loss, accuracy 와 class 별 top-3 이미지를 기록하고,
# write_results 로 results/ 에 weights, confusion matrix, top-3, loss, accuracy, CAM 을 저장한다.
# 실행한 설정과 결과는 ../README.md 에 적어 두었다.
import sys, os
sys.path.append(os.pardir)
import argparse
import gzip
import json
import time
import numpy as np
from common.optimizer import SGD
from models import CNN2Layer, CNN3Layer, ThreeLayerNN
from write_results import write_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NUMPY_NETS = {'two_layer_cnn': CNN2Layer, 'three_layer_cnn': CNN3Layer, 'three_layer_nn': ThreeLayerNN}
TORCH_NETS = ['two_layer_cnn_torch', 'three_layer_cnn_torch']
# 2-layer 는 test 중 랜덤 2000장, 3-layer 는 500장으로 validation (시간 절약)
VALID_SIZE = {'two_layer_cnn': 2000, 'three_layer_cnn': 500, 'three_layer_nn': 10000}


def load_mnist(path, kind):
    prefix = 't10k' if kind == 'test' else 'train'
    with gzip.open(os.path.join(path, prefix + '-labels-idx1-ubyte.gz'), 'rb') as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    with gzip.open(os.path.join(path, prefix + '-images-idx3-ubyte.gz'), 'rb') as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return images.astype(np.float64) / 255.0, labels


def loss_acc(net, x, t, batch_size=100):
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        loss += net.loss(x[i:i + batch_size], t[i:i + batch_size]) * len(x[i:i + batch_size])
        correct += np.sum(np.argmax(net.last_layer.y, axis=1) == t[i:i + batch_size])
    return loss / len(x), correct / len(x)


def train_numpy(name, writer, x_train, t_train, x_valid, t_valid, epochs, lr, batch_size, log_every):
    np.random.seed(201811118)
    net = NUMPY_NETS[name]()
    optimizer = SGD(lr=lr)
    vl, va = loss_acc(net, x_valid, t_valid)
    tl, ta = loss_acc(net, x_train[:500], t_train[:500])
    train_loss, valid_loss = [tl], [vl]
    writer.add_scalar('valid_loss', vl, 0)
    writer.add_scalar('valid_acc', va, 0)
    step, losses, accs = 0, [], []
    for epoch in range(epochs):
        idx = np.random.permutation(len(x_train))
        epoch_losses = []
        for i in range(0, len(x_train) - batch_size + 1, batch_size):
            batch = idx[i:i + batch_size]
            grads = net.gradient(x_train[batch], t_train[batch])
            optimizer.update(net.params, grads)
            step += 1
            losses.append(net.last_layer.loss)
            epoch_losses.append(net.last_layer.loss)
            accs.append(np.mean(np.argmax(net.last_layer.y, axis=1) == t_train[batch]))
            if step % log_every == 0:
                writer.add_scalar('train_loss', np.mean(losses), step)
                writer.add_scalar('train_acc', np.mean(accs), step)
                print('%s step %d train loss %.4f acc %.3f' % (name, step, np.mean(losses), np.mean(accs)), flush=True)
                losses, accs = [], []
        vl, va = loss_acc(net, x_valid, t_valid)
        writer.add_scalar('valid_loss', vl, step)
        writer.add_scalar('valid_acc', va, step)
        train_loss.append(float(np.mean(epoch_losses)))
        valid_loss.append(vl)
        print('%s epoch %d train loss %.4f valid loss %.4f acc %.3f' % (name, epoch + 1, train_loss[-1], vl, va), flush=True)
    return net, train_loss, valid_loss


def train_torch(name, writer, x_train, t_train, x_valid, t_valid, epochs, lr, batch_size, log_every):
    import torch
    from models_torch import TorchCNN2, TorchCNN3
    torch.manual_seed(201811118)
    model = TorchCNN2() if name == 'two_layer_cnn_torch' else TorchCNN3()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = torch.nn.CrossEntropyLoss()
    xt, tt = torch.tensor(x_train, dtype=torch.float32), torch.tensor(t_train)
    xv, tv = torch.tensor(x_valid, dtype=torch.float32), torch.tensor(t_valid)

    def evaluate(x, t):
        with torch.no_grad():
            total, correct = 0.0, 0
            for i in range(0, len(x), 1000):
                out = model(x[i:i + 1000])
                total += criterion(out, t[i:i + 1000]).item() * len(out)
                correct += (out.argmax(1) == t[i:i + 1000]).sum().item()
        return total / len(x), correct / len(x)

    tl, _ = evaluate(xt[:1000], tt[:1000])
    vl, va = evaluate(xv, tv)
    train_loss, valid_loss = [tl], [vl]
    writer.add_scalar('valid_loss', vl, 0)
    writer.add_scalar('valid_acc', va, 0)
    for epoch in range(epochs):
        perm = torch.randperm(len(xt))
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(xt) - batch_size + 1, batch_size):
            batch = perm[i:i + batch_size]
            optimizer.zero_grad()
            out = model(xt[batch])
            loss = criterion(out, tt[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * batch_size
            correct += (out.argmax(1) == tt[batch]).sum().item()
            seen += batch_size
        vl, va = evaluate(xv, tv)
        train_loss.append(total / seen)
        valid_loss.append(vl)
        # Keras 처럼 epoch 마다 기록
        writer.add_scalar('train_loss', train_loss[-1], epoch + 1)
        writer.add_scalar('train_acc', correct / seen, epoch + 1)
        writer.add_scalar('valid_loss', vl, epoch + 1)
        writer.add_scalar('valid_acc', va, epoch + 1)
        print('%s epoch %d train loss %.4f acc %.3f valid loss %.4f acc %.3f'
              % (name, epoch + 1, train_loss[-1], correct / seen, vl, va), flush=True)
    return model.eval(), train_loss, valid_loss


def log_top3(writer, results_dir, name, x_test):
    """class 별 top-3 이미지를 TensorBoard 에: tag = label 과 세 이미지의 결과 값 리스트"""
    with open(os.path.join(results_dir, name, 'top3.json')) as f:
        top = json.load(f)
    for c, (index, prob) in enumerate(zip(top['index'], top['prob'])):
        tag = 'top3/label %d: [%s]' % (c, ', '.join('%.4f' % p for p in prob))
        writer.add_images(tag, x_test[index].astype(np.float32), 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--net', default='all')
    parser.add_argument('--data', default='/work/shared/data/mnist')
    parser.add_argument('--train-size', type=int, default=60000, help='CPU 가 느려서 학습 데이터 일부만 (MLP 는 항상 60000)')
    parser.add_argument('--epochs', type=int, default=None)
    parser.add_argument('--lr', type=float, default=0.1)
    args = parser.parse_args()
    from torch.utils.tensorboard import SummaryWriter

    x_train, t_train = load_mnist(args.data, 'train')
    x_test, t_test = load_mnist(args.data, 'test')
    names = list(NUMPY_NETS) + TORCH_NETS if args.net == 'all' else [args.net]
    results_dir = os.path.join(ROOT, 'results')
    for name in names:
        start = time.time()
        writer = SummaryWriter(os.path.join(ROOT, 'runs', name))
        rng = np.random.RandomState(0)
        if name in TORCH_NETS:
            epochs = args.epochs or 5
            n = args.train_size
            net, train_loss, valid_loss = train_torch(name, writer, x_train[:n], t_train[:n], x_test, t_test,
                                                      epochs, args.lr, 100, 100)
        else:
            n = args.train_size if 'cnn' in name else 60000
            epochs = args.epochs or (1 if 'cnn' in name else 5)
            valid = rng.choice(len(x_test), VALID_SIZE[name], replace=False)
            x = x_train[:n] if 'cnn' in name else x_train[:n].reshape(n, -1)
            xv = x_test[valid] if 'cnn' in name else x_test[valid].reshape(len(valid), -1)
            net, train_loss, valid_loss = train_numpy(name, writer, x, t_train[:n], xv, t_test[valid],
                                                      epochs, args.lr, 100, 10 if 'cnn' in name else 100)
        xs = x_test if 'cnn' in name else x_test.reshape(len(x_test), -1)
        cam = 0 if 'cnn' in name else None  # CAM 은 test dataset 의 첫 번째 이미지
        written = write_results(net, xs, t_test, name, out=results_dir, train_loss=train_loss,
                                valid_loss=valid_loss, cam_sample=cam)
        log_top3(writer, results_dir, name, x_test)
        writer.close()
        print('%s test accuracy %.4f (%.0f s)' % (name, written['test_accuracy'], time.time() - start), flush=True)


if __name__ == '__main__':
    main()
