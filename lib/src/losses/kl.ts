/**
 * KL divergence and the mutual (online-distillation) term shared by InterCL and IntraCL.
 *
 *   KL(p‖q) = Σ_j p_j (log p_j − log q_j), averaged over rows; where p_j = 0 the term is 0.
 *   mutual({p_1..p_m}) = Σ_{i≠j} KL(p_j‖p_i) / (m(m−1)/2)        (the bracket of Eq. 4 and Eq. 5; 0 for m = 1)
 *   NCL (CVPR 2022) divides the same sum by m − 1 instead (`NBOD` in the authors' lib/loss/loss.py); `NBOD_NCL_plus`,
 *   their NCL++ code, by m(m−1)/2. The two agree at m = 2.
 *
 * Every member is both teacher and student: gradients flow into both sides of each KL (no stop-gradient), as in
 * deep mutual learning and the authors' code. A member is a `Distribution`: probabilities plus their logarithms,
 * built by `distribution` (all classes) or `partialDistribution` (the hard set), in either LossMode.
 */
import { tf } from '../tf';
import { partialLogSoftmax } from './hcm';
import { type LossMode, OFFICIAL_LOG_EPS } from './mode';

/** Row-wise probabilities and their logarithms, both [N, C] (or [K, N, C]: K members stacked). */
export interface Distribution {
  prob: tf.Tensor;
  logProb: tf.Tensor;
}

/**
 * softmax(logits) over all C classes as a KL member. Pass balanced logits b (Eq. 2) for the balanced distillation of
 * Eq. 4-5, raw z for the "w/o balanced scale" ablation (Fig. 12a).
 *   'paper':    log p = exact log-softmax;   'official': log p = log(p + 1e-9).
 * @param logits [N, C]. @returns { prob, logProb }, [N, C] each.
 */
export function distribution(logits: tf.Tensor, mode: LossMode): Distribution {
  return tf.tidy(() => {
    if (mode === 'paper') {
      const logProb = tf.logSoftmax(logits);
      return { prob: tf.exp(logProb), logProb };
    }
    const prob = tf.softmax(logits);
    return { prob, logProb: tf.log(tf.add(prob, OFFICIAL_LOG_EPS)) };
  });
}

/**
 * A KL member on the hard set (the partial view of Eq. 11, 13).
 *   'paper':    p* of Eq. 8, softmax renormalised over the mask (0 outside; exact logs inside);
 *   'official': the full-softmax p and log(p + 1e-9), both multiplied by the mask (not renormalised).
 * @param logits [N, C] (balanced b, or raw z; or [K, N, C]). @param mask [N, C] 0/1 hard set.
 * @param full 'official' only: `distribution(logits, 'official')` when already computed.
 * @returns { prob, logProb }, the shape of logits, 0 outside the mask.
 */
export function partialDistribution(
  logits: tf.Tensor,
  mask: tf.Tensor,
  mode: LossMode,
  full?: Distribution,
): Distribution {
  return tf.tidy(() => {
    if (mode === 'paper') {
      const logProb = partialLogSoftmax(logits, mask);
      return { prob: tf.mul(tf.exp(logProb), mask), logProb };
    }
    const { prob, logProb } = full ?? distribution(logits, 'official');
    return { prob: tf.mul(prob, mask), logProb: tf.mul(logProb, mask) };
  });
}

/**
 * A KL member on the hard set as NCL's code forms it (`NBOD(inputs_HCM_balance)`): the softmax of the masked logits
 * b ⊙ mask over all C classes (non-hard classes stay in with logit 0), log(p + 1e-9). 'paper' mode uses p* of Eq. 8,
 * as `partialDistribution` does.
 * @param logits [N, C] (balanced b, or raw z). @param mask [N, C] 0/1 hard set. @returns { prob, logProb }, [N, C].
 */
export function maskedLogitsDistribution(logits: tf.Tensor, mask: tf.Tensor, mode: LossMode): Distribution {
  if (mode === 'paper') return partialDistribution(logits, mask, mode);
  return tf.tidy(() => {
    const { prob, logProb } = distribution(tf.mul(logits, mask), 'official');
    return { prob, logProb };
  });
}

/**
 * KL(p‖q) = Σ_j p_j (log p_j − log q_j), averaged over the N rows. Gradient flows into both p and q.
 * @param p, q distributions with [N, C] tensors. @returns scalar (≥ 0 for true distributions).
 */
export function klDivergence(p: Distribution, q: Distribution): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sum(tf.mul(p.prob, tf.sub(p.logProb, q.logProb)), 1)) as tf.Scalar);
}

/**
 * How the sum over ordered pairs is normalised: 'pairs' divides by m(m−1)/2 (NCL++, Eq. 4-5), 'peers' by m − 1
 * (NCL, CVPR 2022).
 */
export type MutualNorm = 'pairs' | 'peers';

/** The normaliser of a mutual term over m members. */
export function mutualDivisor(m: number, norm: MutualNorm): number {
  return norm === 'pairs' ? (m * (m - 1)) / 2 : m - 1;
}

/**
 * The summands of Σ over ordered pairs i ≠ j of Σ_rows KL(p_j‖p_i): p_j,c (log p_j,c − log p_i,c) for every pair,
 * [.., m, m, .., C], for members stacked on `axis` (members of one group along it, groups on the axes before it, rows
 * and classes after it). All pairs are one broadcast product, so the kernel count does not grow with m (the i = j
 * summands are exactly 0). Summing them over a hard set instead of all classes restricts the KL to it as the
 * authors' code does ('official').
 * @param prob, logProb stacked member distributions, e.g. [m, N, C] or [K, T, B, C] (axis 1).
 */
export function pairwiseKLTerms(prob: tf.Tensor, logProb: tf.Tensor, axis: number): tf.Tensor {
  return tf.tidy(() => {
    const student = tf.expandDims(logProb, axis); // [.., 1, m, ..]: the i of KL(p_j‖p_i)
    const teacherLog = tf.expandDims(logProb, axis + 1); // [.., m, 1, ..]
    const teacher = tf.expandDims(prob, axis + 1);
    return tf.mul(teacher, tf.sub(teacherLog, student));
  });
}

/**
 * Mutual distillation among m members: Σ over ordered pairs i ≠ j of KL(p_j‖p_i), divided by m(m−1)/2 (Eq. 4, 5
 * without λ) or, for NCL, by m − 1. Members must have the same shape. 0 for a single member.
 * @param members m distributions, [N, C] each, or one stacked [m, N, C]. @param norm 'pairs' (default) or 'peers'.
 * @returns scalar.
 */
export function mutualKL(
  members: Distribution | readonly Distribution[],
  norm: MutualNorm = 'pairs',
): tf.Scalar {
  return tf.tidy(() => {
    const pairs = mutualKLTerms(members, norm);
    return pairs ? (tf.div(tf.sum(pairs.terms), pairs.scale) as tf.Scalar) : tf.scalar(0);
  });
}

/**
 * The summands of `mutualKL` ([m, m, N, C], `pairwiseKLTerms`) and what their sum is divided by (rows × the
 * normaliser); null for a single member.
 */
export function mutualKLTerms(
  members: Distribution | readonly Distribution[],
  norm: MutualNorm,
): { terms: tf.Tensor; scale: number } | null {
  const { prob, logProb } = stacked(members);
  const [m, rows] = prob.shape;
  if (m < 2) return null;
  return { terms: pairwiseKLTerms(prob, logProb, 0), scale: rows * mutualDivisor(m, norm) };
}

/** Members as one Distribution stacked on axis 0 ([m, N, C]): a list is stacked, a stacked one passed through. */
export function stacked(members: Distribution | readonly Distribution[]): Distribution {
  if (!Array.isArray(members)) return members as Distribution;
  const list = members as readonly Distribution[];
  return { prob: tf.stack(list.map((d) => d.prob)), logProb: tf.stack(list.map((d) => d.logProb)) };
}
