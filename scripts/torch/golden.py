#!/usr/bin/env python3
"""Golden vectors of the NCL++ and NCL losses, from the float64 PyTorch reference in ncl_loss.py.

  /usr/bin/python3 scripts/torch/golden.py              write test/fixtures/golden/ncl_loss_cases.json
  /usr/bin/python3 scripts/torch/golden.py --check F    compare the reference with the cases of F (same layout,
                                                        modes 'official' / 'paper'); exit 1 past 1e-6 relative

Each case: K experts, T copies, B samples, C classes, numHard (C_hard, target included), lam (λ), classCounts,
logits (K × [T*B, C], copy-major rows), labels [T*B], and per semantics the six terms with their sum and the
gradient of the total with respect to every expert's logits. Semantics: 'official' / 'paper' (NCL++) and
'ncl-official' / 'ncl-paper' (NCL, CVPR 2022: no IntraCL, mutual sums / (K - 1)). Needs python3-torch (Debian).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ncl_loss import TERMS, loss  # noqa: E402

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "golden", "ncl_loss_cases.json")
SEMANTICS = {
    "official": ("official", "nclpp"),
    "paper": ("paper", "nclpp"),
    "ncl-official": ("official", "ncl"),
    "ncl-paper": ("paper", "ncl"),
}
# (K, T, B, C, numHard, lam, imbalance factor): two and three experts, one to four copies, small and large hard sets.
SHAPES = [
    (2, 2, 4, 10, 3, 0.6, 100),
    (2, 4, 3, 20, 6, 0.6, 50),
    (3, 1, 5, 8, 2, 1.0, 200),
    (3, 2, 4, 10, 3, 0.6, 100),
    (4, 2, 3, 12, 4, 0.6, 10),
]


def evaluate(case, semantics):
    mode, method = SEMANTICS[semantics]
    logits = [torch.tensor(z, requires_grad=True) for z in case["logits"]]
    y = torch.tensor(case["labels"])
    t = loss(logits, y, case["classCounts"], case["T"], case["numHard"], case["lam"], mode, method)
    t["total"].backward()
    return {k: float(t[k]) for k in TERMS + ["total"]}, [z.grad.tolist() for z in logits]


def make_case(i, K, T, B, C, num_hard, lam, imbalance):
    g = torch.Generator().manual_seed(1000 + i)
    counts = [max(1, round(500 * imbalance ** (-j / (C - 1)))) for j in range(C)]
    labels = torch.randint(0, C, (B,), generator=g).repeat(T)
    logits = [(2 * torch.randn(T * B, C, generator=g)).tolist() for _ in range(K)]
    case = {"K": K, "T": T, "B": B, "C": C, "numHard": num_hard, "lam": lam, "classCounts": counts}
    case.update({"logits": logits, "labels": labels.tolist(), "modes": {}})
    for s in SEMANTICS:
        terms, grad = evaluate(case, s)
        case["modes"][s] = {"terms": terms, "grad": grad}
    return case


def check(path):
    worst = 0.0
    cases = json.load(open(path))
    for c in cases:
        for s, want in c["modes"].items():
            terms, grad = evaluate(c, s)
            for k, v in want["terms"].items():
                worst = max(worst, abs(terms[k] - v) / max(1e-6, abs(v)))
            for gk, wk in zip(grad, want["grad"]):
                a, b = torch.tensor(gk), torch.tensor(wk)
                worst = max(worst, float((a - b).abs().max()) / max(1e-6, float(b.abs().max())))
    print(json.dumps({"file": path, "cases": len(cases), "maxRelErr": worst}))
    return worst < 1e-6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", metavar="FILE")
    a = ap.parse_args()
    if a.check:
        sys.exit(0 if check(a.check) else 1)
    cases = [make_case(i, *s) for i, s in enumerate(SHAPES)]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(cases, f)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
