"""The NCL++ and NCL losses in PyTorch, float64: the project's independent reference.

Written from the paper (Eq. 1-14), the authors' released code (lib/loss/loss.py of their NCL repository:
`NIL_NBOD_plus` / `NBOD_NCL_plus` for NCL++, `NIL_NBOD` / `NBOD` for NCL) and test/fixtures/golden/README.md, not
from the TypeScript sources. Used by golden.py (the golden vectors in test/fixtures/golden/) and reference_step.py
(whole training steps).

Semantics (`mode`):
  'official'  as the authors' code computes it: BIL^P = CE(b * mask, y); KL members p = softmax(b) with
              log(p + 1e-9); NCL++'s partial KL restricts p and log p to the hard set without renormalising;
              NCL's partial KL is between softmax(b * mask) (its `NBOD(inputs_HCM_balance)`).
  'paper'     Eq. 1-14 as written: BIL^P with each expert's own hard set and the softmax renormalised over it
              (Eq. 8-9); exact log-softmax; partial KL between p* renormalised over the shared hard set.
Collaboration (`method`): 'nclpp' divides each mutual sum by m(m-1)/2 (Eq. 4-5), 'ncl' by m-1 and has no IntraCL.
"""
import torch
import torch.nn.functional as F

EPS = 1e-9  # the authors' log(p + 1e-9)
TERMS = ["bil", "bil_partial", "intra", "intra_partial", "inter", "inter_partial"]


def hard_mask(z, y, num_hard):
    """Eq. 7: per row, the target plus the num_hard - 1 non-target classes with the largest raw logit. [N, C] 0/1."""
    other = z.detach().clone()
    other.scatter_(1, y[:, None], float("-inf"))
    m = torch.zeros_like(z)
    if num_hard > 1:
        m.scatter_(1, other.topk(num_hard - 1, dim=1).indices, 1.0)
    m.scatter_(1, y[:, None], 1.0)
    return m


def log_softmax_on(b, mask):
    """log p* (Eq. 8): log-softmax over the masked classes, 0 outside."""
    return torch.where(mask > 0, F.log_softmax(b.masked_fill(mask == 0, float("-inf")), 1), torch.zeros_like(b))


def member(b, mode, method, mask=None):
    """A KL member (p, log p) of balanced logits b, on all classes or on the hard set `mask`."""
    if mask is None:
        if mode == "paper":
            lp = F.log_softmax(b, 1)
            return lp.exp(), lp
        p = F.softmax(b, 1)
        return p, torch.log(p + EPS)
    if mode == "paper":
        lp = log_softmax_on(b, mask)
        return lp.exp() * mask, lp
    if method == "ncl":
        p = F.softmax(b * mask, 1)
        return p, torch.log(p + EPS)
    p = F.softmax(b, 1)
    return p * mask, torch.log(p + EPS) * mask


def kl(p, lp, lq):
    """sum_j p_j (log p_j - log q_j), mean over rows; 0 where p_j = 0."""
    t = torch.where(p > 0, p * (lp - lq), torch.zeros_like(p))
    return t.sum(1).mean()


def mutual(members, method):
    """Sum over ordered pairs i != j of KL(p_j || p_i), / (m(m-1)/2) for NCL++ or / (m-1) for NCL."""
    m = len(members)
    if m < 2:
        return members[0][0].new_zeros(())
    s = sum(kl(*members[j], members[i][1]) for i in range(m) for j in range(m) if i != j)
    return s / (m * (m - 1) / 2 if method == "nclpp" else m - 1)


def loss(logits, y, counts, T, num_hard, lam, mode="official", method="nclpp"):
    """The loss of K experts' logits (each [T*B, C], copy-major rows) with labels y [T*B]: a dict of the six
    weighted terms (TERMS) and their sum, 'total'."""
    logn = torch.log(torch.as_tensor(counts, dtype=logits[0].dtype))
    N = y.shape[0]
    B = N // T
    b = [z + logn for z in logits]
    mask = hard_mask(logits[0], y, num_hard)  # the shared support, from expert 0's raw logits
    intra_mask = mask[:B]  # IntraCL: the hard set of copy 0, for every copy
    t = {"bil": sum(F.cross_entropy(bk, y) for bk in b)}
    if mode == "paper":
        own = [hard_mask(z, y, num_hard) for z in logits]  # Eq. 9: each expert's own hard set
        t["bil_partial"] = sum(-(log_softmax_on(bk, mk).gather(1, y[:, None])).mean() for bk, mk in zip(b, own))
    else:
        t["bil_partial"] = sum(F.cross_entropy(bk * mask, y) for bk in b)
    t["inter"] = lam * mutual([member(bk, mode, method) for bk in b], method)
    t["inter_partial"] = lam * mutual([member(bk, mode, method, mask) for bk in b], method)
    t["intra"] = logits[0].new_zeros(())
    t["intra_partial"] = logits[0].new_zeros(())
    if method == "nclpp":
        for bk in b:
            copies = [bk[i * B : (i + 1) * B] for i in range(T)]
            t["intra"] = t["intra"] + lam * mutual([member(c, mode, method) for c in copies], method)
            t["intra_partial"] = t["intra_partial"] + lam * mutual(
                [member(c, mode, method, intra_mask) for c in copies], method
            )
    t["total"] = sum(t[k] for k in TERMS)
    return t
