/**
 * Hard Category Mining (HCM, Sec. 3.4) and the probabilities on the hard set.
 *
 *   Eq. 7   Ψ_i = TopHard{ z_ij | j ≠ y_i } ∪ { z_iy }         the hard set: target + the highest-scoring negatives
 *   Eq. 8   p*_j = n_j e^{z_j} / Σ_{l∈Ψ} n_l e^{z_l},  j ∈ Ψ   balanced softmax renormalised over the hard set
 *   Eq. 9   L_bil^P = −Σ_k log p*_y                            BSCE on the hard set
 *
 * C_hard (`numHard`) counts the target: the set holds the target and the C_hard − 1 negatives with the largest *raw*
 * logits z (the paper's β = C_hard / C; 0.3 in all experiments). A hard set is returned as a 0/1 float mask [N, C];
 * no gradient flows through the selection.
 */
import { tf } from '../tf';
import { balancedLogits } from './balanced';
import { type LossMode } from './mode';
import { noGrad } from './no-grad';

/** Size of the hard set: C_hard itself, or the ratio β = C_hard / C. */
export type HardSetSize = number | { ratio: number };

/**
 * C_hard from β = C_hard / C: max(2, round(β·C)) (at least the target and one negative), capped at C.
 * β = 0.3 (the paper's value) gives 3 of 10 classes, 30 of 100, 300 of 1000.
 */
export function numHardFromRatio(ratio: number, numClasses: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`hard ratio β must be in [0, 1], got ${ratio}`);
  return Math.min(numClasses, Math.max(2, Math.round(ratio * numClasses)));
}

/** C_hard for `size` with C classes; throws unless 1 ≤ C_hard ≤ C. */
export function resolveNumHard(size: HardSetSize, numClasses: number): number {
  const k = typeof size === 'number' ? size : numHardFromRatio(size.ratio, numClasses);
  if (!Number.isInteger(k) || k < 1 || k > numClasses) {
    throw new Error(
      `numHard (C_hard, target included) must be an integer in [1, C = ${numClasses}], got ${k}`,
    );
  }
  return k;
}

/**
 * Hard Category Mining (Eq. 7): per row, the target class plus the C_hard − 1 other classes with the largest raw
 * logits. Ties are broken towards the lower class index. No gradient flows through the selection.
 * @param logits z, [N, C] raw outputs of the expert that mines (the paper mines from z, not from balanced logits).
 * @param labels [N] int32 targets (always in the set).
 * @param size C_hard (target included) or `{ ratio: β }`.
 * @returns mask [N, C] float32: 1 on the hard set, 0 elsewhere; each row sums to C_hard.
 */
export function hardCategoryMask(logits: tf.Tensor2D, labels: tf.Tensor1D, size: HardSetSize): tf.Tensor2D {
  const [n, c] = logits.shape;
  const k = resolveNumHard(size, c);
  return noGrad(logits, (z) =>
    tf.tidy(() => {
      if (k === c) return tf.onesLike(z) as tf.Tensor2D;
      const isTarget = tf.oneHot(tf.cast(labels, 'int32'), c).cast('bool');
      // The target must rank first. A finite score above the row maximum (tfjs' CPU topk mis-sorts Infinity).
      const rowMax = tf.max(z, 1, true);
      const scores = tf.where(isTarget, tf.add(tf.add(rowMax, tf.abs(rowMax)), 1), z);
      const { indices } = tf.topk(scores, k); // [N, k]
      const rows = tf.tile(tf.range(0, n, 1, 'int32').expandDims(1), [1, k]);
      const at = tf.stack([rows, indices], 2).reshape([n * k, 2]);
      return tf.scatterND(at, tf.ones([n * k]), [n, c]) as tf.Tensor2D;
    }),
  );
}

/**
 * Random categories instead of HCM (Fig. 6b, "BSCE + random"): per row, the target plus C_hard − 1 negatives drawn
 * uniformly without replacement.
 * @param labels [N] int32. @param numClasses C. @param size C_hard or `{ ratio: β }`.
 * @param seed fixes the draw (the same seed gives the same mask); leave it out during training.
 * @returns mask [N, C] float32, rows summing to C_hard.
 */
export function randomCategoryMask(
  labels: tf.Tensor1D,
  numClasses: number,
  size: HardSetSize,
  seed?: number,
): tf.Tensor2D {
  return tf.tidy(() => {
    const scores = tf.randomUniform([labels.shape[0], numClasses], 0, 1, 'float32', seed) as tf.Tensor2D;
    return hardCategoryMask(scores, labels, size);
  });
}

/**
 * log of Eq. 8 for given logits: log-softmax over the masked classes only, 0 outside the mask (finite everywhere,
 * also for logits of ±1e4).
 * @param logits [N, C] (or [K, N, C]): balanced logits b for Eq. 8 (raw z gives the unbalanced variant).
 * @param mask [N, C] 0/1 hard set (or [K, N, C], one per expert); every row must select at least one class.
 * @returns log p*, the shape of logits.
 */
export function partialLogSoftmax<T extends tf.Tensor>(logits: T, mask: tf.Tensor): T {
  return tf.tidy(() => {
    const selected = tf.cast(tf.broadcastTo(mask, logits.shape), 'bool'); // Cast has a gradient (zero here)
    const logProb = tf.logSoftmax(tf.where(selected, logits, -Infinity));
    return tf.where(selected, logProb, 0) as T;
  });
}

/**
 * Partial balanced probabilities p* (Eq. 8): the balanced softmax renormalised over the hard set.
 * @param logits z, [N, C] raw outputs. @param mask [N, C] hard set (e.g. from `hardCategoryMask`).
 * @param classCounts n, [C].
 * @returns p*, [N, C]: rows sum to 1 over the mask, exactly 0 outside it.
 */
export function partialBalancedProbs(
  logits: tf.Tensor2D,
  mask: tf.Tensor2D,
  classCounts: readonly number[],
): tf.Tensor2D {
  return tf.tidy(() => {
    const b = balancedLogits(logits, classCounts);
    return tf.mul(tf.exp(partialLogSoftmax(b, mask)), mask) as tf.Tensor2D;
  });
}

/**
 * Cross-entropy on the hard set, for logits that are already balanced (b, giving Eq. 9 for one expert) or raw.
 *   'paper':    −log softmax_{Ψ}(logits)_y, the softmax renormalised over the mask (Eq. 8, 9);
 *   'official': CE(logits ⊙ mask, y), the authors' code: non-hard logits set to 0 but kept in the softmax.
 * @param logits [N, C], or [K, N, C] (the sum over experts). @param labels [N] int32 (each inside its row's mask).
 * @param mask [N, C] 0/1, or [K, N, C]. @returns scalar, averaged over rows.
 */
export function partialCrossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor1D,
  mask: tf.Tensor,
  mode: LossMode,
): tf.Scalar {
  return tf.tidy(() => {
    const logProb = mode === 'paper' ? partialLogSoftmax(logits, mask) : tf.logSoftmax(tf.mul(logits, mask));
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[logits.rank - 1]).toFloat();
    return tf.div(tf.neg(tf.sum(tf.mul(onehot, logProb))), labels.shape[0]) as tf.Scalar;
  });
}

/**
 * Partial BSCE for one expert (Eq. 9): −log p*_y on the hard set `mask`.
 * @param logits z, [N, C] raw. @param labels [N] int32. @param classCounts n, [C]. @param mask [N, C] 0/1.
 * @param mode 'paper' (default, Eq. 9) or 'official' (CE(b ⊙ mask, y)).
 * @returns scalar.
 */
export function partialBsce(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  classCounts: readonly number[],
  mask: tf.Tensor2D,
  mode: LossMode = 'paper',
): tf.Scalar {
  return tf.tidy(() => {
    const b = balancedLogits(logits, classCounts);
    return partialCrossEntropy(b, labels, mask, mode);
  });
}
