/**
 * Check of the compiled WebGPU training step against the eager tfjs step on a reference backend: two NCL++
 * training steps of the same seeded K = 2 expert network on the same batches, through the compiled plan on the
 * current backend (webgpu) and through lib/src/train/step.ts on `reference` (cpu). Compared: the loss terms of both
 * steps, the momentum buffers after step 1 (= gradient + wd·w) and every weight, batch-norm running statistic and
 * momentum buffer after step 2, each tensor's error relative to its largest magnitude. Used by
 * test/compiled-step.test.ts and by scripts/gpu/entry.ts (`stepcheck`, on a GPU machine).
 */
import assert from 'node:assert/strict';
import { tf, initBackend, losses, models } from '../../lib/src';
import type * as data from '../../lib/src/data';
import type { BackendChoice } from '../../lib/src/backend';
import { SGD } from '../../lib/src/train/sgd';
import { sgdStep } from '../../lib/src/train/step';
import { customLoss } from '../../lib/src/train/loss';
import { compiledStep, compiledStepStats } from '../../lib/src/train/compiled-step';
import { seeded } from './gradcheck';

export interface Case {
  model: 'resnet8' | 'resnet32';
  copies: number;
  batch: number;
  size: number;
}

export const CLASSES = 10;

export function batchOf(c: Case, step: number): data.Batch {
  const rows = c.batch * c.copies;
  const x = tf.tensor4d(seeded(rows * c.size * c.size * 3, 17 + step), [rows, c.size, c.size, 3]);
  const labels = Int32Array.from({ length: rows }, (_, i) => ((i % c.batch) * 7 + 3 * step) % CLASSES);
  return { x, y: tf.tensor1d(labels, 'int32'), indices: new Int32Array(c.batch) };
}

interface Trained {
  totals: number[];
  terms: Record<string, number>[];
  /** Momentum buffers after step 1, weights / running statistics / momentum after step 2, by parameter name. */
  buf1: Map<string, Float32Array>;
  after: Map<string, Float32Array>;
}

/** Two steps of `c` on the current backend, through the compiled step or the eager one. */
export async function train(c: Case, compiled: boolean): Promise<Trained> {
  const model = models.createModel(
    { name: c.model, numClasses: CLASSES, inChannels: 3, width: 4, numExperts: 2 },
    11,
  );
  const sgd = new SGD(new Map(model.store.trainable), 0.9, 5e-4);
  const loss = customLoss(losses.lossForMethod('nclpp', { numCopies: c.copies, numHard: 3 }));
  const counts = Array.from({ length: CLASSES }, (_, i) => 100 - 9 * i);
  const eager = sgdStep(model, loss, sgd, [...model.store.trainable.values()], counts);
  const step = compiled ? compiledStep(model, loss, sgd, counts, eager) : eager;
  const out: Trained = { totals: [], terms: [], buf1: new Map(), after: new Map() };
  for (let s = 0; s < 2; s++) {
    const r = await step([batchOf(c, s)], 0.1, s);
    out.totals.push(...r.totals);
    out.terms.push(r.terms);
    if (s === 0) for (const [k, b] of sgd.buffers) out.buf1.set(k, (await b.data()) as Float32Array);
  }
  for (const [k, v] of model.store.all()) out.after.set(k, (await v.data()) as Float32Array);
  for (const [k, b] of sgd.buffers) out.after.set(`sgd.${k}`, (await b.data()) as Float32Array);
  sgd.dispose();
  model.dispose();
  return out;
}

/** Largest |a − b| relative to the reference tensor's largest magnitude, over all tensors; and where. */
export function maxRelErr(
  a: Map<string, Float32Array>,
  b: Map<string, Float32Array>,
): { err: number; at: string } {
  let err = 0;
  let at = '';
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, ref] of b) {
    const got = a.get(k)!;
    let d = 0;
    let scale = 1e-6;
    for (let i = 0; i < ref.length; i++) {
      d = Math.max(d, Math.abs(got[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    if (d / scale > err) {
      err = d / scale;
      at = k;
    }
  }
  return { err, at };
}

export interface StepCheck {
  case: Case;
  backend: string;
  reference: string;
  /** Steps that ran on the compiled plan (2 when it applied). */
  compiledSteps: number;
  /** Largest |Δ| of a loss term relative to max(1, |reference|), over both steps. */
  lossErr: number;
  gradErr: number;
  gradAt: string;
  stateErr: number;
  stateAt: string;
  /** tf.memory().numTensors after minus before the compiled run. */
  leakedTensors: number;
}

/** Two steps of `c` on `backend` (compiled) and on `reference` (eager); leaves `backend` current. */
export async function stepCheck(
  c: Case,
  backend: BackendChoice = 'webgpu',
  reference: BackendChoice = 'cpu',
): Promise<StepCheck> {
  await initBackend({ backend: reference, quiet: true });
  const ref = await train(c, false);
  await initBackend({ backend, quiet: true });
  const before = compiledStepStats.steps;
  const tensors = tf.memory().numTensors;
  const got = await train(c, true);
  let lossErr = 0;
  for (let s = 0; s < 2; s++)
    for (const [k, v] of Object.entries(ref.terms[s]))
      lossErr = Math.max(lossErr, Math.abs(got.terms[s][k] - v) / Math.max(1, Math.abs(v)));
  const g = maxRelErr(got.buf1, ref.buf1);
  const w = maxRelErr(got.after, ref.after);
  return {
    case: c,
    backend,
    reference,
    compiledSteps: compiledStepStats.steps - before,
    lossErr,
    gradErr: g.err,
    gradAt: g.at,
    stateErr: w.err,
    stateAt: w.at,
    leakedTensors: tf.memory().numTensors - tensors,
  };
}

/** The cases of the tests: ResNet-8 and ResNet-32 (width 4), T = 2 and 4. */
export const STEP_CASES: Case[] = [
  { model: 'resnet8', copies: 2, batch: 4, size: 16 },
  { model: 'resnet8', copies: 4, batch: 3, size: 16 },
  { model: 'resnet32', copies: 2, batch: 2, size: 8 },
  { model: 'resnet32', copies: 4, batch: 2, size: 8 },
];
