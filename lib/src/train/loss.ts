/**
 * The loss a run trains with, with what the loop needs around it: the trainable variables it owns, a hook before
 * each micro-batch, and its disposal. Three kinds: the config's (`lossFromConfig`), offline distillation from
 * teacher runs (./teachers.ts) and a caller's own LossFn.
 */
import { z } from 'zod';
import { tf } from '../tf';
import type * as data from '../data';
import { lossForMethod, LearnableLossWeights, numHardFromRatio } from '../losses';
import type { LossFn } from '../losses';
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

/** C_hard of a config: `loss.numHard`, else β·C (losses.numHardFromRatio). */
export function numHardOf(c: TrainConfig, numClasses: number): number {
  return c.loss.numHard ?? numHardFromRatio(c.loss.beta, numClasses);
}

/**
 * The loss of a config: losses.lossForMethod(method) with λ, C_hard (numHard, else β·C), T, mode and the extra
 * switches of `loss.options`. `options.learnable: true` makes (λ1, λ2) learnable (Table 6): two named variables.
 * A loss option the loss rejects is a TrainingError naming it (`loss.options.<key>: ...`).
 */
export function lossFromConfig(
  c: TrainConfig,
  numClasses: number,
): {
  fn: LossFn;
  variables: Record<string, tf.Variable>;
  onStep: (globalStep: number) => void;
  dispose: () => void;
} {
  const numHard = numHardOf(c, numClasses);
  if (numHard > numClasses)
    throw new TrainingError(
      `loss.numHard: C_hard = ${numHard} exceeds the ${numClasses} classes of ${c.data.dataset}`,
    );
  const { learnable, ...options } = c.loss.options as { learnable?: boolean } & Record<string, unknown>;
  const weights = learnable ? new LearnableLossWeights() : null;
  const overrides = {
    numCopies: c.loss.numCopies,
    lambda: c.loss.lambda,
    mode: c.loss.mode,
    numHard,
    ...options,
    ...(weights ? { learnable: weights } : {}),
  };
  const make = (seed?: number) => {
    try {
      return lossForMethod(c.method, seed === undefined ? overrides : { ...overrides, seed });
    } catch (e) {
      weights?.dispose();
      if (!(e instanceof z.ZodError)) throw e;
      const i = e.issues[0];
      throw new TrainingError(`${['loss.options', ...i.path].join('.')}: ${i.message}`);
    }
  };
  // Random hard categories (Fig. 6b) are drawn afresh at every step, from a seed of (run seed, step): deterministic,
  // and the same after a resume.
  const random = options.hardMining === 'random';
  let fn = make();
  const onStep = (globalStep: number) => {
    if (random) fn = make((Math.imul(c.seed + 1, 1_000_003) + globalStep) | 0);
  };
  return {
    fn: (logits, labels, counts) => fn(logits, labels, counts),
    variables: weights ? { w_intra: weights.intra, w_inter: weights.inter } : {},
    onStep,
    dispose: () => weights?.dispose(),
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

/** A caller's LossFn (and the variables it owns; the caller disposes them) as a TrainLoss. */
export function customLoss(fn: LossFn, variables: Record<string, tf.Variable> = {}): TrainLoss {
  return { fn, variables: new Map(Object.entries(variables)), prepare: () => {}, dispose: () => {} };
}
