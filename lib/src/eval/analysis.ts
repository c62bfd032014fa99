/**
 * The analyses behind the paper's figures, computed from a trained model on the test set:
 *   - per-class KL distance between two experts (Fig. 2a, 9a) and between two augmented copies of the same image
 *     for one expert (Fig. 2a, 9b);
 *   - the probability of the hardest negative class, max_{j≠y} p_j (Fig. 11a);
 *   - penultimate features of a class-balanced sample, for t-SNE (Fig. 10);
 *   - the predicted distributions of each expert on a few fixed test images (Fig. 2b).
 * Probabilities are the plain softmax of the logits (what the model predicts at test time).
 * The result is small and JSON-serialisable: the runner stores it beside metrics.json as analysis.json.
 */
import { tf } from '../tf';
import { trainBatches } from '../data';
import type { ImageSet } from '../data';
import type { MultiExpert } from '../models/experts';
import { predictAll, Predictions } from './metrics';

export interface Analysis {
  /** Per class: mean over its test images of ½(KL(p₁‖p₂) + KL(p₂‖p₁)) between experts 1 and 2; null if K = 1. */
  klExperts: number[] | null;
  /** Per class: mean symmetric KL between expert 1's predictions on two SimAug copies of each test image. */
  klCopies: number[];
  /** Histogram of max_{j≠y} p_j for expert 1 and the ensemble: `bins` edges in [0,1] and counts. */
  hardestNegative: {
    edges: number[];
    expert: number[];
    ensemble: number[];
    meanExpert: number;
    meanEnsemble: number;
  };
  /** A class-balanced sample of test images: their labels and expert 1's penultimate features [n][F]. */
  features: { labels: number[]; indices: number[]; values: number[][] };
  /** Softmax of every expert on a few fixed test images: examples[i] = { index, label, probs: [K][C] }. */
  examples: { index: number; label: number; probs: number[][] }[];
}

const EPS = 1e-12;

function softmaxRows(l: Float32Array, C: number): Float32Array {
  const p = new Float32Array(l.length);
  for (let i = 0; i < l.length; i += C) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, l[i + j]);
    let s = 0;
    for (let j = 0; j < C; j++) s += p[i + j] = Math.exp(l[i + j] - m);
    for (let j = 0; j < C; j++) p[i + j] /= s;
  }
  return p;
}

/** Symmetric KL between rows r of p and q (both [N·C] probability arrays). */
export function symmetricKL(p: Float32Array, q: Float32Array, r: number, C: number): number {
  let kl = 0;
  for (let j = 0; j < C; j++) {
    const a = Math.max(p[r * C + j], EPS);
    const b = Math.max(q[r * C + j], EPS);
    kl += 0.5 * (a - b) * (Math.log(a) - Math.log(b));
  }
  return kl;
}

/** Mean of `values[i]` over the images of each class. */
function perClassMean(values: Float64Array, labels: Int32Array, C: number): number[] {
  const s = new Array<number>(C).fill(0);
  const n = new Array<number>(C).fill(0);
  for (let i = 0; i < labels.length; i++) {
    s[labels[i]] += values[i];
    n[labels[i]]++;
  }
  return s.map((v, j) => (n[j] ? v / n[j] : 0));
}

export interface AnalysisOptions {
  batchSize: number;
  mean: number[];
  std: number[];
  /** Seed of the augmented copies and of the feature sample. */
  seed: number;
  /** Test images per class in the feature sample (default 30). */
  featuresPerClass?: number;
  /** Histogram bins (default 20). */
  bins?: number;
  /** Test indices of the Fig. 2b examples (default the first image of the first three classes). */
  exampleIndices?: number[];
  /** `predictAll(model, set)` when the caller already has it (saves one inference pass over `set`). */
  predictions?: Predictions;
}

export async function analyzeModel(model: MultiExpert, set: ImageSet, o: AnalysisOptions): Promise<Analysis> {
  const C = model.opts.numClasses;
  const { logits, labels } = o.predictions ?? (await predictAll(model, set, o));
  const probs = logits.map((l) => softmaxRows(l, C));
  const N = set.n;

  // KL between experts 1 and 2.
  let klExperts: number[] | null = null;
  if (probs.length >= 2) {
    const v = new Float64Array(N);
    for (let i = 0; i < N; i++) v[i] = symmetricKL(probs[0], probs[1], i, C);
    klExperts = perClassMean(v, labels, C);
  }

  // KL between two augmented copies, expert 1.
  const klc = new Float64Array(N);
  for (const b of trainBatches(
    set,
    {
      batchSize: o.batchSize,
      numCopies: 2,
      augment: 'simaug',
      seed: o.seed,
      mean: o.mean,
      std: o.std,
      shuffle: false,
    },
    0,
  )) {
    const l = tf.tidy(() => model.experts[0].apply(b.x, false).logits);
    const p = softmaxRows((await l.data()) as Float32Array, C);
    tf.dispose([l, b.x, b.y, b.mixup?.yB]);
    const B = b.indices.length;
    const q = p.subarray(B * C);
    for (let i = 0; i < B; i++) klc[b.indices[i]] = symmetricKL(p, q, i, C);
  }
  const klCopies = perClassMean(klc, labels, C);

  // Hardest negative probability.
  const bins = o.bins ?? 20;
  const edges = Array.from({ length: bins + 1 }, (_, k) => k / bins);
  const ens = softmaxRows(
    logits[0].map((_, k) => logits.reduce((s, l) => s + l[k], 0) / logits.length),
    C,
  );
  const hist = (p: Float32Array) => {
    const h = new Array<number>(bins).fill(0);
    let sum = 0;
    for (let i = 0; i < N; i++) {
      let m = 0;
      for (let j = 0; j < C; j++) if (j !== labels[i]) m = Math.max(m, p[i * C + j]);
      h[Math.min(bins - 1, Math.floor(m * bins))]++;
      sum += m;
    }
    return { h, mean: sum / N };
  };
  const he = hist(probs[0]);
  const hn = hist(ens);

  // Feature sample: the first `per` test images of each class.
  const per = o.featuresPerClass ?? 30;
  const seen = new Array<number>(C).fill(0);
  const idx: number[] = [];
  for (let i = 0; i < N; i++) if (seen[labels[i]]++ < per) idx.push(i);
  const values: number[][] = [];
  for (let s = 0; s < idx.length; s += o.batchSize) {
    const part = idx.slice(s, s + o.batchSize);
    const f = tf.tidy(() => {
      const x = batchOf(set, part, o.mean, o.std);
      return model.experts[0].apply(x, false).features;
    });
    const arr = (await f.array()) as number[][];
    f.dispose();
    for (const row of arr) values.push(row.map((v) => +v.toFixed(4)));
  }

  const exIdx = o.exampleIndices ?? [0, 1, 2].map((c) => labels.indexOf(c)).filter((i) => i >= 0);
  const examples = exIdx.map((i) => ({
    index: i,
    label: labels[i],
    probs: probs.map((p) => Array.from(p.subarray(i * C, (i + 1) * C)).map((v) => +v.toFixed(6))),
  }));

  return {
    klExperts,
    klCopies,
    hardestNegative: { edges, expert: he.h, ensemble: hn.h, meanExpert: he.mean, meanEnsemble: hn.mean },
    features: { labels: idx.map((i) => labels[i]), indices: idx, values },
    examples,
  };
}

/** Normalised float batch [n,H,W,C] of the images at `idx` (no augmentation). */
function batchOf(set: ImageSet, idx: number[], mean: number[], std: number[]): tf.Tensor4D {
  const size = set.height * set.width * set.channels;
  const out = new Float32Array(idx.length * size);
  idx.forEach((i, k) => {
    for (let p = 0; p < size; p++) {
      const c = p % set.channels;
      out[k * size + p] = (set.images[i * size + p] / 255 - mean[c]) / std[c];
    }
  });
  return tf.tensor4d(out, [idx.length, set.height, set.width, set.channels]);
}
