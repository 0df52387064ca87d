#!/usr/bin/python3
"""make_tinynet.py - regenerate examples/tinynet.onnx and its input.

tinynet is the quick start's example: a small image classifier in the shape
of an on-board cloud/scene screener (3x96x96 tile in, 10 classes out), with
the op mix of the real models (conv, depthwise conv, residual adds, SE
gating, global pooling, a linear head). Random weights, fixed seed; it is
small enough to ship in git. Run with Debian's /usr/bin/python3.
"""
import os
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(7)


class Block(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.se1 = nn.Conv2d(c, c // 4, 1)
        self.se2 = nn.Conv2d(c // 4, c, 1)
        self.stride = stride

    def forward(self, x):
        y = torch.relu(self.bn1(self.dw(x)))
        y = self.bn2(self.pw(y))
        s = torch.sigmoid(self.se2(torch.relu(self.se1(y.mean((2, 3), keepdim=True)))))
        y = y * s
        if self.stride == 1:
            y = y + x
        return torch.relu(y)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(32), nn.ReLU())
        self.body = nn.Sequential(Block(32, 1), Block(32, 2),
                                  nn.Conv2d(32, 64, 1), nn.ReLU(),
                                  Block(64, 1), Block(64, 2), Block(64, 1))
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    m = TinyNet().eval()
    for mod in m.modules():      # non-trivial BN statistics
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    x = torch.rand(1, 3, 96, 96)
    torch.onnx.export(m, x, os.path.join(here, "tinynet.onnx"), opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      do_constant_folding=True)
    np.save(os.path.join(here, "tinynet-input.npy"), x.numpy())
    with torch.no_grad():
        np.save(os.path.join(here, "tinynet-expected.npy"), m(x).numpy())


if __name__ == "__main__":
    main()
