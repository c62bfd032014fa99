/**
 * One optimizer step, kept apart from the loop so that a backend can swap in its own (e.g. a compiled step): forward,
 * loss and backward over the step's micro-batches (`optim.accumulate` of them; their gradients are averaged), then
 * the SGD update.
 */
import { tf } from '../tf';
import type * as data from '../data';
import type { MultiExpert } from '../models/experts';
import type { LossFn } from '../losses';
import type { SGD } from './sgd';
import type { TrainLoss } from './loss';

/** What a step reports: the total loss of every micro-batch, and the named terms (and `total`) of the last one. */
export interface StepLosses {
  totals: number[];
  terms: Record<string, number>;
}

/**
 * Train one step on `batches` (disposing them) at learning rate `lr`; `globalStep` counts steps from the run's
 * start. A micro-batch whose loss is not finite ends the step early, without an update (the loop stops the run).
 */
export type StepFn = (batches: data.Batch[], lr: number, globalStep: number) => Promise<StepLosses>;

/** The default step: tf.variableGrads per micro-batch, summed, divided by their number, then `sgd.step`. */
export function sgdStep(
  model: MultiExpert,
  loss: TrainLoss,
  sgd: SGD,
  vars: tf.Variable[],
  classCounts: number[],
): StepFn {
  return async (batches, lr, globalStep) => {
    const totals: number[] = [];
    const terms: Record<string, number> = {};
    let acc: Record<string, tf.Tensor> | null = null;
    for (const [i, batch] of batches.entries()) {
      loss.prepare(batch, globalStep);
      const out = computeGrads(model, loss.fn, batch, classCounts, vars);
      tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
      const termValues = await out.terms.data();
      out.terms.dispose();
      const total = (await out.value.data())[0];
      out.value.dispose();
      totals.push(total);
      if (!Number.isFinite(total)) {
        tf.dispose([...Object.values(out.grads), ...Object.values(acc ?? {})]);
        for (const b of batches.slice(i + 1)) tf.dispose([b.x, b.y, b.mixup?.yB]);
        return { totals, terms: { total } };
      }
      if (i === batches.length - 1) {
        terms.total = total;
        out.names.forEach((n, k) => (terms[n] = termValues[k]));
      }
      acc = accumulate(acc, out.grads);
    }
    if (batches.length === 1) {
      sgd.step(acc!, lr);
      tf.dispose(Object.values(acc!));
    } else {
      const n = batches.length;
      const mean = tf.tidy(() => Object.fromEntries(Object.entries(acc!).map(([k, g]) => [k, g.div(n)])));
      sgd.step(mean, lr);
      tf.dispose([...Object.values(acc!), ...Object.values(mean)]);
    }
    return { totals, terms };
  };
}

/**
 * The loss of one batch as a function of its logits: `lossFn(logits, batch.y)`, or with mixup (the batch's images
 * mixed with a permutation of themselves, see data/batches.ts) λ·L(y) + (1 − λ)·L(y_b), for the total and every
 * term. The one mixup combiner of both steps: this file's and the compiled one (./compiled-step.ts).
 */
export function batchLoss(
  lossFn: LossFn,
  batch: data.Batch,
  classCounts: number[],
): (logits: tf.Tensor2D[]) => { total: tf.Scalar; terms: Record<string, tf.Scalar> } {
  return (logits) => {
    const out = lossFn(logits, batch.y, classCounts);
    if (!batch.mixup) return out;
    const lam = batch.mixup.lam;
    const outB = lossFn(logits, batch.mixup.yB, classCounts);
    const mix = (a: tf.Scalar, b: tf.Scalar): tf.Scalar => a.mul(lam).add(b.mul(1 - lam));
    return {
      total: mix(out.total, outB.total),
      terms: Object.fromEntries(Object.entries(out.terms).map(([k, v]) => [k, mix(v, outB.terms[k])])),
    };
  };
}

/** Loss (`batchLoss`) and gradients of one batch. Terms come back stacked in one tensor. */
function computeGrads(
  model: MultiExpert,
  lossFn: LossFn,
  batch: data.Batch,
  classCounts: number[],
  vars: tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor>; terms: tf.Tensor1D; names: string[] } {
  let terms: tf.Tensor1D | null = null;
  let names: string[] = [];
  const loss = batchLoss(lossFn, batch, classCounts);
  const { value, grads } = tf.variableGrads(() => {
    const out = loss(model.apply(batch.x, true).map((o) => o.logits));
    names = Object.keys(out.terms);
    terms = tf.keep(names.length ? tf.stack(names.map((k) => out.terms[k])) : tf.zeros([0])) as tf.Tensor1D;
    return out.total;
  }, vars);
  return { value, grads, terms: terms!, names };
}

function accumulate(
  acc: Record<string, tf.Tensor> | null,
  grads: Record<string, tf.Tensor>,
): Record<string, tf.Tensor> {
  if (!acc) return grads;
  const out = tf.tidy(() => Object.fromEntries(Object.entries(acc).map(([k, g]) => [k, g.add(grads[k])])));
  tf.dispose([...Object.values(acc), ...Object.values(grads)]);
  return out;
}
