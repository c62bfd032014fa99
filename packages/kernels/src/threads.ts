/**
 * One run on every core: a persistent pool of worker threads (node:worker_threads) that run the package's
 * WebAssembly kernels on parts of a tensor, on tfjs-wasm's heap made shared (./shared-heap.ts). The main thread
 * computes one part itself; each worker waits on a control word (Atomics.wait), runs the calls written for it in a
 * small shared control block, and counts down a pending counter that the main thread waits on (Atomics.notify).
 * No thread is spawned per call: the pool starts at the first parallel kernel and lives as long as the process
 * (its workers are unref'd and never keep it alive).
 *
 * Kernels are WebAssembly modules generated per shape (./conv-simd.ts, ./simd-kernels.ts) or plain JS functions
 * over the heap (`jsKernel`, e.g. SGD). `kernelModule` instantiates a module here and hands the compiled module to
 * every worker (`receiveMessageOnPort`, read synchronously when a worker first meets one of its functions); each
 * function gets a number that the control block names it by.
 *
 * Results do not depend on the number of threads: every kernel splits its output (images, rows, filter tiles), so
 * each output element is computed by one thread, in the same order as on one thread (see each kernel).
 */
import * as os from 'node:os';
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { assemble, Fn } from './wasm-asm';

/** A kernel function the pool can run: its number (the same in every thread) and this thread's copy. */
export interface Callable {
  id: number;
  f: (...args: number[]) => void;
}
/** One call of a kernel function with numeric arguments (heap byte offsets, sizes, scalars). */
export interface Task {
  c: Callable;
  args: number[];
}

/** Threads a single run uses by default: `NCL_THREADS`, else every core of this machine. */
export function defaultThreads(): number {
  const env = process.env.NCL_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`NCL_THREADS=${env}: expected a positive integer`);
    return n;
  }
  return cores();
}

/** Logical cores of this machine (`os.availableParallelism`, which honours CPU affinity). */
export function cores(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/**
 * Threads per worker process when `workers` independent runs share this machine's `cores`: the cores divided
 * evenly (at least 1). Independent runs scale better than threads within a run (no barriers, no serial parts), so
 * a sweep runs as many workers as it has runs to keep busy and gives each the cores left over.
 */
export function threadsPerWorker(workers: number, cores_: number = cores()): number {
  if (!Number.isInteger(workers) || workers < 1)
    throw new Error(`workers must be a positive integer, got ${workers}`);
  return Math.max(1, Math.floor(cores_ / workers));
}

// ---------------------------------------------------------------------------------------------------------------
// Functions every thread knows by number.

interface Registered {
  /** The message that teaches a worker these functions. */
  msg: { module: WebAssembly.Module; ids: number[]; names: string[] } | { js: string; id: number };
}
const registry: Registered[] = [];
let nextId = 0;

/**
 * Instantiate the functions `fns` on `memory` (a shared memory: as an import of a shared memory) here, and make
 * them callable in the pool's workers. Returns each function by name.
 */
export function kernelModule(memory: WebAssembly.Memory, fns: Fn[]): Record<string, Callable> {
  const shared = isShared(memory);
  const module = new WebAssembly.Module(assemble(fns, { shared }));
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const out: Record<string, Callable> = {};
  const ids: number[] = [];
  const names: string[] = [];
  for (const fn of fns) {
    const id = nextId++;
    out[fn.name] = { id, f: inst.exports[fn.name] as unknown as (...a: number[]) => void };
    ids.push(id);
    names.push(fn.name);
  }
  if (shared) announce({ msg: { module, ids, names } });
  return out;
}

/**
 * A JS kernel: `f(heap, ...args)` with `heap` a Float32Array over the whole wasm heap. Its source is evaluated in
 * each worker, so it must be self-contained (no closures, no imports; arguments and `Math` only).
 */
export function jsKernel(
  f: (heap: Float32Array, ...args: number[]) => void,
  memory: () => WebAssembly.Memory,
): Callable {
  const id = nextId++;
  announce({ msg: { js: f.toString(), id } });
  return { id, f: (...args: number[]) => f(new Float32Array(memory().buffer), ...args) };
}

function announce(r: Registered): void {
  registry.push(r);
  pool?.teach(r);
}

export function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

// ---------------------------------------------------------------------------------------------------------------
// The pool.

// Control block: Int32 words GEN (bumped per job), PENDING (workers still running), ERROR, STOP; then one slot of
// SLOT float64 per worker: [number of calls, then per call: function id, argument count, arguments...].
const GEN = 0;
const PENDING = 1;
const ERROR = 2;
const STOP = 3;
const HEADER_F64 = 2;
const SLOT = 1024;
/** Atomics.load polls before a thread sleeps in Atomics.wait (~10-30 µs): most waits between kernels are short. */
const SPIN = 20000;

const WORKER_SOURCE = `
'use strict';
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { memory, ctl, port, index, gen0 } = workerData;
const I = new Int32Array(ctl);
const F = new Float64Array(ctl);
const fns = [];
function learn() {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const d = m.message;
    if (d.module) {
      const inst = new WebAssembly.Instance(d.module, { env: { memory } });
      for (let i = 0; i < d.ids.length; i++) fns[d.ids[i]] = inst.exports[d.names[i]];
    } else {
      const f = (0, eval)('(' + d.js + ')');
      fns[d.id] = (...a) => f(new Float32Array(memory.buffer), ...a);
    }
  }
}
let gen = gen0;
for (;;) {
  for (let s = 0; Atomics.load(I, ${GEN}) === gen; s++) if (s > ${SPIN}) Atomics.wait(I, ${GEN}, gen);
  gen = Atomics.load(I, ${GEN});
  if (Atomics.load(I, ${STOP})) break;
  try {
    let p = ${HEADER_F64} + index * ${SLOT};
    const calls = F[p++];
    for (let k = 0; k < calls; k++) {
      const id = F[p++];
      const n = F[p++];
      if (!fns[id]) learn();
      const f = fns[id];
      if (!f) throw new Error('kernel function ' + id + ' is unknown to this worker');
      const args = new Array(n);
      for (let i = 0; i < n; i++) args[i] = F[p++];
      f(...args);
    }
  } catch (e) {
    Atomics.store(I, ${ERROR}, 1);
    port.postMessage({ error: 'kernel thread ' + (index + 1) + ': ' + (e && e.message ? e.message : String(e)) });
  }
  if (Atomics.sub(I, ${PENDING}, 1) === 1) Atomics.notify(I, ${PENDING});
}
`;

class Pool {
  private readonly ctl = new SharedArrayBuffer(8 * (HEADER_F64 + SLOT * 64));
  private readonly I = new Int32Array(this.ctl);
  private readonly F = new Float64Array(this.ctl);
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly threads: number,
  ) {
    if (threads - 1 > 64) throw new Error(`at most 65 kernel threads, got ${threads}`);
    for (let i = 0; i < threads - 1; i++) {
      const { port1, port2 } = new MessageChannel();
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { memory, ctl: this.ctl, port: port2, index: i, gen0: Atomics.load(this.I, GEN) },
        transferList: [port2],
        stdout: false,
        stderr: false,
      });
      w.unref();
      port1.unref();
      this.workers.push(w);
      this.ports.push(port1);
    }
    for (const r of registry) this.teach(r);
  }

  teach(r: Registered): void {
    for (const p of this.ports) p.postMessage(r.msg);
  }

  /** Run parts[0] here and parts[i] on worker i − 1, and return when all are done. */
  run(parts: Task[][]): void {
    const I = this.I;
    const F = this.F;
    for (let w = 0; w < this.workers.length; w++) {
      let p = HEADER_F64 + w * SLOT;
      const tasks = parts[w + 1] ?? [];
      F[p++] = tasks.length;
      for (const t of tasks) {
        if (p + 2 + t.args.length > HEADER_F64 + (w + 1) * SLOT)
          throw new Error('kernel pool: too many calls in one part');
        F[p++] = t.c.id;
        F[p++] = t.args.length;
        for (const a of t.args) F[p++] = a;
      }
    }
    Atomics.store(I, PENDING, this.workers.length);
    Atomics.add(I, GEN, 1);
    Atomics.notify(I, GEN);
    try {
      for (const t of parts[0] ?? []) t.c.f(...t.args);
    } finally {
      for (let s = 0, v = Atomics.load(I, PENDING); v !== 0; s++, v = Atomics.load(I, PENDING)) {
        if (s > SPIN) Atomics.wait(I, PENDING, v);
      }
    }
    if (Atomics.load(I, ERROR)) {
      Atomics.store(I, ERROR, 0);
      const errors: string[] = [];
      for (const p of this.ports) {
        for (let m = receiveMessageOnPort(p); m; m = receiveMessageOnPort(p)) {
          const d = m.message as { error?: string };
          if (d.error) errors.push(d.error);
        }
      }
      throw new Error(errors.join('; ') || 'a kernel thread failed');
    }
  }

  stop(): void {
    Atomics.store(this.I, STOP, 1);
    Atomics.add(this.I, GEN, 1);
    Atomics.notify(this.I, GEN);
    for (const w of this.workers) void w.terminate();
  }
}

let threads = 1;
let pool: Pool | null = null;
let parallelJobs = 0;

/** How many calls ran split across more than one thread so far (in this process). */
export function parallelKernelCalls(): number {
  return parallelJobs;
}

/**
 * Use `n` threads (this one and n − 1 workers) for the kernels from now on; 1 runs everything here. The pool
 * starts at the next parallel kernel. The tfjs-wasm heap must be shared for n > 1 (`initBackend` makes it so).
 */
export function setKernelThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`threads must be a positive integer, got ${n}`);
  threads = n;
  if (pool && pool.threads !== n) {
    pool.stop();
    pool = null;
  }
}

/** The threads the kernels use. */
export function kernelThreads(): number {
  return threads;
}

/** How many parts a kernel on `memory` should split its work into: the threads, at most `max`, 1 if not shared. */
export function partsFor(memory: WebAssembly.Memory, max: number): number {
  if (threads <= 1 || !isShared(memory)) return 1;
  return Math.max(1, Math.min(threads, Math.floor(max)));
}

/** Run `parts` (one list of calls per thread; parts.length ≤ the threads) and return when all are done. */
export function runParts(memory: WebAssembly.Memory, parts: Task[][]): void {
  if (parts.length <= 1) {
    for (const t of parts[0] ?? []) t.c.f(...t.args);
    return;
  }
  if (parts.length > threads) throw new Error(`${parts.length} parts for ${threads} kernel threads`);
  parallelJobs++;
  if (!pool || pool.memory !== memory) {
    pool?.stop();
    pool = new Pool(memory, threads);
  }
  pool.run(parts);
}

/** [start, end) of part `i` of `parts` near-equal parts of `n` items, in multiples of `align` (but the last). */
export function split(n: number, parts: number, i: number, align = 1): [number, number] {
  const units = Math.ceil(n / align);
  const a = Math.floor((units * i) / parts) * align;
  const b = Math.min(n, Math.floor((units * (i + 1)) / parts) * align);
  return [Math.min(a, n), b];
}
