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
import { type Distribution, type MutualNorm, mutualKL } from './kl';

/**
 * Inter-expert collaborative learning (Eq. 4, or Eq. 11 with partial members), without λ.
 * @param experts K distributions, [N, C] each (N = T·B rows; every row is distilled across experts).
 * @param norm 'pairs' (NCL++, default) or 'peers' (NCL). @returns scalar; 0 when K = 1.
 */
export function interCL(experts: readonly Distribution[], norm: MutualNorm = 'pairs'): tf.Scalar {
  return mutualKL(experts, norm);
}

/**
 * Intra-expert collaborative learning (Eq. 5-6, or Eq. 13 with partial members), without λ: for each expert, mutual
 * KL among its T copies of each sample, summed over experts.
 * @param experts K distributions, [T·B, C] each, copy-major rows. @param numCopies T.
 * @returns scalar; 0 when T = 1.
 */
export function intraCL(experts: readonly Distribution[], numCopies: number): tf.Scalar {
  if (numCopies < 2) return tf.scalar(0);
  return tf.tidy(() => {
    let sum: tf.Tensor = tf.scalar(0);
    for (const expert of experts) sum = tf.add(sum, mutualKL(splitCopies(expert, numCopies)));
    return sum as tf.Scalar;
  });
}

/**
 * The T copies of a copy-major distribution: [T·B, C] → T × [B, C].
 * @param dist [T·B, C] tensors. @param numCopies T (must divide the rows).
 */
export function splitCopies(dist: Distribution, numCopies: number): Distribution[] {
  const rows = dist.prob.shape[0];
  if (rows % numCopies !== 0)
    throw new Error(`${rows} rows do not split into numCopies = ${numCopies} copies`);
  const probs = tf.split(dist.prob, numCopies, 0) as tf.Tensor2D[];
  const logProbs = tf.split(dist.logProb, numCopies, 0) as tf.Tensor2D[];
  return probs.map((prob, t) => ({ prob, logProb: logProbs[t] }));
}
