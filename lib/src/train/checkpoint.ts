/**
 * Checkpoints: every variable of the model, the optimizer's momentum buffers and the trainer's state, in one file
 * written atomically (../atomic.ts: temp file, every byte checked written, fsync, rename), so a run killed at any
 * point, or stopped by a full disk, leaves either the previous checkpoint or the new one, never half of one; the temp
 * file of a killed writer is removed by the next run in the folder (`removeStaleTemps`).
 *
 * Layout of `checkpoint.bin` (format 2): 8-byte magic "NCLCKPT2", uint32 LE header length, JSON header
 * `{"sha256":"<64 hex>","state":…,"tensors":[{ name, shape, offset, length }]}`, then the float32 data
 * (little-endian). `sha256` is the SHA-256 of the whole file with those 64 digits read as '0's: any changed byte,
 * in the header or the data, fails `loadCheckpoint`. Format 1 ("NCLCKPT1", the same without `sha256`) is read too,
 * without that check. Every tensor read must be finite.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../tf';
import { TrainingError } from './errors';
import { processAlive } from './lock';
import { atomicWrite } from '../atomic';

export { atomicWrite };

const MAGIC = 'NCLCKPT2';
const MAGIC_V1 = 'NCLCKPT1';
const SHA_PREFIX = '{"sha256":"';
const SHA_AT = 12 + SHA_PREFIX.length;

/** A checkpoint that cannot be used: not one, truncated, corrupt (checksum), non-finite, or of another model. */
export class CheckpointError extends TrainingError {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

interface Entry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/**
 * Remove the `<name>.tmp-<pid>` files in `dir` that `atomicWrite` left behind in processes that died mid-write
 * (pid no longer running). Returns the names removed.
 */
export function removeStaleTemps(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = /\.tmp-(\d+)$/.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function sha256Hex(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
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
  const json = `${SHA_PREFIX}${'0'.repeat(64)}",${JSON.stringify({ state, tensors: entries }).slice(1)}`;
  const header = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + 4 + header.length + offset * 4);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 12);
  let pos = 12 + header.length;
  for (const c of chunks) {
    Buffer.from(c.buffer, c.byteOffset, c.byteLength).copy(out, pos);
    pos += c.byteLength;
  }
  out.write(sha256Hex(out), SHA_AT, 'latin1');
  atomicWrite(file, out);
}

export interface LoadedCheckpoint<S> {
  state: S;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  /** 2: checksum verified; 1: an older file without a checksum. */
  format: 1 | 2;
}

/** The JSON header of a checkpoint whose first bytes are in `buf` (the whole file, or at least its header). */
function parseHeader<H>(buf: Buffer, file: string): { header: H; base: number; format: 1 | 2 } {
  const magic = buf.length >= 12 ? buf.toString('latin1', 0, 8) : '';
  if (magic !== MAGIC && magic !== MAGIC_V1) throw new CheckpointError(`${file}: not an ncl-lab checkpoint`);
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw new CheckpointError(`${file}: truncated checkpoint header`);
  let header: H;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as H;
  } catch (e) {
    throw new CheckpointError(`${file}: corrupt checkpoint header (${(e as Error).message})`);
  }
  return { header, base: 12 + hlen, format: magic === MAGIC ? 2 : 1 };
}

/** Only the state of a checkpoint (its JSON header), without reading or verifying the tensors. */
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

/** Read a checkpoint, verifying its checksum (format 2) and that every value is finite. */
export function loadCheckpoint<S>(file: string): LoadedCheckpoint<S> {
  const buf = fs.readFileSync(file);
  const { header, base, format } = parseHeader<{ sha256?: string; state: S; tensors: Entry[] }>(buf, file);
  if (format === 2) {
    const want = header.sha256;
    if (buf.toString('latin1', 12, SHA_AT) !== SHA_PREFIX || typeof want !== 'string')
      throw new CheckpointError(`${file}: corrupt checkpoint header (no checksum)`);
    const zeroed = Buffer.from(buf);
    zeroed.write('0'.repeat(64), SHA_AT, 'latin1');
    const got = sha256Hex(zeroed);
    if (got !== want)
      throw new CheckpointError(
        `${file}: corrupt checkpoint (SHA-256 ${got.slice(0, 12)}…, recorded ${want.slice(0, 12)}…)`,
      );
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const e of header.tensors) {
    const start = base + e.offset * 4;
    if (start + e.length * 4 > buf.length) throw new CheckpointError(`${file}: truncated data for ${e.name}`);
    const data = new Float32Array(e.length);
    Buffer.from(data.buffer).set(buf.subarray(start, start + e.length * 4));
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0)
      throw new CheckpointError(`${file}: ${e.name}[${bad}] is ${data[bad]} (a non-finite value)`);
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { state: header.state, tensors, format };
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
    if (!t) throw new CheckpointError(`${file}: no tensor ${name}`);
    if (t.shape.join(',') !== v.shape.join(','))
      throw new CheckpointError(`${file}: ${name} has shape [${t.shape}], expected [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape)));
  }
}
