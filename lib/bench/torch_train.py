"""PyTorch reference for `deno task bench train --vs-torch`.

Times full MobileNetV2 training steps (forward, distillation loss against fixed teacher logits,
backward, AdamW) on CPU in channels_last, the same configuration as the Deno benchmark, and
prints one JSON line: {"img_per_s": ..., "step_s": [...], "threads": ..., "torch": ...}.
The network follows Hugging Face's MobileNetV2 (width multiplier, make_divisible(8), ReLU6,
inverted residuals, 1280-wide head); TF "SAME" padding is applied with F.pad like HF does.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


class TFPadConv(nn.Module):
    """Conv + BN (+ ReLU6) with TF 'SAME' padding, as HF's MobileNetV2ConvLayer."""

    def __init__(self, cin, cout, k, stride=1, groups=1, act=True):
        super().__init__()
        self.k, self.stride = k, stride
        self.conv = nn.Conv2d(cin, cout, k, stride, 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.act = nn.ReLU6() if act else nn.Identity()

    def forward(self, x):
        if self.k > 1:
            h, w = x.shape[-2:]
            ph = max(self.k - (self.stride if h % self.stride == 0 else h % self.stride), 0)
            pw = max(self.k - (self.stride if w % self.stride == 0 else w % self.stride), 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return self.act(self.bn(self.conv(x)))


class Block(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        mid = make_divisible(cin * expand)
        self.expand = TFPadConv(cin, mid, 1) if expand != 1 else None
        mid = mid if expand != 1 else cin
        self.dw = TFPadConv(mid, mid, 3, stride, groups=mid)
        self.project = TFPadConv(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        h = self.expand(x) if self.expand is not None else x
        h = self.project(self.dw(h))
        return x + h if self.residual else h


class MobileNetV2(nn.Module):
    def __init__(self, num_labels=3, width=1.0):
        super().__init__()
        d = lambda c: make_divisible(c * width)
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1)]
        layers = [TFPadConv(3, d(32), 3, 2)]
        cin = d(32)
        for t, c, n, s in cfg:
            for i in range(n):
                layers.append(Block(cin, d(c), s if i == 0 else 1, t))
                cin = d(c)
        head = make_divisible(1280 * width) if width > 1.0 else 1280
        layers.append(TFPadConv(cin, head, 1))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.8)
        self.classifier = nn.Linear(head, num_labels)

    def forward(self, x):
        return self.classifier(self.dropout(self.features(x).mean((2, 3))))


def distillation_loss(s, t, y, temperature=2.0, lam=0.5):
    ce = F.cross_entropy(s, y)
    kd = F.kl_div(F.log_softmax(s / temperature, -1), F.softmax(t / temperature, -1),
                  reduction="batchmean") * temperature**2
    return (1 - lam) * ce + lam * kd


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = MobileNetV2(3, a.width).to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    x = torch.randn(a.batch, 3, a.size, a.size).to(memory_format=torch.channels_last)
    t = torch.randn(a.batch, 3) * 3
    y = torch.randint(0, 3, (a.batch,))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = distillation_loss(model(x), t, y)
        loss.backward()
        opt.step()
        assert math.isfinite(loss.item())
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({"img_per_s": a.batch / med, "step_s": times, "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
