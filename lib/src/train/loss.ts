/**
 * The loss a run trains with, with what the loop needs around it: the trainable variables it owns, a hook before
 * each micro-batch, and its disposal. Three kinds: the config's (`lossFromConfig`), offline distillation from
 * teacher runs (./teachers.ts) and a caller's own LossFn.
 */
import { z } from 'zod';
import type { tf } from '../tf';
import type * as data from '../data';
import { getMethod, numHardFromRatio } from '../losses';
import type { LossBase, LossFn } from '../losses';
import type { TrainConfig } from './config';
import { TrainingError } from './errors';

export interface TrainLoss {
  fn: LossFn;
  /** Trainable variables the loss owns, by name (optimised and checkpointed as `loss.<name>`). */
  variables: Map<string, tf.Variable>;
  /** Called before each micro-batch's forward pass (teacher outputs, per-step random draws). */
  prepare(batch: data.Batch, globalStep: number): void;
  dispose(): void;
}

/** C_hard of a config of the paper's methods: `loss.numHard`, else β·C (losses.numHardFromRatio). */
export function numHardOf(c: TrainConfig, numClasses: number): number {
  const { numHard, beta } = c.loss as unknown as { numHard: number | null; beta: number };
  return numHard ?? numHardFromRatio(beta, numClasses);
}

/**
 * The loss of a config: its method's loss factory (`MethodSpec.loss`) with the `loss` section as it is (parsed by
 * the method's schema: defaults for what a hand-written config leaves out), the number of classes and the seed. An
 * option the method rejects is a TrainingError naming it (`loss.options.<key>: ...`).
 */
export function lossFromConfig(
  c: Pick<TrainConfig, 'method' | 'seed'> & { loss: Record<string, unknown> },
  numClasses: number,
): {
  fn: LossFn;
  variables: Record<string, tf.Variable>;
  onStep: (globalStep: number) => void;
  dispose: () => void;
} {
  const method = getMethod(c.method);
  let fn: LossFn;
  try {
    fn = method.loss(method.lossSchema.parse(c.loss) as LossBase, { numClasses, seed: c.seed });
  } catch (e) {
    if (e instanceof z.ZodError) {
      const i = e.issues[0];
      throw new TrainingError(`${['loss', ...i.path].join('.')}: ${i.message}`);
    }
    if (e instanceof Error && e.message.startsWith('loss.')) throw new TrainingError(e.message);
    throw e;
  }
  return {
    fn,
    variables: fn.variables ?? {},
    onStep: (globalStep) => fn.onStep?.(globalStep),
    dispose: () => fn.dispose?.(),
  };
}

/** The config's loss as a TrainLoss. */
export function configLoss(c: TrainConfig, numClasses: number): TrainLoss {
  const built = lossFromConfig(c, numClasses);
  return {
    fn: built.fn,
    variables: new Map(Object.entries(built.variables)),
    prepare: (_batch, globalStep) => built.onStep(globalStep),
    dispose: built.dispose,
  };
}

/** A caller's LossFn (and the variables it owns besides `fn.variables`; the caller disposes them) as a TrainLoss. */
export function customLoss(fn: LossFn, variables: Record<string, tf.Variable> = {}): TrainLoss {
  return {
    fn,
    variables: new Map(Object.entries({ ...fn.variables, ...variables })),
    prepare: (_batch, globalStep) => fn.onStep?.(globalStep),
    dispose: () => {},
  };
}
