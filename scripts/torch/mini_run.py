#!/usr/bin/env python3
"""One `mini` training run in PyTorch: the twin of ncl-lab's trainer (docs/protocols.md, "The PyTorch twin").

It reads the run's settings from a config.json as `ncl` writes it (method ce / bsce / nclpp, batch size, SGD lr,
momentum and weight decay, epochs, warm-up then cosine decay per step, K experts, T copies, λ, C_hard = max(2,
round(β·C))), and the long-tailed training subset from a subset.json as `ncl data subset` writes it, so both
trainers see the same images. Everything else is its own: the data pipeline (SimAug: random crop of the 4-pixel
zero-padded image, horizontal flip), Kaiming initialisation, NumPy / PyTorch RNG, torch.optim.SGD. The CIFAR ResNet
and the loss are scripts/torch/reference_step.py's and ncl_loss.py's (checked against ours step by step in
test/torch-reference.test.ts and against the golden vectors).

  scripts/torch/twin.sh [SEEDS] [METHODS]        all runs of the twin table (writes results/twin/*.json)
  /usr/bin/python3 scripts/torch/mini_run.py --config CONFIG.json --subset SUBSET.json [--threads 1] [--out F]
Prints one JSON line: {method, seed, epochs, top1 (expert 1), experts, ensemble, seconds, config}.
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
from ncl_loss import loss as ncl_loss  # noqa: E402
from reference_step import Net  # noqa: E402

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


def lr_at(epoch, frac, epochs, lr, warmup):
    if epoch + frac < warmup:
        return lr * min(warmup, epoch + 1) / warmup
    t = min(1.0, max(0.0, (epoch + frac - warmup) / (epochs - warmup)))
    return lr * (1 + math.cos(math.pi * t)) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="a run's config.json (ncl's TrainConfig: mini, method ce/bsce/nclpp)")
    ap.add_argument("--subset", required=True, help="a subset.json from `ncl data subset` (the long-tailed training indices)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "data", "fashion-mnist"))
    ap.add_argument("--out")
    a = ap.parse_args()
    try:
        c = json.load(open(a.config))
        subset = json.load(open(a.subset))
    except (OSError, ValueError) as e:
        sys.exit(f"mini_run.py: {e}")
    method, seed, o, lo = c["method"], c["seed"], c["optim"], c["loss"]
    if method not in ("ce", "bsce", "nclpp") or c["data"]["dataset"] != "fashion-mnist" or c["optim"]["schedule"] != "cosine":
        sys.exit(f"mini_run.py: --config {a.config}: the twin trains ce / bsce / nclpp on fashion-mnist with a cosine schedule")
    torch.set_num_threads(a.threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    (xtr, ytr), (xte, yte) = load(a.data)
    idx = np.asarray(subset["indices"])
    xs, ys = xtr[idx], torch.from_numpy(ytr[idx].astype(np.int64))
    C = 10
    counts = np.bincount(ytr[idx], minlength=C).tolist()
    K, T = c["model"]["numExperts"], lo["numCopies"]
    num_hard = lo["numHard"] or max(2, round(lo["beta"] * C))
    net = Net(init_weights(K, c["model"]["width"], C, torch.Generator().manual_seed(seed)), K, 1, torch.float32)
    opt = torch.optim.SGD(net.params(), lr=o["lr"], momentum=o["momentum"], weight_decay=o["weightDecay"])
    B = c["data"]["batchSize"]
    steps = len(idx) // B
    logn = torch.log(torch.tensor(counts, dtype=torch.float32))
    t0 = time.time()
    for epoch in range(o["epochs"]):
        order = rng.permutation(len(idx))
        for s in range(steps):
            b = order[s * B : (s + 1) * B]
            x = torch.cat([simaug(xs[b], rng) for _ in range(T)])
            y = ys[b].repeat(T)
            for g in opt.param_groups:
                g["lr"] = lr_at(epoch, s / steps, o["epochs"], o["lr"], o["warmupEpochs"])
            opt.zero_grad()
            logits = net(x)
            if method == "nclpp":
                loss = ncl_loss(logits, y, counts, T, num_hard, lo["lambda"], lo["mode"], "nclpp")["total"]
            else:
                shift = logn if method == "bsce" else 0
                loss = sum(F.cross_entropy(z + shift, y) for z in logits)
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{o['epochs']} loss {loss.item():.3f} {time.time() - t0:.0f}s", file=sys.stderr)
    with torch.no_grad():
        x = torch.from_numpy((xte.astype(np.float32) / 255 - MEAN) / STD)[:, None]
        logits = [torch.cat(z) for z in zip(*[net(x[i : i + 1000], training=False) for i in range(0, len(x), 1000)])]
        y = torch.from_numpy(yte.astype(np.int64))
        experts = [float((z.argmax(1) == y).float().mean()) for z in logits]
        ens = float((sum(logits).argmax(1) == y).float().mean())
    r = {"method": method, "seed": seed, "epochs": o["epochs"], "top1": experts[0], "experts": experts,
         "ensemble": ens, "seconds": round(time.time() - t0), "config": c}
    line = json.dumps(r)
    print(line)
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
