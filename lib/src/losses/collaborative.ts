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
import { type Distribution, type MutualNorm, mutualDivisor, mutualKL, pairwiseKLSum, stacked } from './kl';

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
  if (numCopies < 2) return tf.scalar(0);
  return tf.tidy(() => {
    const { prob, logProb } = stacked(experts);
    const [numExperts, rows, classes] = prob.shape;
    if (rows % numCopies !== 0)
      throw new Error(`${rows} rows do not split into numCopies = ${numCopies} copies`);
    const samples = rows / numCopies;
    // [K, T, B, C]: expert k, copy t, sample i (copy-major rows: row t·B + i).
    const byCopy = (x: tf.Tensor) => tf.reshape(x, [numExperts, numCopies, samples, classes]);
    const sum = pairwiseKLSum(byCopy(prob), byCopy(logProb), 1);
    return tf.div(sum, samples * mutualDivisor(numCopies, 'pairs')) as tf.Scalar;
  });
}
