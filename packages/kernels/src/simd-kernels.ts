/**
 * The lib's own WebAssembly SIMD loops, run on tfjs-backend-wasm's heap (the module imports the backend's memory,
 * so pointers are the tensors' `memoryOffset`s). Built at run time by ./wasm-asm.ts; instantiated once per wasm
 * backend instance. `simdKernels(backend)` returns null where WebAssembly SIMD is unavailable, and callers fall back
 * to plain JS loops.
 *
 *   bnStats         per-channel Σx, Σx² of each block of 256 rows (f32 within a block, one f64 [2C] per block)
 *   bnApply         y = [relu](x·a[c] + k[c] [+ r])
 *   bnGradSums      per-channel Σg, Σg·x of each block of 256 rows, with g = dy [masked by y > 0]
 *   bnGradApply     dx = A[c]·g + B[c]·x + K[c] [, g out]
 * They need C % 4 = 0. (The convolution loops, generated per layer shape, are in ./conv-simd.ts.)
 */
import { Fn, I32, V128 } from './wasm-asm';
import { WasmBackendLike } from './kernel-utils';
import { Callable, kernelModule } from './threads';

type Ptr = number;
export interface SimdKernels {
  /** out: f64[blocks][2C] (Σx, then Σx², per block of ROWS rows), accumulated into (zero it first). */
  bnStats(x: Ptr, rows: number, C: number, out: Ptr): void;
  /** a, k: f32[C]; r = 0 for none. */
  bnApply(x: Ptr, y: Ptr, r: Ptr, rows: number, C: number, a: Ptr, k: Ptr, relu: number): void;
  /** out: f64[blocks][2C] (Σg, then Σg·x, per block of ROWS rows), accumulated into. */
  bnGradSums(dy: Ptr, x: Ptr, y: Ptr, rows: number, C: number, relu: number, out: Ptr): void;
  /** A, B, K: f32[C]; g = 0 for none. */
  bnGradApply(
    dy: Ptr,
    x: Ptr,
    y: Ptr,
    dx: Ptr,
    g: Ptr,
    rows: number,
    C: number,
    relu: number,
    A: Ptr,
    B: Ptr,
    K: Ptr,
  ): void;
}

/** Adds the 4 f32 lanes of `v` (promoted) into the two f64x2 at [p] and [p + 16]. */
function flushF64(f: Fn, p: () => void, v: number): void {
  p();
  p();
  f.vload(0).get(v).f64x2PromoteLow().f64x2Add().vstore(0);
  p();
  p();
  f.vload(16)
    .get(v)
    .get(v)
    .shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15])
    .f64x2PromoteLow()
    .f64x2Add()
    .vstore(16);
}

/** Push i32x4.splat(cond ? 0 : −1): an all-ones mask when `relu` is off (OR-ed into the y > 0 mask). */
function noMask(f: Fn): number {
  const m = f.local(V128);
  f.i32(0).get(f.p('relu')).i32(0).eq().sub().i32x4Splat().set(m);
  return m;
}

/** Rows per block of the channel sums (threads split the rows in whole blocks). */
export const BN_BLOCK_ROWS = 256;
const ROWS = BN_BLOCK_ROWS;

/**
 * Two per-channel sums over rows × C: f32x4 accumulators over blocks of ROWS rows, each block's sums added (in
 * f64) into its own 2C f64 of `out`: out[b·2C + c] and out[b·2C + C + c] for block b. The caller zeroes `out` and
 * adds the blocks in order, so threads that take whole blocks give the same sums as one thread. `first(off)` pushes the first summand for the element at byte offset `off` of every input; `second`
 * pushes the second given the first in a local.
 */
function channelSums(
  name: string,
  params: string[],
  prologue: (f: Fn) => void,
  first: (f: Fn, off: number) => void,
  second: (f: Fn, off: number, v: number) => void,
): Fn {
  const f = new Fn(name, params);
  prologue(f);
  const [r0, r1, c, off, stride, o, blockOut] = Array.from({ length: 7 }, () => f.local(I32));
  const s = f.local(V128);
  const q = f.local(V128);
  const v = f.local(V128);
  const get = (i: number) => () => f.get(i);
  f.let(stride, () => f.get(f.p('C')).i32(4).mul());
  f.get(f.p('out')).set(blockOut);
  f.forRange(
    r0,
    () => f.i32(0),
    get(f.p('rows')),
    ROWS,
    () => {
      f.let(r1, () => {
        f.get(r0).i32(ROWS).add();
        f.get(f.p('rows'));
        f.get(r0).i32(ROWS).add().get(f.p('rows')).ltS();
        f.select();
      });
      f.forRange(
        c,
        () => f.i32(0),
        get(f.p('C')),
        4,
        () => {
          f.vzero().set(s);
          f.vzero().set(q);
          f.let(off, () => f.get(r0).get(f.p('C')).mul().get(c).add().i32(4).mul());
          f.forRange(o, get(r0), get(r1), 1, () => {
            first(f, off);
            f.set(v);
            f.get(s).get(v).f32x4Add().set(s);
            f.get(q);
            second(f, off, v);
            f.f32x4Add().set(q);
            f.inc(off, get(stride));
          });
          flushF64(f, () => f.get(blockOut).get(c).i32(8).mul().add(), s);
          flushF64(f, () => f.get(blockOut).get(c).get(f.p('C')).add().i32(8).mul().add(), q);
        },
      );
      f.inc(blockOut, () => f.get(f.p('C')).i32(16).mul());
    },
  );
  return f;
}

function bnStats(): Fn {
  return channelSums(
    'bnStats',
    ['x', 'rows', 'C', 'out'],
    () => undefined,
    (f, off) => f.get(f.p('x')).get(off).add().vload(0),
    (f, _off, v) => f.get(v).get(v).f32x4Mul(),
  );
}

function bnGradSums(): Fn {
  let nm = 0;
  return channelSums(
    'bnGradSums',
    ['dy', 'x', 'y', 'rows', 'C', 'relu', 'out'],
    (f) => {
      nm = noMask(f);
    },
    (f, off) => {
      // g = dy & ((y > 0) | noMask)
      f.get(f.p('dy')).get(off).add().vload(0);
      f.get(f.p('y')).get(off).add().vload(0).vzero().f32x4Gt().get(nm).vor();
      f.vand();
    },
    (f, off, v) => f.get(v).get(f.p('x')).get(off).add().vload(0).f32x4Mul(),
  );
}

/** Row-major walk over rows × C with `off` = element byte offset and `coff` = channel byte offset. */
function rowsByChannels(f: Fn, off: number, coff: number, body: () => void): void {
  const [p, end] = [f.local(I32), f.local(I32)];
  f.let(end, () => f.get(f.p('C')).i32(4).mul());
  f.i32(0).set(off);
  f.forRange(
    p,
    () => f.i32(0),
    () => f.get(f.p('rows')),
    1,
    () => {
      f.forRange(
        coff,
        () => f.i32(0),
        () => f.get(end),
        16,
        () => {
          body();
          f.inc(off, () => f.i32(16));
        },
      );
    },
  );
}

function bnApply(): Fn {
  const f = new Fn('bnApply', ['x', 'y', 'r', 'rows', 'C', 'a', 'k', 'relu']);
  const [off, coff] = [f.local(I32), f.local(I32)];
  const v = f.local(V128);
  const lo = f.local(V128);
  // lo = relu ? 0 : −inf, y = max(v, lo): bitselect(0, −inf, splat(relu ? −1 : 0))
  f.vzero().vconstF32(-Infinity);
  f.i32(0).get(f.p('relu')).i32(0).ne().sub().i32x4Splat();
  f.vbitselect().set(lo);
  rowsByChannels(f, off, coff, () => {
    f.get(f.p('x')).get(off).add().vload(0);
    f.get(f.p('a')).get(coff).add().vload(0).f32x4Mul();
    f.get(f.p('k')).get(coff).add().vload(0).f32x4Add().set(v);
    f.when(
      () => f.get(f.p('r')),
      () => {
        f.get(v).get(f.p('r')).get(off).add().vload(0).f32x4Add().set(v);
      },
    );
    f.get(f.p('y')).get(off).add().get(v).get(lo).f32x4Max().vstore(0);
  });
  return f;
}

function bnGradApply(): Fn {
  const f = new Fn('bnGradApply', ['dy', 'x', 'y', 'dx', 'g', 'rows', 'C', 'relu', 'A', 'B', 'K']);
  const nm = noMask(f);
  const [off, coff] = [f.local(I32), f.local(I32)];
  const gv = f.local(V128);
  rowsByChannels(f, off, coff, () => {
    f.get(f.p('dy')).get(off).add().vload(0);
    f.get(f.p('y')).get(off).add().vload(0).vzero().f32x4Gt().get(nm).vor();
    f.vand().set(gv);
    f.when(
      () => f.get(f.p('g')),
      () => {
        f.get(f.p('g')).get(off).add().get(gv).vstore(0);
      },
    );
    f.get(f.p('dx')).get(off).add();
    f.get(f.p('A')).get(coff).add().vload(0).get(gv).f32x4Mul();
    f.get(f.p('B')).get(coff).add().vload(0).get(f.p('x')).get(off).add().vload(0).f32x4Mul().f32x4Add();
    f.get(f.p('K')).get(coff).add().vload(0).f32x4Add();
    f.vstore(0);
  });
  return f;
}

/** The SIMD kernels bound to `backend`'s heap, or null if they cannot be instantiated here. */
export function simdKernels(backend: WasmBackendLike): SimdKernels | null {
  return simdCallables(backend)?.fns ?? null;
}

export interface SimdCallables {
  memory: WebAssembly.Memory;
  fns: SimdKernels;
  bnStats: Callable;
  bnApply: Callable;
  bnGradSums: Callable;
  bnGradApply: Callable;
}
const callables = new WeakMap<object, SimdCallables | null>();

/** The same kernels as functions the kernel threads can run (./threads.ts), with the memory they run on. */
export function simdCallables(backend: WasmBackendLike): SimdCallables | null {
  const asm = (backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory } }).asm;
  const memory = asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  if (callables.has(memory)) return callables.get(memory) ?? null;
  let k: SimdCallables | null = null;
  try {
    const m = kernelModule(memory, [bnStats(), bnApply(), bnGradSums(), bnGradApply()]);
    const fns = Object.fromEntries(
      Object.entries(m).map(([name, c]) => [name, c.f]),
    ) as unknown as SimdKernels;
    k = {
      memory,
      fns,
      bnStats: m.bnStats,
      bnApply: m.bnApply,
      bnGradSums: m.bnGradSums,
      bnGradApply: m.bnGradApply,
    };
  } catch {
    k = null;
  }
  callables.set(memory, k);
  return k;
}
