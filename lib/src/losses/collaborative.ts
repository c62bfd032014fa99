/**
 * Collaborative learning: online distillation among experts (InterCL) and among augmented copies (IntraCL).
 *
 *   Eq. 4   L_inter^G   = 2/(K(K−1)) Σ_k Σ_{q≠k} KL(p(x; θ_k) ‖ p(x; θ_q))           over the K experts
 *   Eq. 5   L_intra^G,k = 2/(T(T−1)) Σ_t Σ_{τ≠t} KL(p(x^t; θ_k) ‖ p(x^τ; θ_k))       over the T copies, expert k
 *   Eq. 6   L_intra^G   = Σ_k L_intra^G,k
 *   Eq. 11, 13: the same on the hard set (L_inter^P, L_intra^P), with partial distributions as members.
 *   NCL (CVPR 2022) normalises InterCL by 1/(K−1) instead of 2/(K(K−1)) (`norm: 'peers'`, see kl.ts).
 *
 * These are unweighted: Eq. 14 multiplies them by λ (see nested.ts). Rows are copy-major: in an [T·B, C] tensor,
 * row t·B + i is copy t of sample i, so copy t is the row block [t·B, (t+1)·B).
 */
import { tf } from '../tf';
import {
  type Distribution,
  type MutualNorm,
  mutualDivisor,
  mutualKL,
  mutualKLTerms,
  pairwiseKLTerms,
  stacked,
} from './kl';

/**
 * Inter-expert collaborative learning (Eq. 4, or Eq. 11 with partial members), without λ.
 * @param experts K distributions, [N, C] each, or stacked [K, N, C] (N = T·B rows; every row is distilled across
 * experts).
 * @param norm 'pairs' (NCL++, default) or 'peers' (NCL). @returns scalar; 0 when K = 1.
 */
export function interCL(
  experts: Distribution | readonly Distribution[],
  norm: MutualNorm = 'pairs',
): tf.Scalar {
  return mutualKL(experts, norm);
}

/**
 * Intra-expert collaborative learning (Eq. 5-6, or Eq. 13 with partial members), without λ: for each expert, mutual
 * KL among its T copies of each sample, summed over experts. All experts and copy pairs are one computation.
 * @param experts K distributions, [T·B, C] each (or stacked [K, T·B, C]), copy-major rows. @param numCopies T.
 * @returns scalar; 0 when T = 1.
 */
export function intraCL(experts: Distribution | readonly Distribution[], numCopies: number): tf.Scalar {
  return tf.tidy(() => {
    const pairs = copyPairs(experts, numCopies);
    return pairs ? (tf.div(tf.sum(pairs.terms), pairs.scale) as tf.Scalar) : tf.scalar(0);
  });
}

/**
 * The pairwise KL summands among each expert's T copies, [K, T, T, B, C] (`pairwiseKLTerms`), and what their sum is
 * divided by (B × T(T−1)/2); null when T = 1.
 */
function copyPairs(
  experts: Distribution | readonly Distribution[],
  numCopies: number,
): { terms: tf.Tensor; scale: number } | null {
  if (numCopies < 2) return null;
  const { prob, logProb } = stacked(experts);
  const [numExperts, rows, classes] = prob.shape;
  if (rows % numCopies !== 0)
    throw new Error(`${rows} rows do not split into numCopies = ${numCopies} copies`);
  const samples = rows / numCopies;
  // [K, T, B, C]: expert k, copy t, sample i (copy-major rows: row t·B + i).
  const byCopy = (x: tf.Tensor) => tf.reshape(x, [numExperts, numCopies, samples, classes]);
  return {
    terms: pairwiseKLTerms(byCopy(prob), byCopy(logProb), 1),
    scale: samples * mutualDivisor(numCopies, 'pairs'),
  };
}

/** Both sums of a pair's summands: over all classes, and over the hard set `mask` (broadcast onto them). */
function globalAndPartial(
  pairs: { terms: tf.Tensor; scale: number } | null,
  mask: tf.Tensor,
): { global: tf.Scalar; partial: tf.Scalar } {
  if (!pairs) return { global: tf.scalar(0), partial: tf.scalar(0) };
  return {
    global: tf.div(tf.sum(pairs.terms), pairs.scale) as tf.Scalar,
    partial: tf.div(tf.sum(tf.mul(pairs.terms, mask)), pairs.scale) as tf.Scalar,
  };
}

/**
 * InterCL and IntraCL on all classes and on the hard set at once, in the 'official' semantics (mode.ts): there the
 * partial KL is the global KL's summands restricted to the hard set (p and log(p + 1e-9) times the 0/1 mask), so one
 * set of pairwise summands gives both Eq. 4 and Eq. 11 (or Eq. 5-6 and Eq. 13), each without λ.
 * @param experts K distributions (all classes, 'official'), [T·B, C] each or stacked [K, T·B, C].
 * @param mask [T·B, C]: the shared hard set.
 * @returns { global, partial } scalars.
 */
export function interCLOnHardSet(
  experts: Distribution | readonly Distribution[],
  mask: tf.Tensor,
  norm: MutualNorm = 'pairs',
): { global: tf.Scalar; partial: tf.Scalar } {
  return tf.tidy(() => globalAndPartial(mutualKLTerms(experts, norm), mask));
}

/** IntraCL's `interCLOnHardSet`: per expert among its T copies, summed over experts. @param mask [B, C] (copy 0's). */
export function intraCLOnHardSet(
  experts: Distribution | readonly Distribution[],
  mask: tf.Tensor,
  numCopies: number,
): { global: tf.Scalar; partial: tf.Scalar } {
  return tf.tidy(() => globalAndPartial(copyPairs(experts, numCopies), mask));
}

/**
 * The T copies of a copy-major distribution: [T·B, C] → T × [B, C] (copy t is the row block [t·B, (t+1)·B)).
 * @param dist [T·B, C] tensors. @param numCopies T (must divide the rows).
 */
export function splitCopies(dist: Distribution, numCopies: number): Distribution[] {
  const rows = dist.prob.shape[0];
  if (rows % numCopies !== 0)
    throw new Error(`${rows} rows do not split into numCopies = ${numCopies} copies`);
  const probs = tf.split(dist.prob, numCopies, 0);
  const logProbs = tf.split(dist.logProb, numCopies, 0);
  return probs.map((prob, t) => ({ prob, logProb: logProbs[t] }));
}
