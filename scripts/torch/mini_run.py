#!/usr/bin/env python3
"""One `mini` training run in PyTorch, to tell the dataset from our trainer (README: "The mini protocol at this speed").

The protocol as lib/src/train/protocols.ts defines `mini`: Fashion-MNIST-LT IF 100 (the training subset is read from
a subset.json as `ncl data subset` writes it, so both trainers see the same images), CIFAR ResNet-8 width 16, SimAug (random crop of
the 4-pixel zero-padded image, horizontal flip), batch 128, SGD 0.1 momentum 0.9 wd 5e-4, 20 epochs, 1 warm-up
epoch then cosine to 0 (per step), NCL++ with K = 2 experts and T = 2 copies (λ 0.6, C_hard 3, the authors'
semantics) or BSCE with one network. The model and loss are scripts/torch/reference_step.py's, whose two training
steps test/torch-reference.test.ts checks against ours; the data pipeline, initialisation and RNG are PyTorch's own.

  npx ncl data subset fashion-mnist --if 100 --seed 0 -o .scratch/lt-if100-seed0.json   # a run's subset (its config)
  /usr/bin/python3 scripts/torch/mini_run.py --method nclpp --subset .scratch/lt-if100-seed0.json \\
      --seed 0 [--epochs 20] [--threads 1] [--out FILE.json]
Prints one JSON line: {method, seed, epochs, top1 (expert 1), experts, ensemble, seconds}.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_step import Net, ncl_loss  # noqa: E402

MEAN, STD, PAD = 0.286, 0.353, 4  # lib/src/data/datasets.ts NORMALIZATION, augment.ts SIMAUG_PAD


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(root):
    def part(name):
        return read_idx(os.path.join(root, f"{name}-images-idx3-ubyte.gz")), read_idx(
            os.path.join(root, f"{name}-labels-idx1-ubyte.gz")
        )

    return part("train"), part("t10k")


def init_weights(K, width, classes, gen):
    """Kaiming-normal (fan_in, ReLU gain) convs and head, zero bias, BN γ = 1, β = 0: NHWC names as ncl-lab's."""
    w = {}

    def conv(name, cin, cout):
        t = torch.randn(3, 3, cin, cout, generator=gen) * math.sqrt(2 / (9 * cin))
        w[name] = [list(t.shape), t.reshape(-1).tolist()]

    def bn(name, c):
        for k, v in (("gamma", 1.0), ("beta", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            w[f"{name}.{k}"] = [[c], [v] * c]

    for k in range(K):
        p = f"expert{k}."
        conv(p + "stem.w", 1, width)
        bn(p + "stem.bn", width)
        cin = width
        for s, cout in enumerate((width, 2 * width, 4 * width)):
            n = f"{p}layer{s + 1}.0"
            conv(n + ".conv1.w", cin, cout)
            bn(n + ".bn1", cout)
            conv(n + ".conv2.w", cout, cout)
            bn(n + ".bn2", cout)
            cin = cout
        h = torch.randn(cin, classes, generator=gen) * math.sqrt(2 / cin)
        w[p + "head.w"] = [list(h.shape), h.reshape(-1).tolist()]
        w[p + "head.b"] = [[classes], [0.0] * classes]
    return w


def simaug(images, rng):
    """[n, 28, 28] uint8 -> [n, 1, 28, 28] float32, normalised: random crop of the zero-padded image, random flip."""
    n, H, W = images.shape
    padded = np.zeros((n, H + 2 * PAD, W + 2 * PAD), np.uint8)
    padded[:, PAD : PAD + H, PAD : PAD + W] = images
    out = np.empty((n, H, W), np.uint8)
    dy = rng.integers(0, 2 * PAD + 1, n)
    dx = rng.integers(0, 2 * PAD + 1, n)
    flip = rng.random(n) < 0.5
    for i in range(n):
        crop = padded[i, dy[i] : dy[i] + H, dx[i] : dx[i] + W]
        out[i] = crop[:, ::-1] if flip[i] else crop
    return torch.from_numpy((out.astype(np.float32) / 255 - MEAN) / STD)[:, None]


def lr_at(epoch, frac, epochs, lr=0.1, warmup=1):
    if epoch + frac < warmup:
        return lr * min(warmup, epoch + 1) / warmup
    t = min(1.0, max(0.0, (epoch + frac - warmup) / (epochs - warmup)))
    return lr * (1 + math.cos(math.pi * t)) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--method", choices=["nclpp", "bsce"], required=True)
    ap.add_argument("--subset", required=True, help="a subset.json from `ncl data subset` (the long-tailed training indices)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    try:
        subset = json.load(open(a.subset))
    except (OSError, ValueError) as e:
        sys.exit(f"mini_run.py: --subset {a.subset}: {e}")
    (xtr, ytr), (xte, yte) = load(a.data)
    idx = np.asarray(subset["indices"])
    xs, ys = xtr[idx], torch.from_numpy(ytr[idx].astype(np.int64))
    counts = np.bincount(ytr[idx], minlength=10).tolist()
    K, T = (2, 2) if a.method == "nclpp" else (1, 1)
    net = Net(init_weights(K, 16, 10, torch.Generator().manual_seed(a.seed)), K, 1, torch.float32)
    opt = torch.optim.SGD(net.params(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    B = 128
    steps = len(idx) // B
    logn = torch.log(torch.tensor(counts, dtype=torch.float32))
    t0 = time.time()
    for epoch in range(a.epochs):
        order = rng.permutation(len(idx))
        for s in range(steps):
            b = order[s * B : (s + 1) * B]
            x = torch.cat([simaug(xs[b], rng) for _ in range(T)])
            y = ys[b].repeat(T)
            for g in opt.param_groups:
                g["lr"] = lr_at(epoch, s / steps, a.epochs)
            opt.zero_grad()
            logits = net(x)
            if a.method == "nclpp":
                loss = ncl_loss(logits, y, counts, T, 3, 0.6)["total"]
            else:
                loss = F.cross_entropy(logits[0] + logn, y)
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{a.epochs} loss {loss.item():.3f} {time.time() - t0:.0f}s", file=sys.stderr)
    with torch.no_grad():
        x = torch.from_numpy((xte.astype(np.float32) / 255 - MEAN) / STD)[:, None]
        logits = [torch.cat(z) for z in zip(*[net(x[i : i + 1000], training=False) for i in range(0, len(x), 1000)])]
        y = torch.from_numpy(yte.astype(np.int64))
        experts = [float((z.argmax(1) == y).float().mean()) for z in logits]
        ens = float((sum(logits).argmax(1) == y).float().mean())
    r = {"method": a.method, "seed": a.seed, "epochs": a.epochs, "subset": a.subset, "top1": experts[0],
         "experts": experts, "ensemble": ens, "seconds": round(time.time() - t0)}
    line = json.dumps(r)
    print(line)
    if a.out:
        with open(a.out, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
