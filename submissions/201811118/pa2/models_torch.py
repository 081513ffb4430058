# coding: utf-8
# SE395 PA2 (201811118) - (3) 2-layer CNN, (4) 3-layer CNN using DL framework (PyTorch)
# numpy 모델과 같은 구조: conv(20@5x5) - relu - conv(40@10x10) - relu [- conv(80@10x10) - relu] - flatten - dense(10)
import torch.nn as nn


class TorchCNN2(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.ReLU(),      # 28 -> 24
            nn.Conv2d(20, 40, 10), nn.ReLU(),    # 24 -> 15
            nn.Flatten(),
            nn.Linear(40 * 15 * 15, 10),
        )

    def forward(self, x):
        return self.model(x)


class TorchCNN3(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.ReLU(),      # 28 -> 24
            nn.Conv2d(20, 40, 10), nn.ReLU(),    # 24 -> 15
            nn.Conv2d(40, 80, 10), nn.ReLU(),    # 15 -> 6
            nn.Flatten(),
            nn.Linear(80 * 6 * 6, 10),
        )

    def forward(self, x):
        return self.model(x)
