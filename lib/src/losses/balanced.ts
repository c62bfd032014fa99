/**
 * Balanced probabilities and the individual (per-expert) classification losses.
 *
 *   Eq. 1   p~_j = exp(z_j) / Σ_l exp(z_l)                        plain softmax        -> crossEntropy
 *   Eq. 2   p_j  = n_j exp(z_j) / Σ_l n_l exp(z_l)                balanced softmax     -> balancedSoftmax
 *              = softmax(z + log n)_j                             balanced logits b    -> balancedLogits
 *   Eq. 3   L_bil^G = −Σ_k log p_y(x; θ_k)                         BSCE, one expert     -> bsce
 *
 * n_j is the number of training images of class j. Adding log n to the logits multiplies each class's probability
 * by its frequency before normalising, so during training the model has to push tail-class logits *up* to reach the
 * same probability: at test time (plain softmax of z) tail classes get a boost. All functions work row-wise on
 * [N, C] logits and average over the N rows.
 */
import { tf } from '../tf';

/**
 * log n_j as a [C] tensor. Throws on a count that is not a positive finite number (a class with 0 images has no
 * balanced probability: log 0 = −∞).
 */
export function logClassPrior(classCounts: readonly number[]): tf.Tensor1D {
  for (const [j, n] of classCounts.entries()) {
    if (!(Number.isFinite(n) && n > 0)) {
      throw new Error(
        `classCounts[${j}] = ${n}: every class needs a positive, finite number of training images`,
      );
    }
  }
  return tf.tensor1d(classCounts.map((n) => Math.log(n)));
}

/**
 * Balanced logits b = z + log n (Eq. 2 in log space): softmax(b) is the balanced probability of Eq. 2.
 * @param logits z, [N, C] raw expert outputs (or [K, N, C]: K experts at once).
 * @param classCounts n, [C] training images per class.
 * @returns b, the shape of z.
 */
export function balancedLogits<T extends tf.Tensor>(logits: T, classCounts: readonly number[]): T {
  checkClasses(logits, classCounts);
  return tf.tidy(() => tf.add(logits, logClassPrior(classCounts)) as T);
}

/**
 * Balanced softmax p_j = n_j e^{z_j} / Σ_l n_l e^{z_l} (Eq. 2).
 * @param logits z, [N, C]. @param classCounts n, [C].
 * @returns p, [N, C]; each row sums to 1.
 */
export function balancedSoftmax(logits: tf.Tensor2D, classCounts: readonly number[]): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(balancedLogits(logits, classCounts)));
}

/**
 * Plain cross-entropy −log softmax(z)_y (Eq. 1 probabilities), averaged over rows. With balanced logits as input it
 * is BSCE. For K experts' logits stacked as [K, N, C] it is the sum over experts of each one's CE (Eq. 3's Σ_k).
 * @param logits [N, C] or [K, N, C]. @param labels [N] int32 class indices.
 * @returns scalar.
 */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProb = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[logits.rank - 1]).toFloat();
    return tf.div(tf.neg(tf.sum(tf.mul(onehot, logProb))), labels.shape[0]) as tf.Scalar;
  });
}

/**
 * Balanced Softmax Cross-Entropy (Eq. 3, one expert): −log p_y with p the balanced softmax of Eq. 2, averaged over
 * rows. Sum it over experts for L_bil^G.
 * @param logits z, [N, C] raw outputs. @param labels [N] int32. @param classCounts n, [C].
 * @returns scalar.
 */
export function bsce(logits: tf.Tensor2D, labels: tf.Tensor1D, classCounts: readonly number[]): tf.Scalar {
  return tf.tidy(() => crossEntropy(balancedLogits(logits, classCounts), labels));
}

function checkClasses(logits: tf.Tensor, classCounts: readonly number[]): void {
  if (logits.rank < 2 || logits.shape[logits.rank - 1] !== classCounts.length) {
    throw new Error(
      `logits must be [N, C] (or [K, N, C]) with C = classCounts.length = ${classCounts.length}; got [${logits.shape}]`,
    );
  }
}
