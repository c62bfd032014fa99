#!/usr/bin/env python3
"""PyTorch GPU baseline for scripts/gpu (ncl-lab on WebGPU): training img/s of the same CIFAR ResNet, same step.

CIFAR ResNet (He et al. 2016) with option-A shortcuts, as in the authors' `resnet_cifar.py` and in
scripts/bench_torch.py (the CPU baseline): 3x3 stem, three stages of n basic blocks (16w/32w/64w channels), global
average pooling, linear head. One step = forward, softmax cross-entropy, backward, SGD (momentum 0.9, weight decay
2e-4) on random data, float32, NCHW, eager mode.

Two timings, as scripts/gpu/entry.ts `bench` does them:
  - per step: each step waited for (torch.cuda.synchronize), median over --steps;
  - pipelined: --steps steps issued back to back, one synchronize at the end.
Each is run with cuDNN's TF32 convolutions allowed (PyTorch's default) and with strict float32 (--modes).

    python3 scripts/gpu/bench_torch_gpu.py --json              # ResNet-32, 100 classes, batch 128, cuda
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The model is the CPU baseline's (scripts/bench_torch.py): one definition for both.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_torch import BLOCKS, ResNetCifar  # noqa: E402


def run(a, mode):
    tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    model = ResNetCifar(BLOCKS[a.model], a.classes, 3, a.width).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    for _ in range(a.warmup):
        step()
    sync()
    warm_s = time.perf_counter() - t0
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step().item()
        sync()
        times.append(time.perf_counter() - t)
    p0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    sync()
    pipelined = (time.perf_counter() - p0) / a.steps
    ms = statistics.median(times) * 1000
    return {
        "mode": mode,
        "msPerStep": round(ms, 3),
        "imgPerSec": round(a.batch * 1000 / ms, 1),
        "bestImgPerSec": round(a.batch * 1000 / (min(times) * 1000), 1),
        "pipelinedMsPerStep": round(pipelined * 1000, 3),
        "pipelinedImgPerSec": round(a.batch / pipelined, 1),
        "warmupSeconds": round(warm_s, 3),
        "loss": float(loss.item()),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet32", choices=sorted(BLOCKS))
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=50, help="timed steps")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--modes", default="tf32,fp32", help="comma list of tf32 (PyTorch default) and fp32 (strict)")
    ap.add_argument("--cudnn-benchmark", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    a = ap.parse_args()
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("bench_torch_gpu: CUDA is not available to PyTorch here")
    r = {
        "kind": "torch",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "device": torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "cpu",
        "model": a.model,
        "classes": a.classes,
        "batch": a.batch,
        "steps": a.steps,
        "cudnnBenchmark": a.cudnn_benchmark,
        "runs": [run(a, m) for m in a.modes.split(",")],
    }
    if a.json:
        print(json.dumps(r))
    else:
        for x in r["runs"]:
            print(
                f"pytorch {r['torch']} {r['device']} {a.model} batch {a.batch} [{x['mode']}]: {x['imgPerSec']} img/s "
                f"({x['msPerStep']} ms/step, median of {a.steps}); pipelined {x['pipelinedImgPerSec']} img/s"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
