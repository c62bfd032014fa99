#!/usr/bin/env python3
"""PyTorch CPU baseline for `ncl bench`: training steps/s of the same CIFAR ResNet on the same machine.

CIFAR ResNet (He et al. 2016) with option-A shortcuts, as in the authors' `resnet_cifar.py` (LDAM-DRW / NCL):
3x3 stem, three stages of n basic blocks (16w/32w/64w channels), global average pooling, linear head.
One step = forward, softmax cross-entropy, backward, SGD (momentum 0.9, weight decay 2e-4) on random data.
With --method nclpp: K expert networks (--experts) on T copies of each image (--copies; batch x T rows), the
NCL++ loss of scripts/torch/ncl_loss.py ('official' semantics, lambda 0.6, C_hard = max(2, round(0.3 C)), class
counts long-tailed at IF 100), as `ncl bench --method nclpp`. img/s counts images (the batch), not rows.

    /usr/bin/python3 scripts/bench_torch.py                      # ResNet-32, 100 classes, batch 128, 2 threads
    /usr/bin/python3 scripts/bench_torch.py --json               # one JSON line
    /usr/bin/python3 scripts/bench_torch.py --model mini         # ResNet-8 width 16, 28x28x1, 10 classes
    /usr/bin/python3 scripts/bench_torch.py --model mini --batch 64 --experts 2 --method nclpp --copies 2

Debian: `apt-get install -y python3-torch` (torch 1.13 CPU); run it with /usr/bin/python3 if another Python
comes first on PATH.
"""
import argparse
import json
import statistics
import sys
import time

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

BLOCKS = {"resnet8": 1, "resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9}


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            p = cout // 4  # option A: subsample by 2, zero-pad planes/4 channels on each side
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p), "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, n, num_classes, in_channels=3, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage, cout in enumerate([width, 2 * width, 4 * width]):
            for b in range(n):
                layers.append(BasicBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet32", help="resnet8|20|32|44|56, or mini (resnet8 w16 28x28x1 10 cls)")
    ap.add_argument("--classes", type=int, default=None)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--in-channels", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--experts", type=int, default=1, help="K expert networks (the loss sums over them)")
    ap.add_argument("--method", default="ce", choices=["ce", "nclpp"])
    ap.add_argument("--copies", type=int, default=1, help="T copies per image (NCL++): batch x T rows per step")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    a = ap.parse_args()

    mini = a.model == "mini"
    name = "resnet8" if mini else a.model
    classes = a.classes or (10 if mini else 100)
    size = a.size or (28 if mini else 32)
    cin = a.in_channels or (1 if mini else 3)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    experts = [ResNetCifar(BLOCKS[name], classes, cin, a.width).train() for _ in range(a.experts)]
    params = [p for m in experts for p in m.parameters()]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=2e-4)
    rows = a.batch * a.copies
    x = torch.randn(rows, cin, size, size)
    y = torch.randint(0, classes, (a.batch,)).repeat(a.copies)  # copy-major: the T copies share a label
    counts = [round(500 * 0.01 ** (i / max(1, classes - 1))) for i in range(classes)]
    num_hard = min(classes, max(2, round(0.3 * classes)))
    if a.method == "nclpp":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch"))
        from ncl_loss import loss as ncl_loss

        def objective(logits):
            return ncl_loss(logits, y, counts, a.copies, num_hard, 0.6, "official", "nclpp")["total"]

    else:

        def objective(logits):
            return sum(F.cross_entropy(z, y) for z in logits)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = objective([m(x) for m in experts])
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times, cpu = [], []
    for _ in range(a.steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    ms = statistics.median(times) * 1000
    best = min(times) * 1000
    r = {
        "backend": "pytorch-cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": name,
        "classes": classes,
        "batch": a.batch,
        "experts": a.experts,
        "method": a.method,
        "copies": a.copies,
        "msPerStep": round(ms, 2),
        "imgPerSec": round(a.batch * 1000 / ms, 1),
        "bestImgPerSec": round(a.batch * 1000 / best, 1),
        # CPU time of all threads per step: on a shared machine, img/s an idle machine would give is at most
        # batch / (cpuMsPerStep / threads) (perfect scaling over the threads)
        "cpuMsPerStep": round(statistics.median(cpu) * 1000, 2),
        "steps": a.steps,
    }
    if a.json:
        print(json.dumps(r))
    else:
        print(
            f"pytorch {r['torch']} cpu threads={r['threads']} {name} classes={classes} batch={a.batch} "
            f"experts={a.experts} {a.method} copies={a.copies}: "
            f"{r['imgPerSec']} img/s (median of {a.steps}), best {r['bestImgPerSec']} img/s, {ms:.1f} ms/step"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
