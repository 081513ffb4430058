# coding: utf-8
# SE395 PA2 - (3) 2-layer CNN, (4) 3-layer CNN using DL framework (PyTorch)
import torch
import torch.nn as nn


class TorchTwoLayerCNN(nn.Module):
    def __init__(self, num_classes=10):
        super(TorchTwoLayerCNN, self).__init__()
        self.conv1 = nn.Conv2d(1, 20, kernel_size=5)    # 28 -> 24
        self.conv2 = nn.Conv2d(20, 40, kernel_size=10)  # 24 -> 15
        self.relu = nn.ReLU()
        self.fc = nn.Linear(40 * 15 * 15, num_classes)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = x.view(x.size(0), -1)
        return self.fc(x)


class TorchThreeLayerCNN(nn.Module):
    def __init__(self, num_classes=10):
        super(TorchThreeLayerCNN, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, kernel_size=5),    # 28 -> 24
            nn.ReLU(),
            nn.Conv2d(20, 40, kernel_size=10),  # 24 -> 15
            nn.ReLU(),
            nn.Conv2d(40, 80, kernel_size=10),  # 15 -> 6
            nn.ReLU(),
        )
        self.fc = nn.Linear(80 * 6 * 6, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.fc(x)
