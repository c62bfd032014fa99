/**
 * The training loop: epochs of steps, each epoch ending with its record, the divergence check, the checkpoint and
 * the deadline. Everything it needs is built by trainRun (./trainer.ts); the step itself is `ctx.step` (./step.ts).
 */
import * as os from 'node:os';
import { tf } from '../tf';
import * as data from '../data';
import type { TrainConfig } from './config';
import { pastDeadline } from './deadline';
import { checkFinite, checkLoss } from './guard';
import type { Progress } from './progress';
import type { RunState } from './resume';
import { learningRate } from './schedule';
import type { StepFn } from './step';
import type { EpochInfo, StepInfo } from './types';

export interface LoopContext {
  config: TrainConfig;
  train: data.ImageSet;
  batchOptions: data.BatchOptions;
  stepsPerEpoch: number;
  step: StepFn;
  /** Every tensor of the run's state (weights, BN statistics, loss variables, momentum), checked at epoch ends. */
  stateTensors: () => Map<string, tf.Tensor>;
  /** The test-set evaluation of `eval.every`. */
  evaluate: () => Promise<EpochInfo['test']>;
  /** Save the checkpoint (null: no run folder). */
  save: ((state: RunState) => Promise<void>) | null;
  state: RunState;
  progress: Progress;
  deadline?: number;
  /** Aborted: stop between two steps (the epoch in progress is dropped). */
  signal?: AbortSignal;
  onStep?: (s: StepInfo) => void;
  onEpoch?: (e: EpochInfo) => void;
}

/**
 * Train from `ctx.state.nextEpoch` to the last epoch: 'finished', or where it stopped: 'deadline' at an epoch
 * boundary, 'signal' between two steps (`state` then holds the last finished epoch, as the checkpoint does).
 */
export async function trainEpochs(ctx: LoopContext): Promise<'finished' | 'deadline' | 'signal'> {
  const { config: c, state, stepsPerEpoch, progress } = ctx;
  const perStep = c.data.batchSize * c.optim.accumulate;
  let globalStep = state.nextEpoch * stepsPerEpoch;
  for (let epoch = state.nextEpoch; epoch < c.optim.epochs; epoch++) {
    const t0 = Date.now();
    const sums: Record<string, number> = {};
    let steps = 0;
    let lr = learningRate(c.optim, epoch, 0);
    let micro: data.Batch[] = [];
    progress.startEpoch(epoch);
    for (const batch of data.trainBatches(ctx.train, ctx.batchOptions, epoch)) {
      if (ctx.signal) {
        // Let signal handlers and messages run: a step's awaits settle as microtasks, which never yield to them.
        await new Promise((r) => setImmediate(r));
        if (ctx.signal.aborted) {
          tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
          for (const b of micro) tf.dispose([b.x, b.y, b.mixup?.yB]);
          return 'signal';
        }
      }
      if (steps >= stepsPerEpoch) {
        tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
        break;
      }
      micro.push(batch);
      if (micro.length < c.optim.accumulate) continue;
      lr = learningRate(c.optim, epoch, steps / stepsPerEpoch);
      const { totals, terms } = await ctx.step(micro, lr, globalStep);
      micro = [];
      const where = `epoch ${epoch + 1}, step ${steps + 1} (global step ${globalStep + 1})`;
      for (const total of totals) checkLoss(total, state.lossReference, where);
      if (state.lossReference == null) state.lossReference = totals[0];
      for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v;
      steps++;
      globalStep++;
      state.images += perStep;
      progress.step(steps, terms, (steps * perStep) / ((Date.now() - t0) / 1000));
      ctx.onStep?.({ epoch, step: steps, globalStep, lr, total: terms.total, terms });
    }
    for (const b of micro) tf.dispose([b.x, b.y, b.mixup?.yB]);
    const seconds = (Date.now() - t0) / 1000;
    state.seconds += seconds;
    const info: EpochInfo = {
      epoch: epoch + 1,
      lr,
      losses: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, steps)])),
      imgPerSec: (steps * perStep) / seconds,
      seconds,
      numTensors: tf.memory().numTensors,
      host: `${os.cpus()[0]?.model?.trim() || os.arch()} (${tf.getBackend()})`,
    };
    await checkFinite(ctx.stateTensors(), epoch + 1);
    if (c.eval.every > 0 && (epoch + 1) % c.eval.every === 0 && epoch + 1 < c.optim.epochs)
      info.test = await ctx.evaluate();
    state.epochs.push(info);
    state.nextEpoch = epoch + 1;
    progress.endEpoch(info);
    ctx.onEpoch?.(info);
    await ctx.save?.(state);
    if (ctx.save && pastDeadline(ctx.deadline, seconds, c.optim.epochs - epoch - 1)) return 'deadline';
  }
  return 'finished';
}
