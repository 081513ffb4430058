"""PA2 (3), (4): 2-layer and 3-layer CNN with PyTorch.

Run `python models.py --data ./mnist` to train both for 3 epochs (lr 0.1, batch 100).
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class TwoLayerCNN(nn.Module):
    """conv 20@5x5 -> ReLU -> conv 40@10x10 -> ReLU -> Linear(9000 -> 10)"""

    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 20, 5)
        self.conv2 = nn.Conv2d(20, 40, 10)
        self.fc = nn.Linear(40 * 15 * 15, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.fc(x.flatten(1))


class ThreeLayerCNN(nn.Module):
    """conv 20@5x5 -> conv 40@10x10 -> conv 80@10x10 (each + ReLU) -> Linear(2880 -> 10)"""

    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 20, 5)
        self.conv2 = nn.Conv2d(20, 40, 10)
        self.conv3 = nn.Conv2d(40, 80, 10)
        self.fc = nn.Linear(80 * 6 * 6, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        return self.fc(x.flatten(1))


def load_mnist(path, kind="train"):
    prefix = "t10k" if kind == "test" else "train"
    with gzip.open(os.path.join(path, f"{prefix}-images-idx3-ubyte.gz"), "rb") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(path, f"{prefix}-labels-idx1-ubyte.gz"), "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.tensor(images / 255.0, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)


def evaluate(model, x, t, batch_size=1000):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = model(x[i:i + batch_size])
            loss += F.cross_entropy(out, t[i:i + batch_size], reduction="sum").item()
            correct += (out.argmax(1) == t[i:i + batch_size]).sum().item()
    model.train()
    return loss / len(x), correct / len(x)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="./mnist")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    x_train, t_train = load_mnist(args.data, "train")
    x_test, t_test = load_mnist(args.data, "test")
    for model in (TwoLayerCNN(), ThreeLayerCNN()):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        history = {"train_loss": [evaluate(model, x_train[:10000], t_train[:10000])[0]],
                   "valid_loss": [evaluate(model, x_test, t_test)[0]]}
        for epoch in range(args.epochs):
            perm = torch.randperm(len(x_train))
            for i in range(0, len(x_train), 100):
                idx = perm[i:i + 100]
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x_train[idx]), t_train[idx])
                loss.backward()
                optimizer.step()
            history["train_loss"].append(evaluate(model, x_train[:10000], t_train[:10000])[0])
            valid_loss, acc = evaluate(model, x_test, t_test)
            history["valid_loss"].append(valid_loss)
            print(f"{type(model).__name__} epoch {epoch + 1}: valid loss {valid_loss:.4f}, acc {acc:.4f}")
        torch.save(model.state_dict(), f"{type(model).__name__}.pt")
        print(history)
