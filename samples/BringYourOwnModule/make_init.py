"""The PyTorch twin of SmallResNet.cs: writes its initial state_dict for `--init small_resnet.pt`.

    python3 make_init.py [--channels 1] [--seed 0] [--out small_resnet.pt]
"""
import argparse

import torch
from torch import nn
from torch.nn import functional as F


class SmallResNet(nn.Module):
    def __init__(self, in_channels, classes=10, width=16):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        self.block1_conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.block1_conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.block2_conv1 = nn.Conv2d(width, width, 3, stride=2, padding=1)
        self.block2_conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.block2_shortcut = nn.Conv2d(width, width, 1, stride=2)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        h = self.stem(x)
        h = h + self.block1_conv2(F.relu(self.block1_conv1(F.relu(h))))
        h = self.block2_shortcut(h) + self.block2_conv2(F.relu(self.block2_conv1(F.relu(h))))
        return self.head(F.relu(h).mean((2, 3)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=1, help="1 for Fashion-MNIST, 3 for the synthetic CIFAR-format set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="small_resnet.pt")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.save(SmallResNet(args.channels).state_dict(), args.out)
    print(f"wrote {args.out}")
