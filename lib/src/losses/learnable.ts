/**
 * Learnable loss weights (Table 6): λ1 (IntraCL) and λ2 (InterCL) of Eq. 14 as two free parameters w1, w2,
 * normalised by a softmax so that λ1, λ2 ≥ 0 and λ1 + λ2 = 1:
 *
 *   (λ1, λ2) = softmax(w1, w2),      L = L_bil + λ1 L_intra + λ2 L_inter
 *
 * Training them: `new LearnableLossWeights()` creates the two trainable `tf.Variable` scalars (w1 = w2 = 0, so
 * λ1 = λ2 = 0.5). Pass the instance as `learnable` in the nclLoss options (a config's `loss.options.learnable: true`
 * makes the method's LossFn create and own one), and let
 * the optimiser see `weights.variables`: `tf.variableGrads` / `optimizer.minimize(f)` pick up every trainable
 * variable by default; a trainer that lists its variables explicitly must append `weights.variables`. Dispose the
 * instance with the model. (The paper found this fits the train set better but generalises worse than fixed λ.)
 */
import { tf } from '../tf';

/**
 * (λ1, λ2) = softmax(w1, w2) (Table 6): differentiable in w1 and w2.
 * @param wIntra w1, scalar (typically a tf.Variable). @param wInter w2, scalar.
 * @returns λ1 (IntraCL) and λ2 (InterCL), scalars summing to 1.
 */
export function learnableWeights(
  wIntra: tf.Scalar,
  wInter: tf.Scalar,
): { lambdaIntra: tf.Scalar; lambdaInter: tf.Scalar } {
  return tf.tidy(() => {
    const [lambdaIntra, lambdaInter] = tf.unstack(tf.softmax(tf.stack([wIntra, wInter]))) as tf.Scalar[];
    return { lambdaIntra, lambdaInter };
  });
}

let instances = 0;

/** The two free parameters of Table 6, as trainable variables. */
export class LearnableLossWeights {
  /** w1, the raw weight of IntraCL. */
  readonly intra: tf.Variable<tf.Rank.R0>;
  /** w2, the raw weight of InterCL. */
  readonly inter: tf.Variable<tf.Rank.R0>;

  /**
   * @param init raw initial values (w1, w2); default 0 and 0, i.e. λ1 = λ2 = 0.5.
   * @param name variable name prefix (tfjs variable names are global and unique); default
   * `ncl_loss_weights_<i>`, i counting instances in this process, so the names are stable across runs for
   * checkpoints. The variables are `<name>/w_intra` and `<name>/w_inter`.
   */
  constructor(init: { intra?: number; inter?: number } = {}, name?: string) {
    const prefix = name ?? `ncl_loss_weights_${instances++}`;
    this.intra = tf.variable(tf.scalar(init.intra ?? 0), true, `${prefix}/w_intra`);
    this.inter = tf.variable(tf.scalar(init.inter ?? 0), true, `${prefix}/w_inter`);
  }

  /** The trainable variables [w1, w2], for a trainer's variable list. */
  get variables(): tf.Variable[] {
    return [this.intra, this.inter];
  }

  /** (λ1, λ2) = softmax(w1, w2), as differentiable scalars. */
  lambdas(): { lambdaIntra: tf.Scalar; lambdaInter: tf.Scalar } {
    return learnableWeights(this.intra, this.inter);
  }

  /** (λ1, λ2) as numbers, for logging (reads the values synchronously). */
  values(): { lambdaIntra: number; lambdaInter: number } {
    const [lambdaIntra, lambdaInter] = tf.tidy(() =>
      tf.softmax(tf.stack([this.intra, this.inter])).dataSync(),
    );
    return { lambdaIntra, lambdaInter };
  }

  dispose(): void {
    this.intra.dispose();
    this.inter.dispose();
  }
}

/**
 * (λ1, λ2) = softmax(w_intra, w_inter) from a finished run's recorded loss variables (metrics.json's
 * `lossVariables`, one number each); null when the run has no learnable weights.
 */
export function learnedLambdas(
  vars: Record<string, number[]> | undefined,
): { lambdaIntra: number; lambdaInter: number } | null {
  const a = vars?.w_intra?.[0];
  const b = vars?.w_inter?.[0];
  if (a === undefined || b === undefined) return null;
  const m = Math.max(a, b);
  const [ea, eb] = [Math.exp(a - m), Math.exp(b - m)];
  return { lambdaIntra: ea / (ea + eb), lambdaInter: eb / (ea + eb) };
}
