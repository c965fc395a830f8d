"""PyTorch reference for `deno task bench train|models --vs-torch`.

Times one model/task in PyTorch on CPU and prints one JSON line
{"img_per_s": ..., "step_s": [...], "threads": ..., "torch": ..., "model": ..., "task": ...}.

Models:
  hf           Hugging Face MobileNetV2 (width multiplier, make_divisible(8), ReLU6, inverted
               residuals, 1280-wide head) with TF "SAME" padding applied by F.pad, as HF does
               (and as kd-vision's MobileNetV2 pads).
  torchvision  torchvision.models.mobilenet_v2 (symmetric padding inside the convolution).
  vit_b16      torchvision.models.vit_b_16 (ViT-Base/16 shapes, same as google/vit-base-patch16-224).

Tasks:
  train-online the same step with a teacher forward (eval mode, no grad) on every batch.
  train        the trainer's step: forward in train mode, distillation loss against cached teacher
               logits ((1-lambda)*CE + lambda*T^2*KL batchmean), backward, clip_grad_norm_, AdamW.
  infer        eval mode under torch.inference_mode (no autograd).

Inputs are channels_last. Thread count, OMP wait policy and glibc malloc tunables are the
caller's (environment), since libgomp and glibc read them when the process starts.
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


class HFMobileNetV2(nn.Module):
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
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(head, num_labels)

    def forward(self, x):
        return self.classifier(self.dropout(self.features(x).mean((2, 3))))


def build(name, labels, width, size):
    if name == "hf":
        return HFMobileNetV2(labels, width)
    import torchvision
    if name == "torchvision":
        return torchvision.models.mobilenet_v2(num_classes=labels, width_mult=width)
    if name == "vit_b16":
        return torchvision.models.vit_b_16(num_classes=labels, image_size=size)
    raise SystemExit(f"unknown model {name}")


def distillation_loss(s, t, y, temperature, lam):
    ce = F.cross_entropy(s, y)
    kd = F.kl_div(F.log_softmax(s / temperature, -1), F.softmax(t / temperature, -1),
                  reduction="batchmean") * temperature**2
    return (1 - lam) * ce + lam * kd


def blas_library():
    """The BLAS shared library this process mapped (Debian's reference libblas is ~50x slower
    than OpenBLAS on the ViT's matmuls; the caller installs libopenblas0-openmp)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.split()[-1]}
        return ",".join(sorted(paths)) or "none"
    except OSError:
        return "unknown"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="hf", choices=["hf", "torchvision", "vit_b16"])
    p.add_argument("--task", default="train", choices=["train", "train-online", "infer"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--labels", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--temperature", type=float, default=5.0)
    p.add_argument("--lam", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--clip-norm", type=float, default=5.0)
    p.add_argument("--teacher-size", type=int, default=224)
    p.add_argument("--teacher-labels", type=int, default=1001)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.model, a.labels, a.width, a.size).to(memory_format=torch.channels_last)
    x = torch.randn(a.batch, 3, a.size, a.size).to(memory_format=torch.channels_last)
    times, cpu = [], []
    if a.task in ("train", "train-online"):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
        t = torch.randn(a.batch, a.labels) * 3
        y = torch.arange(a.batch) % a.labels
        params = [q for q in model.parameters() if q.requires_grad]
        teacher = tx = None
        if a.task == "train-online":
            # The online teacher: the same MobileNetV2 variant at width 1 with an ImageNet head,
            # in eval mode on its own input size; its first logits are the targets.
            teacher = build(a.model, a.teacher_labels, 1.0, a.teacher_size)
            teacher = teacher.to(memory_format=torch.channels_last).eval()
            tx = torch.randn(a.batch, 3, a.teacher_size, a.teacher_size)
            tx = tx.to(memory_format=torch.channels_last)
        for i in range(a.warmup + a.steps):
            t0, c0 = time.perf_counter(), time.thread_time()
            if teacher is not None:
                with torch.no_grad():
                    t = teacher(tx)[:, :a.labels]
            opt.zero_grad(set_to_none=True)
            loss = distillation_loss(model(x), t, y, a.temperature, a.lam)
            loss.backward()
            if a.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, a.clip_norm)
            opt.step()
            assert math.isfinite(loss.item())
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
    else:
        model.eval()
        with torch.inference_mode():
            for i in range(a.warmup + a.steps):
                t0, c0 = time.perf_counter(), time.thread_time()
                out = model(x)
                assert math.isfinite(float(out.sum()))
                if i >= a.warmup:
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.thread_time() - c0)
    med = statistics.median(times)
    # Main-thread CPU seconds per step: robust to other processes on the cores (wall time is not).
    print(json.dumps({"img_per_s": a.batch / med, "step_s": times,
                      "main_cpu_img_per_s": a.batch / statistics.median(cpu), "threads": a.threads,
                      "blas": blas_library(), "torch": torch.__version__, "model": a.model,
                      "task": a.task}))


if __name__ == "__main__":
    main()
