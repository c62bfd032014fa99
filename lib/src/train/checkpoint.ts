/**
 * Checkpoints: every variable of the model, the optimizer's momentum buffers and the trainer's state, in one file
 * written atomically (temp file, fsync, rename), so a run killed at any point leaves either the previous checkpoint
 * or the new one, never half of one.
 *
 * Layout of `checkpoint.bin`: 8-byte magic "NCLCKPT1", uint32 LE header length, JSON header
 * `{ state, tensors: [{ name, shape, offset, length }] }`, then the float32 data (little-endian).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../tf';

const MAGIC = 'NCLCKPT1';

interface Entry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/** Write `bytes` to `file` atomically. */
export function atomicWrite(file: string, bytes: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof bytes === 'string') fs.writeSync(fd, bytes);
    else fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Save named variables plus a JSON-serialisable state (reads tensors asynchronously: works on WebGPU too). */
export async function saveCheckpoint(
  file: string,
  vars: Map<string, tf.Tensor>,
  state: unknown,
): Promise<void> {
  const entries: Entry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, v] of vars) {
    const data = (await v.data()) as Float32Array;
    entries.push({ name, shape: v.shape, offset, length: data.length });
    chunks.push(data);
    offset += data.length;
  }
  const header = Buffer.from(JSON.stringify({ state, tensors: entries }), 'utf8');
  const out = Buffer.alloc(8 + 4 + header.length + offset * 4);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 12);
  let pos = 12 + header.length;
  for (const c of chunks) {
    Buffer.from(c.buffer, c.byteOffset, c.byteLength).copy(out, pos);
    pos += c.byteLength;
  }
  atomicWrite(file, out);
}

export interface LoadedCheckpoint<S> {
  state: S;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

/** The JSON header of a checkpoint whose first bytes are in `buf` (the whole file, or at least its header). */
function parseHeader<H>(buf: Buffer, file: string): { header: H; base: number } {
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC)
    throw new Error(`${file}: not an ncl-lab checkpoint`);
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw new Error(`${file}: truncated checkpoint header`);
  return { header: JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as H, base: 12 + hlen };
}

/** Only the state of a checkpoint (its JSON header), without reading the tensors. */
export function checkpointState<S>(file: string): S {
  const fd = fs.openSync(file, 'r');
  try {
    // The first 12 bytes say how long the header is; read that much (at most the file), and let parseHeader check it.
    const head = Buffer.alloc(12);
    const n = fs.readSync(fd, head, 0, 12, 0);
    const buf = Buffer.alloc(n < 12 ? n : Math.min(fs.fstatSync(fd).size, 12 + head.readUInt32LE(8)));
    const got = fs.readSync(fd, buf, 0, buf.length, 0);
    return parseHeader<{ state: S }>(buf.subarray(0, got), file).header.state;
  } finally {
    fs.closeSync(fd);
  }
}

export function loadCheckpoint<S>(file: string): LoadedCheckpoint<S> {
  const buf = fs.readFileSync(file);
  const { header, base } = parseHeader<{ state: S; tensors: Entry[] }>(buf, file);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const e of header.tensors) {
    const start = base + e.offset * 4;
    if (start + e.length * 4 > buf.length) throw new Error(`${file}: truncated data for ${e.name}`);
    const data = new Float32Array(e.length);
    Buffer.from(data.buffer).set(buf.subarray(start, start + e.length * 4));
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { state: header.state, tensors };
}

/**
 * The loss's own trainable variables in a checkpoint, by name without the `loss.` prefix the trainer saves them under
 * (e.g. Table 6's w_intra and w_inter): the same record as metrics.json's `lossVariables` once the run is finished.
 */
export function lossVariablesOf(loaded: LoadedCheckpoint<unknown>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, t] of loaded.tensors)
    if (name.startsWith('loss.')) out[name.slice('loss.'.length)] = Array.from(t.data);
  return out;
}

/** Assign loaded values to existing variables; every variable must be present with its shape. */
export function restoreVariables(
  file: string,
  loaded: LoadedCheckpoint<unknown>,
  vars: Map<string, tf.Variable>,
): void {
  for (const [name, v] of vars) {
    const t = loaded.tensors.get(name);
    if (!t) throw new Error(`${file}: no tensor ${name}`);
    if (t.shape.join(',') !== v.shape.join(','))
      throw new Error(`${file}: ${name} has shape [${t.shape}], expected [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape)));
  }
}
