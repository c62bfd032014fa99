/**
 * IDX reader (the MNIST / Fashion-MNIST file format), plain or gzip-compressed (detected by its magic bytes,
 * not its name). Only unsigned-byte data (type 0x08) is supported, which is what those datasets use.
 *
 *   header: 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then prod(sizes) bytes.
 *   images: `*-idx3-ubyte` [N, H, W]; labels: `*-idx1-ubyte` [N].
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { fileError } from './errors';
import type { ImageSet } from './types';

export interface IdxArray {
  /** Sizes of each dimension, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The data bytes, row-major, length prod(dims). */
  data: Uint8Array;
}

const GZIP_MAGIC = [0x1f, 0x8b];

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === GZIP_MAGIC[0] && buf[1] === GZIP_MAGIC[1];
}

/**
 * The bytes of `file`, gunzipped when it is gzip. A gzip stream cut short yields what it holds and `cut: true`
 * (so the caller can say how much is missing); any other gzip damage is an error naming the file.
 */
export function readMaybeGzip(file: string): { bytes: Uint8Array; cut: boolean } {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw fileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!isGzip(raw)) return { bytes: raw, cut: false };
  try {
    return { bytes: zlib.gunzipSync(raw), cut: false };
  } catch (e) {
    const msg = (e as Error).message;
    if ((e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) {
      try {
        const partial = zlib.gunzipSync(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
        return { bytes: partial, cut: true };
      } catch {
        /* fall through to the generic message */
      }
    }
    throw fileError(file, `corrupt gzip data (${msg})`);
  }
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/**
 * Reads an IDX file. `what` names the payload in error messages ('pixels', 'labels').
 * Throws a one-line `DataError` naming the file for a bad magic number, an unsupported type, a truncated file or
 * trailing bytes.
 */
export function readIdx(file: string, what = 'data'): IdxArray {
  const { bytes, cut } = readMaybeGzip(file);
  const cutNote = cut ? ', gzip stream cut short' : '';
  if (bytes.length < 4)
    throw fileError(file, `truncated IDX file (${bytes.length} bytes, no header${cutNote})`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw fileError(file, `not an IDX file (magic 0x${magic}, expected 0x0000 08 nn)`);
  }
  const type = bytes[2];
  const ndims = bytes[3];
  if (type !== 0x08) {
    const t = TYPE_NAMES[type] ?? `unknown type 0x${type.toString(16)}`;
    throw fileError(file, `IDX data type is ${t}; only unsigned byte (0x08) is supported`);
  }
  if (ndims < 1 || ndims > 4) throw fileError(file, `IDX file has ${ndims} dimensions (expected 1 to 4)`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) {
    throw fileError(
      file,
      `truncated IDX file (header needs ${headerLen} bytes, got ${bytes.length}${cutNote})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const got = bytes.length - headerLen;
  if (got < expected) {
    throw fileError(file, `truncated IDX file (expected ${expected} bytes of ${what}, got ${got}${cutNote})`);
  }
  if (got > expected) {
    throw fileError(file, `IDX file has ${got - expected} bytes after the ${expected} bytes of ${what}`);
  }
  // A plain Uint8Array copy (a Buffer's slice would be a view of the whole decompressed file).
  return { dims, data: new Uint8Array(bytes.subarray(headerLen, headerLen + expected)) };
}

/**
 * Reads an IDX image file and its label file into an ImageSet (NHWC uint8, C = 1).
 * Checks: images are 3-d, labels 1-d, the counts agree and every label is below `numClasses`.
 */
export function readIdxImageSet(imagesFile: string, labelsFile: string, numClasses: number): ImageSet {
  const im = readIdx(imagesFile, 'pixels');
  if (im.dims.length !== 3) {
    throw fileError(imagesFile, `expected an image file [N, H, W], got dimensions [${im.dims.join(', ')}]`);
  }
  const lb = readIdx(labelsFile, 'labels');
  if (lb.dims.length !== 1) {
    throw fileError(labelsFile, `expected a label file [N], got dimensions [${lb.dims.join(', ')}]`);
  }
  const [n, height, width] = im.dims;
  if (lb.dims[0] !== n) {
    throw fileError(labelsFile, `has ${lb.dims[0]} labels but ${imagesFile} has ${n} images`);
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = lb.data[i];
    if (l >= numClasses) throw fileError(labelsFile, `label ${l} at index ${i} is not below ${numClasses}`);
    labels[i] = l;
  }
  return { images: im.data, labels, n, height, width, channels: 1 };
}
