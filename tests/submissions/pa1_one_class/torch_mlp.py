# PA1 extra credit: the same two networks in PyTorch
import torch
import torch.nn as nn
import torch.nn.functional as F


class TorchThreeLayerNet(nn.Module):
    """784 -> 100 -> ReLU -> 50 -> ReLU -> 10 (logits)."""

    def __init__(self, hidden1=100, hidden2=50):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.fc3 = nn.Linear(hidden2, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class TorchThreeLayerNetLReLU(nn.Module):
    """The same with Leaky ReLU, alpha 0.3."""

    def __init__(self, hidden1=100, hidden2=50, alpha=0.3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden1), nn.LeakyReLU(alpha),
            nn.Linear(hidden1, hidden2), nn.LeakyReLU(alpha),
            nn.Linear(hidden2, 10),
        )

    def forward(self, x):
        return self.net(x)


def train(model, x_train, t_train, epochs=20, batch_size=100, lr=0.1):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), t_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(epoch, loss.item())


if __name__ == "__main__":
    x = torch.rand(1000, 1, 28, 28)
    t = torch.randint(0, 10, (1000,))
    for model in (TorchThreeLayerNet(), TorchThreeLayerNetLReLU()):
        train(model, x, t, epochs=1)
