/**
 * CIFAR-10 / CIFAR-100 binary-version readers (`cifar-10-batches-bin`, `cifar-100-binary`).
 *
 *   CIFAR-10  record: <1 byte label> <3072 bytes pixels>, files data_batch_1..5.bin (10000 each), test_batch.bin
 *   CIFAR-100 record: <1 byte coarse label> <1 byte fine label> <3072 bytes pixels>, files train.bin, test.bin
 *   pixels: 1024 red, then 1024 green, then 1024 blue, each 32×32 row-major (planar CHW).
 *
 * The readers return NHWC uint8 (the layout of the rest of the lib): out[(y·32 + x)·3 + c] = rec[c·1024 + y·32 + x].
 */
import * as fs from 'node:fs';
import { fileError } from './errors';
import type { ImageSet } from './types';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE * 3;

export interface CifarReadOptions {
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Which of the label bytes is the label: 0 (CIFAR-10, CIFAR-100 coarse) or 1 (CIFAR-100 fine). */
  labelIndex: 0 | 1;
  numClasses: number;
  /** Records each file must hold (10000 for a CIFAR-10 batch), when known. */
  expectedPerFile?: number[];
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw fileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Reads and concatenates CIFAR binary files into one ImageSet [N, 32, 32, 3] NHWC uint8. */
export function readCifarBinary(files: string[], o: CifarReadOptions): ImageSet {
  const rec = o.labelBytes + CIFAR_PIXELS;
  const bufs = files.map((f, k) => {
    const b = readFile(f);
    if (b.length % rec !== 0) {
      const whole = Math.floor(b.length / rec);
      throw fileError(
        f,
        `truncated CIFAR file (${b.length} bytes is not a whole number of ${rec}-byte records: ` +
          `${whole} records and ${b.length - whole * rec} bytes over)`,
      );
    }
    const want = o.expectedPerFile?.[k];
    if (want != null && b.length / rec !== want) {
      throw fileError(
        f,
        `truncated CIFAR file (expected ${want} records of ${rec} bytes, got ${b.length / rec})`,
      );
    }
    if (b.length === 0) throw fileError(f, 'empty CIFAR file');
    return b;
  });
  const n = bufs.reduce((s, b) => s + b.length / rec, 0);
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  let i = 0;
  bufs.forEach((b, k) => {
    const count = b.length / rec;
    for (let r = 0; r < count; r++, i++) {
      const off = r * rec;
      const label = b[off + o.labelIndex];
      if (label >= o.numClasses) {
        throw fileError(files[k], `label ${label} in record ${r} is not below ${o.numClasses}`);
      }
      labels[i] = label;
      const px = off + o.labelBytes;
      const dst = i * CIFAR_PIXELS;
      for (let p = 0; p < plane; p++) {
        const d = dst + p * 3;
        images[d] = b[px + p];
        images[d + 1] = b[px + plane + p];
        images[d + 2] = b[px + 2 * plane + p];
      }
    }
  });
  return { images, labels, n, height: CIFAR_SIDE, width: CIFAR_SIDE, channels: 3 };
}

/** Class names from a `batches.meta.txt`-style file (one per line, blank lines dropped), or null if absent. */
export function readLabelNames(file: string, expected: number): string[] | null {
  if (!fs.existsSync(file)) return null;
  const names = readFile(file)
    .toString('utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== expected) {
    throw fileError(file, `expected ${expected} class names, found ${names.length}`);
  }
  return names;
}
