/**
 * The two semantics of the NCL++ loss. They agree on everything global (BSCE, the balanced probabilities, which
 * classes are hard) and differ only in how the partial ("hard category") terms are formed and in a 1e-9 inside the
 * logarithm of the KL terms.
 *
 * `'official'`, as the authors' released code computes it (the default: it is what produced the paper's numbers):
 *   - L_bil^P = Σ_k CE(b_k ⊙ mask, y): non-hard balanced logits are multiplied by 0, so they stay in the softmax with
 *     logit 0 instead of being removed;
 *   - every probability for a KL term is p = softmax(b) over all C classes, with log p computed as log(p + 1e-9);
 *   - the partial KL restricts those full-softmax probabilities to the hard set *without renormalising*
 *     (so it is not a KL between distributions and can be negative).
 *
 * `'paper'`, Eq. 1-14 as written:
 *   - L_bil^P = −Σ_k log p*_y with p* the balanced softmax renormalised over each expert's own hard set (Eq. 8, 9);
 *   - global KL with the exact log-softmax;
 *   - partial KL between the renormalised p* of Eq. 8 on one shared hard set (Eq. 11, 13): a true KL, ≥ 0.
 *
 * With the hard set = all classes both modes' partial terms equal the global ones; with a real subset they differ:
 * 'official' keeps the non-hard classes in the CE softmax (as logit 0) and does not renormalise the KL terms.
 */
export const LOSS_MODES = ['official', 'paper'] as const;
export type LossMode = (typeof LOSS_MODES)[number];

/** The ε in log(p + ε) of the authors' code ('official' mode). */
export const OFFICIAL_LOG_EPS = 1e-9;
