/**
 * The long-tailed (LT) protocol of Cao et al. (LDAM, 2019), used for CIFAR-10/100-LT by NCL++ (Sec. 4.1):
 * class i keeps n_i = floor(nMax · IF^(−i/(C−1))) training images (class 0 the head, class C−1 the tail, with
 * nMax/IF images); the test set stays balanced. Which images a class keeps is a seeded choice, and the choice can
 * be saved to / loaded from JSON so that a subset is shared exactly (LT results are sensitive to it).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { z } from 'zod';
import { atomicWrite } from '../atomic';
import { DataError, displayPath, fileError } from './errors';
import { rngFor, shuffleInPlace } from './rng';
import { DATASET_NAMES, type Dataset, type DatasetName, type ImageSet, imageSize } from './types';

/**
 * Per-class counts of the exponential LT profile: n_i = floor(nMax · IF^(−i/(C−1))), i = 0..C−1.
 * Totals: CIFAR-10-LT (5000) 12,406 at IF 100 and 13,996 at IF 50; CIFAR-100-LT (500) 10,847 and 12,608;
 * Fashion-MNIST-LT (6000) 14,886 at IF 100. IF 1 gives nMax for every class.
 */
export function longTailCounts(numClasses: number, nMax: number, imbalanceFactor: number): number[] {
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new Error(`numClasses must be ≥ 1, got ${numClasses}`);
  if (!(nMax >= 1)) throw new Error(`nMax must be ≥ 1, got ${nMax}`);
  if (!(imbalanceFactor >= 1)) throw new Error(`imbalanceFactor must be ≥ 1, got ${imbalanceFactor}`);
  if (numClasses === 1) return [Math.floor(nMax)];
  // The 1e-9 guards exact products (e.g. 5000/100) against landing a hair below an integer.
  return Array.from({ length: numClasses }, (_, i) =>
    Math.floor(nMax * Math.pow(imbalanceFactor, -i / (numClasses - 1)) + 1e-9),
  );
}

export type Split = 'many' | 'medium' | 'few';

/** The paper's splits by training images per class: many (> 100), medium (20–100), few (< 20). */
export function splitOf(n: number): Split {
  return n > 100 ? 'many' : n >= 20 ? 'medium' : 'few';
}

/** Number of images of each class in `labels` (int32 [numClasses]). */
export function classHistogram(labels: ArrayLike<number>, numClasses: number): number[] {
  const h = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) h[labels[i]]++;
  return h;
}

export interface LongTailSubset {
  dataset: DatasetName;
  imbalanceFactor: number;
  seed: number;
  /** Fraction of each class's LT count kept (NCL++ Table 9); 1 = the full LT set. */
  fraction: number;
  /** Indices into the dataset's training set, ascending. */
  indices: number[];
  /** Images kept per class (head first). */
  classCounts: number[];
}

/**
 * A seeded LT subset of `ds.train`. nMax is the number of class-0 images; class c keeps
 * max(1, floor(fraction · n_c)) images (never more than it has), chosen uniformly at random with `seed`.
 * imbalanceFactor 1 keeps every image (× fraction), the full balanced set.
 */
export function longTailSubset(
  ds: Dataset,
  opts: { imbalanceFactor: number; seed: number; fraction?: number },
): LongTailSubset {
  const fraction = opts.fraction ?? 1;
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`fraction must be in (0, 1], got ${fraction}`);
  const C = ds.numClasses;
  const byClass: number[][] = Array.from({ length: C }, () => []);
  const labels = ds.train.labels;
  for (let i = 0; i < ds.train.n; i++) byClass[labels[i]].push(i);
  const available = byClass.map((a) => a.length);
  const target =
    opts.imbalanceFactor === 1
      ? available
      : longTailCounts(C, Math.max(1, available[0]), opts.imbalanceFactor);
  const classCounts = target.map((t, c) => {
    const n = Math.min(t, available[c]);
    return n === 0 ? 0 : Math.max(1, Math.floor(fraction * n + 1e-9));
  });
  const indices: number[] = [];
  byClass.forEach((members, c) => {
    const rng = rngFor('ncl-lt-subset', ds.name, opts.seed, c);
    const chosen = shuffleInPlace(Int32Array.from(members), rng).subarray(0, classCounts[c]);
    for (const i of chosen) indices.push(i);
  });
  indices.sort((a, b) => a - b);
  return {
    dataset: ds.name,
    imbalanceFactor: opts.imbalanceFactor,
    seed: opts.seed,
    fraction,
    indices,
    classCounts,
  };
}

/** The images of `set` at `indices`, in that order (a copy; NHWC uint8 [indices.length, H, W, C]). */
export function subsetImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageSize(set);
  const n = indices.length;
  const images = new Uint8Array(n * size);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < set.n && Number.isInteger(i)))
      throw new RangeError(`index ${i} at ${k} is outside [0, ${set.n})`);
    images.set(set.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = set.labels[i];
  }
  return { images, labels, n, height: set.height, width: set.width, channels: set.channels };
}

export const LongTailSubsetSchema = z
  .object({
    dataset: z.enum(DATASET_NAMES),
    imbalanceFactor: z.number().min(1),
    seed: z.number().int(),
    fraction: z.number().gt(0).max(1),
    indices: z.array(z.number().int().nonnegative()),
    classCounts: z.array(z.number().int().nonnegative()),
  })
  .strict()
  .superRefine((s, ctx) => {
    const total = s.classCounts.reduce((a, b) => a + b, 0);
    if (total !== s.indices.length) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `classCounts sum to ${total} but there are ${s.indices.length} indices`,
      });
    }
    for (let k = 1; k < s.indices.length; k++) {
      if (s.indices[k] <= s.indices[k - 1]) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['indices', k],
          message: 'indices must be strictly ascending (no repeats)',
        });
        break;
      }
    }
  });

/**
 * SHA-256 (hex) of a subset's image indices written as JSON (`[1,2,4,...]`, the `indices` line of `saveSubset`): a
 * run's metrics.json records it, so the subset a run trained on can be regenerated from its config
 * (`longTailSubset` or `ncl data subset`) and checked without keeping the 15k-index file beside every run.
 */
export function subsetDigest(s: Pick<LongTailSubset, 'indices'>): string {
  return crypto.createHash('sha256').update(JSON.stringify(s.indices)).digest('hex');
}

/** Writes `s` as JSON (atomically: a temp file renamed into place). Indices and counts on one line each. */
export function saveSubset(file: string, s: LongTailSubset): void {
  const ok = LongTailSubsetSchema.safeParse(s);
  if (!ok.success)
    throw new DataError(`cannot save subset to ${displayPath(file)}: ${zodLine(ok.error)}`, file);
  const text =
    '{\n' +
    `  "dataset": ${JSON.stringify(s.dataset)},\n` +
    `  "imbalanceFactor": ${s.imbalanceFactor},\n` +
    `  "seed": ${s.seed},\n` +
    `  "fraction": ${s.fraction},\n` +
    `  "classCounts": ${JSON.stringify(s.classCounts)},\n` +
    `  "indices": ${JSON.stringify(s.indices)}\n` +
    '}\n';
  atomicWrite(file, text);
}

function zodLine(err: z.ZodError): string {
  const i = err.issues[0];
  const where = i.path.length ? `${i.path.join('.')}: ` : '';
  const more = err.issues.length > 1 ? ` (and ${err.issues.length - 1} more)` : '';
  return `${where}${i.message}${more}`;
}

/** Reads a subset written by `saveSubset`; a one-line `DataError` naming the file if it is not one. */
export function loadSubset(file: string): LongTailSubset {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw fileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fileError(file, `not valid JSON (${(e as Error).message})`);
  }
  const ok = LongTailSubsetSchema.safeParse(json);
  if (!ok.success) throw fileError(file, `not a long-tail subset: ${zodLine(ok.error)}`);
  return ok.data;
}

/** Throws a `DataError` if `s` does not fit `ds` (other dataset, index out of range, class counts differ). */
export function checkSubset(ds: Dataset, s: LongTailSubset, file = 'subset'): void {
  const bad = (m: string) => new DataError(`${file}: ${m}`);
  if (s.dataset !== ds.name) throw bad(`is for ${s.dataset}, not ${ds.name}`);
  if (s.classCounts.length !== ds.numClasses) {
    throw bad(`has ${s.classCounts.length} class counts, ${ds.name} has ${ds.numClasses} classes`);
  }
  const h = new Array<number>(ds.numClasses).fill(0);
  for (const i of s.indices) {
    if (i >= ds.train.n) throw bad(`index ${i} is outside the ${ds.train.n} training images`);
    h[ds.train.labels[i]]++;
  }
  const c = h.findIndex((v, k) => v !== s.classCounts[k]);
  if (c >= 0) throw bad(`class ${c} has ${h[c]} images in the subset, classCounts says ${s.classCounts[c]}`);
}
