/**
 * Test-set evaluation of a K-expert model: top-1, per-class accuracy, the many/medium/few splits (by training
 * count, Sec. 4.1), for each expert alone, their mean, and the ensemble (averaged logits).
 */
import { tf } from '../tf';
import type { MultiExpert } from '../models/experts';
import { evalBatches } from '../data';
import { splitOf } from '../data';
import type { ImageSet } from '../data';

export interface SplitAccuracy {
  /** Fraction of test images classified correctly. */
  top1: number;
  /** Accuracy of each class (index = class id). */
  perClass: number[];
  /** Mean per-class accuracy over the classes of each split; null when the split has no class. */
  many: number | null;
  medium: number | null;
  few: number | null;
}

export interface EvalResult extends SplitAccuracy {
  /** Each expert alone. */
  experts: SplitAccuracy[];
  /** Mean over experts of each number. */
  expertMean: SplitAccuracy;
  /** The ensemble (averaged logits); the top-level numbers are the ensemble's (= the expert's when K = 1). */
  ensemble: SplitAccuracy;
}

/** Split accuracies from per-class correct/total counts and the training counts that define the splits. */
export function splitAccuracy(correct: number[], total: number[], classCounts: number[]): SplitAccuracy {
  const perClass = correct.map((c, j) => (total[j] > 0 ? c / total[j] : 0));
  const byS: Record<'many' | 'medium' | 'few', number[]> = { many: [], medium: [], few: [] };
  classCounts.forEach((n, j) => {
    if (total[j] > 0) byS[splitOf(n)].push(perClass[j]);
  });
  const mean = (a: number[]) => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : null);
  const sumC = correct.reduce((s, x) => s + x, 0);
  const sumT = total.reduce((s, x) => s + x, 0);
  return {
    top1: sumT ? sumC / sumT : 0,
    perClass,
    many: mean(byS.many),
    medium: mean(byS.medium),
    few: mean(byS.few),
  };
}

function meanOf(list: SplitAccuracy[]): SplitAccuracy {
  const m = (f: (s: SplitAccuracy) => number | null) => {
    const v = list.map(f).filter((x): x is number => x != null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return {
    top1: m((s) => s.top1) ?? 0,
    perClass: list[0].perClass.map((_, j) => m((s) => s.perClass[j]) ?? 0),
    many: m((s) => s.many),
    medium: m((s) => s.medium),
    few: m((s) => s.few),
  };
}

/**
 * Logits of every expert on every image of `set` (eval mode), as Float32Arrays [N·C] per expert, plus labels.
 * The building block of every analysis below.
 */
export async function predictAll(
  model: MultiExpert,
  set: ImageSet,
  o: { batchSize: number; mean: number[]; std: number[] },
): Promise<{ logits: Float32Array[]; labels: Int32Array; numClasses: number }> {
  const C = model.opts.numClasses;
  const logits = model.experts.map(() => new Float32Array(set.n * C));
  for (const b of evalBatches(set, o.batchSize, o.mean, o.std)) {
    // One tidy per expert, so that only one expert's activations are alive at a time: with all K in one scope, 4
    // experts at batch 1000 (28×28 inputs) need ~3.4 GB and exhaust the 4 GB wasm heap (which tfjs-wasm alone
    // does not notice: see ncl-kernels' heap-guard.ts).
    const outs = model.experts.map((e) => tf.tidy(() => e.apply(b.x, false).logits));
    for (let k = 0; k < outs.length; k++) logits[k].set(await outs[k].data(), b.start * C);
    tf.dispose([...outs, b.x, b.y]);
  }
  return { logits, labels: set.labels, numClasses: C };
}

function argmaxRows(l: Float32Array, C: number): Int32Array {
  const n = l.length / C;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < C; j++) if (l[i * C + j] > l[i * C + best]) best = j;
    out[i] = best;
  }
  return out;
}

function accuracyOf(pred: Int32Array, labels: Int32Array, classCounts: number[]): SplitAccuracy {
  const C = classCounts.length;
  const correct = new Array<number>(C).fill(0);
  const total = new Array<number>(C).fill(0);
  for (let i = 0; i < labels.length; i++) {
    total[labels[i]]++;
    if (pred[i] === labels[i]) correct[labels[i]]++;
  }
  return splitAccuracy(correct, total, classCounts);
}

/** Evaluate on a (balanced) test set; `classCounts` are the training counts that define many/medium/few. */
export async function evaluateModel(
  model: MultiExpert,
  set: ImageSet,
  classCounts: number[],
  o: { batchSize: number; mean: number[]; std: number[] },
): Promise<EvalResult> {
  return evaluatePredictions(await predictAll(model, set, o), classCounts);
}

/** The output of `predictAll`: logits [N·C] per expert, labels [N]. */
export type Predictions = Awaited<ReturnType<typeof predictAll>>;

/**
 * `evaluateModel` on predictions already made by `predictAll` (so that one inference pass can serve both the
 * accuracy and `analyzeModel`).
 */
export function evaluatePredictions(p: Predictions, classCounts: number[]): EvalResult {
  const { logits, labels, numClasses: C } = p;
  const experts = logits.map((l) => accuracyOf(argmaxRows(l, C), labels, classCounts));
  const avg = new Float32Array(logits[0].length);
  for (const l of logits) for (let i = 0; i < l.length; i++) avg[i] += l[i] / logits.length;
  const ensemble = accuracyOf(argmaxRows(avg, C), labels, classCounts);
  return { ...ensemble, experts, expertMean: meanOf(experts), ensemble };
}
