/**
 * Offline distillation, the baseline of Fig. 12b ("BIL + OffDis"): instead of experts teaching each other online
 * (InterCL), each expert learns from a fixed teacher distribution, the average output of several models trained
 * beforehand with BIL.
 *
 *   L = Σ_k BSCE(z_k, y) + λ Σ_k KL(p_teacher ‖ p(x; θ_k))
 *
 * with p(x; θ_k) the expert's balanced probabilities (Eq. 2), so the teacher should live in the same balanced space:
 * build it with `averageTeacherProbs(teacherLogits, classCounts)`. The teacher is a constant: no gradient flows into
 * it.
 */
import { z } from 'zod';
import { tf } from '../tf';
import { balancedLogits, balancedSoftmax, crossEntropy } from './balanced';
import { type Distribution, distribution, klDivergence } from './kl';
import { LOSS_MODES, OFFICIAL_LOG_EPS } from './mode';
import { PAPER_DEFAULTS } from './nested';
import { noGrad, stopGradient } from './no-grad';

export const OfflineDistillationOptions = z
  .object({
    /** Weight of the distillation term (the λ of the InterCL it replaces). */
    lambda: z.number().finite().nonnegative().default(PAPER_DEFAULTS.lambda),
    /** 'official': log(p + 1e-9) on both sides; 'paper': exact logs (0·log 0 = 0 for the teacher). */
    mode: z.enum(LOSS_MODES).default('official'),
  })
  .strict();
export type OfflineDistillationOptionsInput = z.input<typeof OfflineDistillationOptions>;

/**
 * The teacher distribution: the average over models of their (balanced, when classCounts is given) softmax.
 * @param teacherLogits M tensors [N, C], the trained teachers' raw outputs on the batch.
 * @param classCounts n, [C]: when given, average balanced softmax(z + log n) (Eq. 2), else plain softmax.
 * @returns [N, C] rows summing to 1, a constant (no gradient).
 */
export function averageTeacherProbs(
  teacherLogits: readonly tf.Tensor2D[],
  classCounts?: readonly number[],
): tf.Tensor2D {
  if (teacherLogits.length === 0) throw new Error('averageTeacherProbs: give at least one teacher');
  return tf.tidy(() => {
    const probs = teacherLogits.map((z) => (classCounts ? balancedSoftmax(z, classCounts) : tf.softmax(z)));
    return stopGradient(tf.div(tf.addN(probs), probs.length) as tf.Tensor2D);
  });
}

/**
 * BIL + offline distillation from a fixed teacher (Fig. 12b).
 * @param logits K tensors [N, C], raw expert outputs (N = T·B copy-major rows, or just B).
 * @param labels [N] int32. @param classCounts n, [C].
 * @param teacherProbs [N, C], or [B, C] repeated over the T copies when N = T·B. No gradient flows into it.
 * @returns { total, bil, distill }: bil = Σ_k BSCE, distill = λ Σ_k KL(teacher ‖ p_k), total = bil + distill.
 */
export function offlineDistillation(
  logits: readonly tf.Tensor2D[],
  labels: tf.Tensor1D,
  classCounts: readonly number[],
  teacherProbs: tf.Tensor2D,
  options: OfflineDistillationOptionsInput = {},
): { total: tf.Scalar; bil: tf.Scalar; distill: tf.Scalar } {
  const opts = OfflineDistillationOptions.parse(options);
  if (logits.length === 0) throw new Error('offlineDistillation: give one [N, C] tensor per expert');
  const [rows, numClasses] = logits[0].shape;
  const [teacherRows, teacherClasses] = teacherProbs.shape;
  if (teacherClasses !== numClasses || rows % teacherRows !== 0) {
    throw new Error(`teacherProbs [${teacherProbs.shape}] does not fit logits [${rows}, ${numClasses}]`);
  }
  return tf.tidy(() => {
    const tiled = tf.tile(teacherProbs, [rows / teacherRows, 1]) as tf.Tensor2D;
    const teacher: Distribution = {
      prob: stopGradient(tiled),
      logProb: noGrad(
        tiled,
        (t) =>
          opts.mode === 'official'
            ? (tf.log(tf.add(t, OFFICIAL_LOG_EPS)) as tf.Tensor2D)
            : (tf.log(tf.where(tf.greater(t, 0), t, 1)) as tf.Tensor2D), // 0·log 0 = 0
      ),
    };
    const balanced = logits.map((zk) => balancedLogits(zk, classCounts));
    const bil = tf.addN(balanced.map((b) => crossEntropy(b, labels))) as tf.Scalar;
    const kl = balanced.map((b) => klDivergence(teacher, distribution(b, opts.mode)));
    const distill = tf.mul(tf.addN(kl), opts.lambda) as tf.Scalar;
    return { total: tf.add(bil, distill) as tf.Scalar, bil, distill };
  });
}
