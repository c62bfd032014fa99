#!/usr/bin/env python3
"""An independent PyTorch reference of ncl-lab's training step, for test/torch-reference.test.ts.

Written from the paper, the authors' CIFAR code and ../shared/golden/README.md, not from the TypeScript sources:
  - CIFAR ResNet (option-A shortcuts, BN, ReLU, global average pooling, linear head), NCHW, torch.nn.functional;
  - the NCL++ loss as the authors' code computes it ('official' semantics of the golden README);
  - torch.optim.SGD (momentum, weight decay, dampening 0) and F.batch_norm's running statistics (momentum 0.1).
Everything runs in float64, from the float32 initial weights the TypeScript side exports; the same steps are then
run again in float32, to tell the caller how far float32 rounding alone moves the result.

  reference_step.py --golden FILE   check this script's loss against the golden vectors (official mode); prints
                                    one JSON line {"cases": n, "maxRelErr": e}; exit 1 if a term or gradient is off
  reference_step.py < step.json     run the steps described on stdin in float64 and in float32; prints
                                    {"float64": run_steps(...), "float32": run_steps(...)} as JSON
"""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)  # the golden check and the loss's own constants

EPS = 1e-9  # the authors' log(p + 1e-9)


# ---------------------------------------------------------------- the loss ('official': the authors' code)
def hard_mask(z, y, num_hard):
    """Eq. 7: per row, the target plus the num_hard - 1 non-target classes with the largest raw logit. [N, C] 0/1."""
    other = z.detach().clone()
    other.scatter_(1, y[:, None], float("-inf"))
    top = other.topk(num_hard - 1, dim=1).indices
    m = torch.zeros_like(z)
    m.scatter_(1, top, 1.0)
    m.scatter_(1, y[:, None], 1.0)
    return m


def kl(p, logp, logq, mask=None):
    """sum_j p_j (log p_j - log q_j), mean over rows; restricted to `mask` when given."""
    t = p * (logp - logq)
    if mask is not None:
        t = t * mask
    return t.sum(1).mean()


def mutual(members, lam, mask=None):
    """lam * sum over ordered pairs i != j of KL(p_j || p_i) / (m (m - 1) / 2); members: [(p, log(p + eps))]."""
    m = len(members)
    if m < 2:
        return members[0][0].sum() * 0
    s = 0
    for i in range(m):
        for j in range(m):
            if i != j:
                pj, lpj = members[j]
                _, lpi = members[i]
                s = s + kl(pj, lpj, lpi, mask)
    return lam * s / (m * (m - 1) / 2)


def ncl_loss(logits, y, counts, T, num_hard, lam):
    """NCL++ (Eq. 10-14) on K experts' logits, each [T*B, C] copy-major; y [T*B]. Returns a dict of scalars."""
    logn = torch.log(torch.as_tensor(counts, dtype=logits[0].dtype))
    N = y.shape[0]
    B = N // T
    b = [z + logn for z in logits]
    mask = hard_mask(logits[0], y, num_hard)  # one shared support, from expert 0
    intra_mask = mask[:B].repeat(T, 1)  # IntraCL: the hard set of copy 0 for every copy
    p = [F.softmax(bk, 1) for bk in b]
    logp = [torch.log(pk + EPS) for pk in p]
    terms = {
        "bil": sum(F.cross_entropy(bk, y) for bk in b),
        "bil_partial": sum(F.cross_entropy(bk * mask, y) for bk in b),
        "inter": mutual(list(zip(p, logp)), lam),
        "inter_partial": mutual(list(zip(p, logp)), lam, mask),
        "intra": 0,
        "intra_partial": 0,
    }
    for pk, lpk in zip(p, logp):
        copies = [(pk[t * B : (t + 1) * B], lpk[t * B : (t + 1) * B]) for t in range(T)]
        terms["intra"] = terms["intra"] + mutual(copies, lam)
        terms["intra_partial"] = terms["intra_partial"] + mutual(copies, lam, intra_mask[:B])
    terms["total"] = sum(terms[k] for k in list(terms))
    return terms


def check_golden(path):
    cases = json.load(open(path))
    worst = 0.0
    for c in cases:
        want = c["modes"]["official"]
        logits = [torch.tensor(z, requires_grad=True) for z in c["logits"]]
        y = torch.tensor(c["labels"])
        terms = ncl_loss(logits, y, c["classCounts"], c["T"], c["numHard"], c["lam"])
        terms["total"].backward()
        for name, v in want["terms"].items():
            got = float(terms[name])
            worst = max(worst, abs(got - v) / max(1e-6, abs(v)))
        for g, zk in zip(want["grad"], logits):
            g = torch.tensor(g)
            worst = max(worst, float((zk.grad - g).abs().max() / max(1e-6, float(g.abs().max()))))
    print(json.dumps({"cases": len(cases), "maxRelErr": worst}))
    return worst < 1e-6


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
    """spec: {K, T, blocks, numHard, lambda, momentum, weightDecay, classCounts, weights: {name: [shape, data]},
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
        terms = ncl_loss(net(x), y, spec["classCounts"], spec["T"], spec["numHard"], spec["lambda"])
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
