/**
 * Training and evaluation batches as tensors, built in plain JS from uint8 images (one Float32Array per batch, then
 * one `tf.tensor4d`).
 *
 * Training batch b of epoch e, for B images and T copies:
 *   x: [T·B, H, W, C] float32, normalised ((v/255 − mean_c) / std_c), copy-major: row t·B + i is copy t of image i
 *   y: int32 [T·B], y[t·B + i] = label of image i (repeated per copy)
 *   indices: int32 [B], the images (indices into the ImageSet)
 *   mixup (when o.mixup > 0): lam ~ Beta(α, α) for the batch and a permutation π of the B images; row t·B + i
 *     becomes lam · row(t·B + i) + (1 − lam) · row(t·B + π(i)), so the T copies of an image share one partner, and
 *     yB[t·B + i] = label of image π(i). Loss: lam · CE(y) + (1 − lam) · CE(yB).
 * The order depends only on (seed, epoch) and the augmentations of batch b only on (seed, epoch, b), so a run
 * resumed at epoch e (or batch b) sees exactly the batches it would have seen.
 */
import { tf } from '../tf';
import { type AugmentName, cropFlip, imageAt, randAugmentInto, SIMAUG_PAD, simAugParams } from './augment';
import { beta, permutation, rngFor, type Rng } from './rng';
import { type ImageSet, imageSize } from './types';

export interface BatchOptions {
  batchSize: number;
  /** T, the augmented copies of each image (IntraCL). */
  numCopies: number;
  augment: AugmentName;
  /** RandAugment N ops at magnitude M (0–30); default { n: 2, m: 9 }. */
  randAugment?: { n: number; m: number };
  /** Mixup α; 0 or undefined = off. */
  mixup?: number;
  seed: number;
  /** Per-channel normalisation in [0,1] units (Dataset.mean / Dataset.std). */
  mean: number[];
  std: number[];
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean;
  /** Horizontal flips in SimAug / RandAugment (default true). */
  hflip?: boolean;
}

export interface Batch {
  /** [T·B, H, W, C] float32, normalised, copy-major. */
  x: tf.Tensor4D;
  /** int32 [T·B]. */
  y: tf.Tensor1D;
  /** int32 [B], indices into the ImageSet. */
  indices: Int32Array;
  mixup?: { yB: tf.Tensor1D; lam: number };
}

/** Table lut[c·256 + v] = (v/255 − mean[c]) / std[c]. */
export function normalizationTable(mean: number[], std: number[], channels: number): Float32Array {
  if (mean.length !== channels || std.length !== channels) {
    throw new Error(`mean/std have ${mean.length}/${std.length} entries, images have ${channels} channels`);
  }
  const lut = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    if (!(std[c] > 0)) throw new Error(`std[${c}] must be > 0, got ${std[c]}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  return lut;
}

function writeNormalized(src: Uint8Array, out: Float32Array, at: number, C: number, lut: Float32Array): void {
  if (C === 1) {
    for (let k = 0; k < src.length; k++) out[at + k] = lut[src[k]];
    return;
  }
  for (let k = 0; k < src.length; k += C) {
    for (let c = 0; c < C; c++) out[at + k + c] = lut[c * 256 + src[k + c]];
  }
}

/** SimAug written straight into the float batch: crop of the zero-padded image at (dy, dx), optional flip. */
function writeCropFlip(
  set: ImageSet,
  i: number,
  dy: number,
  dx: number,
  flip: boolean,
  out: Float32Array,
  at: number,
  lut: Float32Array,
): void {
  const { height: H, width: W, channels: C, images } = set;
  const base = i * H * W * C;
  const shift = dx - SIMAUG_PAD;
  // Output columns whose source column x' + shift lies inside the image (x' = flip ? W-1-x : x).
  const lo = Math.max(0, -shift);
  const hi = Math.min(W, W - shift);
  for (let y = 0; y < H; y++) {
    const sy = y + dy - SIMAUG_PAD;
    const rowOut = at + y * W * C;
    if (sy < 0 || sy >= H) {
      for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) out[rowOut + x * C + c] = lut[c * 256];
      continue;
    }
    const rowIn = base + sy * W * C;
    for (let x = 0; x < W; x++) {
      const xs = flip ? W - 1 - x : x;
      const o = rowOut + x * C;
      if (xs < lo || xs >= hi) {
        for (let c = 0; c < C; c++) out[o + c] = lut[c * 256];
      } else if (C === 1) {
        out[o] = lut[images[rowIn + xs + shift]];
      } else {
        const s = rowIn + (xs + shift) * C;
        for (let c = 0; c < C; c++) out[o + c] = lut[c * 256 + images[s + c]];
      }
    }
  }
}

function checkOptions(set: ImageSet, o: BatchOptions): void {
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1))
    throw new Error(`batchSize must be ≥ 1, got ${o.batchSize}`);
  if (!(Number.isInteger(o.numCopies) && o.numCopies >= 1))
    throw new Error(`numCopies must be ≥ 1, got ${o.numCopies}`);
  if (!['none', 'simaug', 'randaugment'].includes(o.augment))
    throw new Error(`unknown augment '${o.augment}'`);
  if (o.mixup != null && !(o.mixup >= 0)) throw new Error(`mixup α must be ≥ 0, got ${o.mixup}`);
  if (set.n === 0) throw new Error('cannot batch an empty ImageSet');
}

/** Batches per epoch: ceil(n / B), or floor(n / B) with dropLast. */
export function numBatches(set: ImageSet, o: BatchOptions): number {
  return o.dropLast ? Math.floor(set.n / o.batchSize) : Math.ceil(set.n / o.batchSize);
}

/** The image order of `epoch` (a permutation of 0..n-1 from (seed, epoch), or 0..n-1 without shuffling). */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): Int32Array {
  if (!shuffle) return Int32Array.from({ length: n }, (_, i) => i);
  return permutation(n, rngFor('ncl-order', seed, epoch));
}

/**
 * The float data of one training batch (no tensors): x [T·B·H·W·C] as in the file comment, y [T·B], and the mixup
 * partner labels / lam when mixup is on. `indices` are the batch's images.
 */
export function buildBatchArrays(
  set: ImageSet,
  indices: Int32Array,
  o: BatchOptions,
  rng: Rng,
  mixRng?: Rng,
): { x: Float32Array; y: Int32Array; yB?: Int32Array; lam?: number } {
  const { height: H, width: W, channels: C } = set;
  const size = imageSize(set);
  const B = indices.length;
  const T = o.numCopies;
  const lut = normalizationTable(o.mean, o.std, C);
  const x = new Float32Array(T * B * size);
  const y = new Int32Array(T * B);
  const hflip = o.hflip ?? true;
  const ra = o.randAugment ?? { n: 2, m: 9 };
  const a = new Uint8Array(size);
  const b = new Uint8Array(size);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < B; k++) {
      const i = indices[k];
      const row = t * B + k;
      y[row] = set.labels[i];
      const at = row * size;
      if (o.augment === 'none') {
        writeNormalized(imageAt(set, i).data, x, at, C, lut);
        continue;
      }
      const p = simAugParams(rng);
      const flip = hflip && p.flip;
      if (o.augment === 'simaug') {
        writeCropFlip(set, i, p.dy, p.dx, flip, x, at, lut);
        continue;
      }
      cropFlip(imageAt(set, i), p.dy, p.dx, flip, SIMAUG_PAD, a);
      const res = randAugmentInto(a, b, H, W, C, ra.n, ra.m, rng);
      writeNormalized(res, x, at, C, lut);
    }
  }
  if (!o.mixup) return { x, y };
  const r = mixRng ?? rng;
  const lam = beta(r, o.mixup, o.mixup);
  const perm = permutation(B, r);
  const mixed = new Float32Array(x.length);
  const yB = new Int32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < B; k++) {
      const row = (t * B + k) * size;
      const other = (t * B + perm[k]) * size;
      for (let j = 0; j < size; j++) mixed[row + j] = lam * x[row + j] + (1 - lam) * x[other + j];
      yB[t * B + k] = set.labels[indices[perm[k]]];
    }
  }
  return { x: mixed, y, yB, lam };
}

/**
 * The training batches of `epoch` (see the file comment for shapes and layout). `fromBatch` skips ahead without
 * building the skipped batches (mid-epoch resume). The caller disposes x, y (and mixup.yB).
 */
export function* trainBatches(
  set: ImageSet,
  o: BatchOptions,
  epoch: number,
  fromBatch = 0,
): Generator<Batch> {
  checkOptions(set, o);
  const order = epochOrder(set.n, o.seed, epoch, o.shuffle ?? true);
  const nb = numBatches(set, o);
  const { height: H, width: W, channels: C } = set;
  for (let bi = fromBatch; bi < nb; bi++) {
    const indices = order.slice(bi * o.batchSize, Math.min(set.n, (bi + 1) * o.batchSize));
    const rng = rngFor('ncl-augment', o.seed, epoch, bi);
    const mixRng = rngFor('ncl-mixup', o.seed, epoch, bi);
    const arr = buildBatchArrays(set, indices, o, rng, mixRng);
    const rows = o.numCopies * indices.length;
    const batch: Batch = {
      x: tf.tensor4d(arr.x, [rows, H, W, C], 'float32'),
      y: tf.tensor1d(arr.y, 'int32'),
      indices,
    };
    if (arr.yB) batch.mixup = { yB: tf.tensor1d(arr.yB, 'int32'), lam: arr.lam ?? 1 };
    yield batch;
  }
}

/**
 * Evaluation batches: the images in order, no augmentation, normalised. x [b, H, W, C] float32, y int32 [b],
 * `start` the index of the first image. The caller disposes x and y.
 */
export function* evalBatches(
  set: ImageSet,
  batchSize: number,
  mean: number[],
  std: number[],
): Generator<{ x: tf.Tensor4D; y: tf.Tensor1D; start: number }> {
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`batchSize must be ≥ 1, got ${batchSize}`);
  const { height: H, width: W, channels: C } = set;
  const size = imageSize(set);
  const lut = normalizationTable(mean, std, C);
  for (let start = 0; start < set.n; start += batchSize) {
    const end = Math.min(set.n, start + batchSize);
    const x = new Float32Array((end - start) * size);
    writeNormalized(set.images.subarray(start * size, end * size), x, 0, C, lut);
    yield {
      x: tf.tensor4d(x, [end - start, H, W, C], 'float32'),
      y: tf.tensor1d(set.labels.slice(start, end), 'int32'),
      start,
    };
  }
}
