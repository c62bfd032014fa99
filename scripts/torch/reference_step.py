#!/usr/bin/env python3
"""An independent PyTorch reference of ncl-lab's training step, for test/torch-reference.test.ts.

Written from the paper, the authors' CIFAR code and test/fixtures/golden/README.md, not from the TypeScript sources:
  - CIFAR ResNet (option-A shortcuts, BN, ReLU, global average pooling, linear head), NCHW, torch.nn.functional;
  - the NCL++ or NCL loss as the authors' code computes it ('official' semantics, ncl_loss.py);
  - torch.optim.SGD (momentum, weight decay, dampening 0) and F.batch_norm's running statistics (momentum 0.1).
Everything runs in float64, from the float32 initial weights the TypeScript side exports; the same steps are then
run again in float32, to tell the caller how far float32 rounding alone moves the result.

  reference_step.py --golden FILE   check the reference loss against golden vectors (every semantics in FILE);
                                    prints one JSON line {"cases": n, "maxRelErr": e}; exit 1 if a term or gradient
                                    is off
  reference_step.py < step.json     run the steps described on stdin in float64 and in float32; prints
                                    {"float64": run_steps(...), "float32": run_steps(...)} as JSON
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden  # noqa: E402
from ncl_loss import loss as ncl_loss  # noqa: E402

torch.set_default_dtype(torch.float64)  # the golden check and the loss's own constants



def check_golden(path):
    """The reference loss (ncl_loss.py) against a golden file: golden.py's check."""
    return golden.check(path)


# ---------------------------------------------------------------- the model (NCHW)
class Net:
    """K CIFAR ResNets read from ncl-lab's parameter names (`expert{k}.stem.w`, `expert{k}.layer1.0.conv1.w`, ...)."""

    def __init__(self, weights, K, blocks, dtype):
        self.w = {}
        for name, (shape, data) in weights.items():
            t = torch.tensor(data, dtype=dtype).reshape(shape)
            if len(shape) == 4:  # [KH, KW, Cin, Cout] -> [Cout, Cin, KH, KW]
                t = t.permute(3, 2, 0, 1).contiguous()
            self.w[name] = t.requires_grad_(not name.endswith(("running_mean", "running_var")))
        self.K, self.blocks = K, blocks

    def params(self):
        return [t for t in self.w.values() if t.requires_grad]

    def bn(self, x, name, training):
        w = self.w
        return F.batch_norm(x, w[name + ".running_mean"], w[name + ".running_var"], w[name + ".gamma"],
                            w[name + ".beta"], training=training, momentum=0.1, eps=1e-5)

    def expert(self, x, k, training):
        w, pre = self.w, f"expert{k}."
        h = F.relu(self.bn(F.conv2d(x, w[pre + "stem.w"], padding=1), pre + "stem.bn", training))
        for stage in range(3):
            for i in range(self.blocks):
                n = f"{pre}layer{stage + 1}.{i}"
                stride = 2 if stage > 0 and i == 0 else 1
                conv1 = w[n + ".conv1.w"]
                o = F.relu(self.bn(F.conv2d(h, conv1, stride=stride, padding=1), n + ".bn1", training))
                o = self.bn(F.conv2d(o, w[n + ".conv2.w"], padding=1), n + ".bn2", training)
                cin, cout = h.shape[1], conv1.shape[0]
                if stride != 1 or cin != cout:  # option A: subsample, zero-pad cout/4 channels on each side
                    pad = (cout - cin) // 2
                    s = F.pad(h[:, :, ::2, ::2], (0, 0, 0, 0, pad, cout - cin - pad))
                else:
                    s = h
                h = F.relu(o + s)
        f = h.mean((2, 3))
        return f @ w[pre + "head.w"] + w[pre + "head.b"]

    def __call__(self, x, training=True):
        return [self.expert(x, k, training) for k in range(self.K)]


def run_steps(spec, dtype=torch.float64):
    """spec: {method, K, T, blocks, numHard, lambda, momentum, weightDecay, classCounts, weights: {name: [shape, data]},
    steps: [{lr, x: [N, H, W, C] flat, shape, y}]} -> {steps: [{terms}], weights: {name: [shape, data]} (NHWC layout)}."""
    net = Net(spec["weights"], spec["K"], spec["blocks"], dtype)
    opt = torch.optim.SGD(net.params(), lr=1.0, momentum=spec["momentum"], weight_decay=spec["weightDecay"])
    out = []
    for st in spec["steps"]:
        x = torch.tensor(st["x"], dtype=dtype).reshape(st["shape"]).permute(0, 3, 1, 2)
        y = torch.tensor(st["y"])
        for g in opt.param_groups:
            g["lr"] = st["lr"]
        opt.zero_grad()
        terms = ncl_loss(
            net(x), y, spec["classCounts"], spec["T"], spec["numHard"], spec["lambda"], "official", spec["method"]
        )
        terms["total"].backward()
        opt.step()
        out.append({k: float(v) for k, v in terms.items()})
    weights = {}
    for name, t in net.w.items():
        t = t.detach()
        if t.dim() == 4:
            t = t.permute(2, 3, 1, 0)
        weights[name] = [list(t.shape), t.reshape(-1).tolist()]
    return {"steps": out, "weights": weights}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--golden":
        sys.exit(0 if check_golden(sys.argv[2]) else 1)
    spec = json.load(sys.stdin)
    json.dump({"float64": run_steps(spec), "float32": run_steps(spec, torch.float32)}, sys.stdout)
