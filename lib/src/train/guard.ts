/**
 * Divergence checks. A run stops with a TrainingError naming where, before anything of the diverged state is written:
 *   - a step whose loss is not finite (NaN, ±Infinity);
 *   - a step whose loss exceeds EXPLODING_LOSS_FACTOR × max(1, |first step's loss|): an exploding run (with lr 10
 *     on the smoke protocol the loss passes 100× its first value within a few steps while still finite; healthy
 *     runs stay within a few times theirs);
 *   - at each epoch's end, any weight, BatchNorm statistic, loss variable or momentum buffer that is not finite.
 */
import { tf } from '../tf';
import { TrainingError } from './errors';

export const EXPLODING_LOSS_FACTOR = 100;

/** Throws when `total` (the loss of the step at `where`) is not finite or has exploded past `reference`. */
export function checkLoss(total: number, reference: number | null | undefined, where: string): void {
  if (!Number.isFinite(total)) throw new TrainingError(`loss is ${total} at ${where}; stopping`);
  if (reference != null && total > EXPLODING_LOSS_FACTOR * Math.max(1, Math.abs(reference)))
    throw new TrainingError(
      `loss exploded at ${where}: ${total.toPrecision(3)} > ${EXPLODING_LOSS_FACTOR} × the first step's ` +
        `${reference.toPrecision(3)}; the run diverged (lower optim.lr?); stopping`,
    );
}

/** Throws, naming them, when any of `vars` holds a non-finite value after epoch `epoch` (1-based). */
export async function checkFinite(vars: Map<string, tf.Tensor>, epoch: number): Promise<void> {
  const names = [...vars.keys()];
  if (!names.length) return;
  // x − x is 0 for every finite x and NaN for NaN and ±Infinity: one sum per tensor, one read for all.
  const sums = tf.tidy(() => tf.stack([...vars.values()].map((v) => tf.sum(tf.sub(v, v)))));
  const values = await sums.data();
  sums.dispose();
  const bad = names.filter((_, i) => values[i] !== 0);
  if (bad.length)
    throw new TrainingError(
      `non-finite values after epoch ${epoch} in ${bad.slice(0, 3).join(', ')}` +
        `${bad.length > 3 ? ` and ${bad.length - 3} more` : ''}; the run diverged (lower optim.lr?); ` +
        `nothing of this epoch was written`,
    );
}
