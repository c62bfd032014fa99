/**
 * Image augmentations on single uint8 HWC images, in plain JS (no tf ops): the batch builder (./batches.ts) runs
 * them per image and the notebook shows them one by one.
 *
 *   SimAug       random crop with 4-pixel zero padding, then horizontal flip with p = 0.5 (torchvision's
 *                RandomCrop(size, padding=4) + RandomHorizontalFlip).
 *   RandAugment  SimAug, then N ops drawn uniformly (with replacement) from the list below, each at magnitude M on
 *                the 0–30 scale of the RandAugment paper and torchvision (M = 30 is the strongest; signed ops take a
 *                random sign). Grayscale images (C = 1) leave out Color, the one colour op.
 *   Mixup        works on a whole batch: see ./batches.ts.
 *
 * Op list and ranges (torchvision RandAugment, 31 magnitude bins): Identity; ShearX/ShearY 0–0.3; TranslateX/Y
 * 0–150/331 of the side; Rotate 0–30°; Brightness, Color, Contrast, Sharpness factor 1 ± 0–0.9; Posterize 8–4 bits;
 * Solarize threshold 255–0; AutoContrast; Equalize. Geometric ops use nearest-neighbour sampling and fill 0.
 */
import { randInt, type Rng } from './rng';

/** One image: HWC uint8, length h·w·c. */
export interface Image {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

export const SIMAUG_PAD = 4;

/**
 * Crop of the zero-padded image at offset (dy, dx) in [0, 2·pad], then a horizontal flip when `flip`:
 *   out[y, x] = in[y + dy − pad, x' + dx − pad] (0 outside), x' = flip ? W − 1 − x : x.
 * Writes into `out` (length H·W·C) and returns it.
 */
export function cropFlip(
  img: Image,
  dy: number,
  dx: number,
  flip: boolean,
  pad = SIMAUG_PAD,
  out = new Uint8Array(img.data.length),
): Uint8Array {
  const { height: H, width: W, channels: C, data } = img;
  for (let y = 0; y < H; y++) {
    const sy = y + dy - pad;
    const rowOut = y * W * C;
    if (sy < 0 || sy >= H) {
      out.fill(0, rowOut, rowOut + W * C);
      continue;
    }
    const rowIn = sy * W * C;
    for (let x = 0; x < W; x++) {
      const sx = (flip ? W - 1 - x : x) + dx - pad;
      const o = rowOut + x * C;
      if (sx < 0 || sx >= W) {
        for (let c = 0; c < C; c++) out[o + c] = 0;
      } else {
        const s = rowIn + sx * C;
        for (let c = 0; c < C; c++) out[o + c] = data[s + c];
      }
    }
  }
  return out;
}

/** Random SimAug parameters: offsets uniform in [0, 2·pad], flip with p = 0.5. */
export function simAugParams(rng: Rng, pad = SIMAUG_PAD): { dy: number; dx: number; flip: boolean } {
  const dy = randInt(rng, 2 * pad + 1);
  const dx = randInt(rng, 2 * pad + 1);
  return { dy, dx, flip: rng() < 0.5 };
}

// ---------------------------------------------------------------------------------------------------------------
// RandAugment ops. Each writes `dst` from `src` (same shape, distinct buffers); `v` is the op's signed value.

type OpFn = (src: Uint8Array, dst: Uint8Array, H: number, W: number, C: number, v: number) => void;

export const RAND_AUGMENT_OPS = [
  'Identity',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
  'Posterize',
  'Solarize',
  'AutoContrast',
  'Equalize',
] as const;
export type RandAugmentOp = (typeof RAND_AUGMENT_OPS)[number];

/** The ops RandAugment draws from for images with `channels` channels (no Color for grayscale). */
export function randAugmentOps(channels: number): readonly RandAugmentOp[] {
  return channels === 1 ? RAND_AUGMENT_OPS.filter((o) => o !== 'Color') : RAND_AUGMENT_OPS;
}

const SIGNED = new Set<RandAugmentOp>([
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
]);

export const RAND_AUGMENT_MAX_M = 30;

/** The (unsigned) value of `op` at magnitude `m` ∈ [0, 30] for an image of side H×W (torchvision's table). */
export function opValue(op: RandAugmentOp, m: number, H: number, W: number): number {
  const f = Math.min(Math.max(m, 0), RAND_AUGMENT_MAX_M) / RAND_AUGMENT_MAX_M;
  switch (op) {
    case 'ShearX':
    case 'ShearY':
      return 0.3 * f;
    case 'TranslateX':
      return ((150 / 331) * W * f) | 0;
    case 'TranslateY':
      return ((150 / 331) * H * f) | 0;
    case 'Rotate':
      return 30 * f;
    case 'Brightness':
    case 'Color':
    case 'Contrast':
    case 'Sharpness':
      return 0.9 * f;
    case 'Posterize':
      return 8 - Math.round(4 * f);
    case 'Solarize':
      return 255 * (1 - f);
    default:
      return 0;
  }
}

function clamp255(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Nearest-neighbour inverse-mapped affine warp: out(x, y) = in(a·x + b·y + tx, c·x + d·y + ty), fill 0. */
function warp(src: Uint8Array, dst: Uint8Array, H: number, W: number, C: number, m: number[]): void {
  const [a, b, tx, c, d, ty] = m;
  for (let y = 0; y < H; y++) {
    // +0.5 then truncation = rounding for the non-negative values; negative ones are outside anyway.
    let fx = b * y + tx + 0.5;
    let fy = d * y + ty + 0.5;
    for (let x = 0; x < W; x++, fx += a, fy += c) {
      const o = (y * W + x) * C;
      if (fx < 0 || fy < 0 || fx >= W || fy >= H) {
        for (let k = 0; k < C; k++) dst[o + k] = 0;
      } else {
        const s = ((fy | 0) * W + (fx | 0)) * C;
        for (let k = 0; k < C; k++) dst[o + k] = src[s + k];
      }
    }
  }
}

/** out = clamp(f · src + (1 − f) · other), other given per pixel-channel by `deg`. */
function blend(src: Uint8Array, dst: Uint8Array, f: number, deg: (k: number) => number): void {
  for (let k = 0; k < src.length; k++) dst[k] = clamp255(f * src[k] + (1 - f) * deg(k));
}

function gray(src: Uint8Array, C: number, p: number): number {
  return C === 1 ? src[p] : 0.299 * src[p] + 0.587 * src[p + 1] + 0.114 * src[p + 2];
}

const OPS: Record<RandAugmentOp, OpFn> = {
  Identity: (src, dst) => dst.set(src),
  // Forward x' = x + v·y (about the top-left corner, as torchvision): inverse x = x' − v·y.
  ShearX: (src, dst, H, W, C, v) => warp(src, dst, H, W, C, [1, -v, 0, 0, 1, 0]),
  ShearY: (src, dst, H, W, C, v) => warp(src, dst, H, W, C, [1, 0, 0, -v, 1, 0]),
  TranslateX: (src, dst, H, W, C, v) => warp(src, dst, H, W, C, [1, 0, -v, 0, 1, 0]),
  TranslateY: (src, dst, H, W, C, v) => warp(src, dst, H, W, C, [1, 0, 0, 0, 1, -v]),
  Rotate: (src, dst, H, W, C, v) => {
    // Counter-clockwise by v degrees about the centre; inverse map rotates the output back.
    const t = (v * Math.PI) / 180;
    const cos = Math.cos(t);
    const sin = Math.sin(t);
    const cx = (W - 1) / 2;
    const cy = (H - 1) / 2;
    warp(src, dst, H, W, C, [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy]);
  },
  Brightness: (src, dst, _H, _W, _C, v) => blend(src, dst, 1 + v, () => 0),
  Color: (src, dst, _H, _W, C, v) => {
    if (C === 1) return dst.set(src);
    blend(src, dst, 1 + v, (k) => gray(src, C, k - (k % C)));
  },
  Contrast: (src, dst, H, W, C, v) => {
    let s = 0;
    for (let p = 0; p < H * W * C; p += C) s += gray(src, C, p);
    const mean = s / (H * W);
    blend(src, dst, 1 + v, () => mean);
  },
  Sharpness: (src, dst, H, W, C, v) => {
    // Degenerate image: 3×3 smoothing [[1,1,1],[1,5,1],[1,1,1]]/13 inside, the border kept (PIL / torchvision).
    const f = 1 + v;
    const row = W * C;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < C; c++) {
          const k = y * row + x * C + c;
          if (y === 0 || x === 0 || y === H - 1 || x === W - 1) {
            dst[k] = src[k];
            continue;
          }
          const acc =
            src[k - row - C] +
            src[k - row] +
            src[k - row + C] +
            src[k - C] +
            5 * src[k] +
            src[k + C] +
            src[k + row - C] +
            src[k + row] +
            src[k + row + C];
          dst[k] = clamp255(f * src[k] + (1 - f) * Math.round(acc / 13));
        }
      }
    }
  },
  Posterize: (src, dst, _H, _W, _C, v) => {
    const mask = (0xff << (8 - v)) & 0xff;
    for (let k = 0; k < src.length; k++) dst[k] = src[k] & mask;
  },
  Solarize: (src, dst, _H, _W, _C, v) => {
    for (let k = 0; k < src.length; k++) dst[k] = src[k] >= v ? 255 - src[k] : src[k];
  },
  AutoContrast: (src, dst, _H, _W, C) => {
    for (let c = 0; c < C; c++) {
      let lo = 255;
      let hi = 0;
      for (let k = c; k < src.length; k += C) {
        if (src[k] < lo) lo = src[k];
        if (src[k] > hi) hi = src[k];
      }
      const scale = hi > lo ? 255 / (hi - lo) : 1;
      const off = hi > lo ? lo : 0;
      for (let k = c; k < src.length; k += C) dst[k] = clamp255((src[k] - off) * scale);
    }
  },
  Equalize: (src, dst, _H, _W, C) => {
    // PIL's ImageOps.equalize, per channel.
    const table = new Uint8Array(256);
    for (let c = 0; c < C; c++) {
      const hist = new Int32Array(256);
      for (let k = c; k < src.length; k += C) hist[src[k]]++;
      let last = 255;
      while (last > 0 && hist[last] === 0) last--;
      const total = src.length / C;
      const step = Math.floor((total - hist[last]) / 255);
      if (step === 0) {
        for (let k = c; k < src.length; k += C) dst[k] = src[k];
        continue;
      }
      let acc = Math.floor(step / 2);
      for (let i = 0; i < 256; i++) {
        table[i] = Math.min(255, Math.floor(acc / step));
        acc += hist[i];
      }
      for (let k = c; k < src.length; k += C) dst[k] = table[src[k]];
    }
  },
};

/**
 * Applies RandAugment op `op` at magnitude `m` (0–30) to `img`; `sign` (±1) orients signed ops.
 * Returns a new image. Useful to show each op alone.
 */
export function applyOp(img: Image, op: RandAugmentOp, m: number, sign: 1 | -1 = 1, out?: Uint8Array): Image {
  const { height: H, width: W, channels: C } = img;
  const dst = out ?? new Uint8Array(img.data.length);
  const v = opValue(op, m, H, W) * (SIGNED.has(op) ? sign : 1);
  OPS[op](img.data, dst, H, W, C, v);
  return { data: dst, height: H, width: W, channels: C };
}

/**
 * RandAugment: `n` ops drawn uniformly with replacement from `randAugmentOps(C)`, each at magnitude `m`, signed
 * ops with a random sign. Uses `a` and `b` as ping-pong buffers (length H·W·C; `a` holds the input) and returns the
 * one holding the result. The ops drawn are pushed onto `log` when given.
 */
export function randAugmentInto(
  a: Uint8Array,
  b: Uint8Array,
  H: number,
  W: number,
  C: number,
  n: number,
  m: number,
  rng: Rng,
  log?: string[],
): Uint8Array {
  const ops = randAugmentOps(C);
  let src = a;
  let dst = b;
  for (let k = 0; k < n; k++) {
    const op = ops[randInt(rng, ops.length)];
    const sign = rng() < 0.5 ? -1 : 1;
    const v = opValue(op, m, H, W) * (SIGNED.has(op) ? sign : 1);
    if (op === 'Identity') {
      log?.push('Identity');
      continue;
    }
    OPS[op](src, dst, H, W, C, v);
    log?.push(SIGNED.has(op) ? `${op}(${v >= 0 ? '+' : ''}${+v.toFixed(3)})` : `${op}(${+v.toFixed(3)})`);
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

export type AugmentName = 'none' | 'simaug' | 'randaugment';

export interface AugmentImageOptions {
  /** RandAugment N and M (default n 2, m 9). */
  randAugment?: { n: number; m: number };
  /** Horizontal flips in SimAug (default true; turn off for digits). */
  hflip?: boolean;
  /** Filled with a description of what was applied, when given. */
  log?: string[];
}

/**
 * One augmented copy of `img` (a new image): 'none' copies it, 'simaug' crops and flips, 'randaugment' crops,
 * flips and applies RandAugment. Draws from `rng` exactly as the batch builder does for one image.
 */
export function augmentImage(img: Image, augment: AugmentName, rng: Rng, o: AugmentImageOptions = {}): Image {
  const { height: H, width: W, channels: C } = img;
  if (augment === 'none') return { ...img, data: img.data.slice() };
  const p = simAugParams(rng);
  const flip = (o.hflip ?? true) && p.flip;
  const a = cropFlip(img, p.dy, p.dx, flip);
  o.log?.push(`crop(dy=${p.dy - SIMAUG_PAD}, dx=${p.dx - SIMAUG_PAD})${flip ? ' flip' : ''}`);
  if (augment === 'simaug') return { data: a, height: H, width: W, channels: C };
  const ra = o.randAugment ?? { n: 2, m: 9 };
  const out = randAugmentInto(a, new Uint8Array(a.length), H, W, C, ra.n, ra.m, rng, o.log);
  return { data: out, height: H, width: W, channels: C };
}

/** Image `i` of an ImageSet-like object, as an `Image` view (no copy). */
export function imageAt(
  set: { images: Uint8Array; height: number; width: number; channels: number },
  i: number,
): Image {
  const size = set.height * set.width * set.channels;
  return {
    data: set.images.subarray(i * size, (i + 1) * size),
    height: set.height,
    width: set.width,
    channels: set.channels,
  };
}

/** Mixup of two images for display: round(lam · a + (1 − lam) · b), same shape (a new image). */
export function mixImages(a: Image, b: Image, lam: number): Image {
  if (a.data.length !== b.data.length) throw new Error('mixImages: the images differ in shape');
  const out = new Uint8Array(a.data.length);
  for (let k = 0; k < out.length; k++) out[k] = Math.round(lam * a.data[k] + (1 - lam) * b.data[k]);
  return { data: out, height: a.height, width: a.width, channels: a.channels };
}
