/**
 * A tiny WebAssembly assembler: enough to write a few SIMD kernels as TypeScript that emits bytecode, so the lib
 * can run its own hand-written loops on tfjs-backend-wasm's heap (by importing the backend's `WebAssembly.Memory`)
 * without a C toolchain or a binary blob in the repository.
 *
 * Functions take i32 parameters only (heap byte offsets, sizes) and return nothing. Structured control flow comes
 * as helpers (`forRange`, `when`, `doWhile`); opcodes are from the WebAssembly core and fixed-width SIMD specs.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

function uleb(v: number): number[] {
  const out: number[] = [];
  let n = v >>> 0;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  let n = v | 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function str(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** An expression emitter: call it to push its value(s). */
export type Expr = () => void;

/** One function under construction. Parameters are locals 0..nParams−1 (all i32). */
export class Fn {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];
  constructor(
    readonly name: string,
    readonly paramNames: readonly string[],
  ) {}

  /** Index of parameter `name`. */
  p(name: string): number {
    const i = this.paramNames.indexOf(name);
    if (i < 0) throw new Error(`${this.name}: no parameter ${name}`);
    return i;
  }
  local(t: ValType): number {
    this.localTypes.push(t);
    return this.paramNames.length + this.localTypes.length - 1;
  }

  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  get(i: number): this {
    return this.op(0x20, ...uleb(i));
  }
  set(i: number): this {
    return this.op(0x21, ...uleb(i));
  }
  tee(i: number): this {
    return this.op(0x22, ...uleb(i));
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(v));
  }
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  divS(): this {
    return this.op(0x6d);
  }
  remS(): this {
    return this.op(0x6f);
  }
  ltS(): this {
    return this.op(0x48);
  }
  ltU(): this {
    return this.op(0x49);
  }
  gtS(): this {
    return this.op(0x4a);
  }
  geS(): this {
    return this.op(0x4e);
  }
  eq(): this {
    return this.op(0x46);
  }
  ne(): this {
    return this.op(0x47);
  }
  select(): this {
    return this.op(0x1b);
  }
  /** local = a + b·c … : `set(i, () => ...)` convenience. */
  let(i: number, e: Expr): this {
    e();
    return this.set(i);
  }
  /** local[i] += v (i32). */
  inc(i: number, v: Expr): this {
    this.get(i);
    v();
    return this.add().set(i);
  }

  simd(op: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(op), ...imm);
  }
  /** v128.load at [addr + offset] (addr on the stack). */
  vload(offset = 0): this {
    return this.simd(0x00, 2, ...uleb(offset));
  }
  /** v128.store (addr, value on the stack). */
  vstore(offset = 0): this {
    return this.simd(0x0b, 2, ...uleb(offset));
  }
  /** v128.load32_splat: one f32 broadcast to 4 lanes. */
  vsplatLoad(offset = 0): this {
    return this.simd(0x09, 2, ...uleb(offset));
  }
  vzero(): this {
    return this.simd(0x0c, ...new Array(16).fill(0));
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  vand(): this {
    return this.simd(0x4e);
  }
  vor(): this {
    return this.simd(0x50);
  }
  /** v128.bitselect(v1, v2, c) = (v1 & c) | (v2 & ~c). */
  vbitselect(): this {
    return this.simd(0x52);
  }
  i32x4Splat(): this {
    return this.simd(0x11);
  }
  /** v128.const with the same f32 in all lanes. */
  vconstF32(v: number): this {
    const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
    return this.simd(0x0c, ...b);
  }
  /** f32x4.relaxed_madd (a, b, c → a·b + c, fused where the CPU has FMA); needs relaxed SIMD. */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
  /** acc = acc + a·b: one relaxed_madd with `fma`, else f32x4.mul + f32x4.add. Operands are locals. */
  madd(acc: number, a: number, b: number, fma: boolean): this {
    if (fma) return this.get(a).get(b).get(acc).f32x4RelaxedMadd().set(acc);
    return this.get(acc).get(a).get(b).f32x4Mul().f32x4Add().set(acc);
  }
  f64x2Add(): this {
    return this.simd(0xf0);
  }
  f64x2PromoteLow(): this {
    return this.simd(0x5f);
  }
  /** memory.copy (dst, src, n on the stack). */
  memCopy(): this {
    return this.op(0xfc, 0x0a, 0x00, 0x00);
  }
  /** memory.fill (dst, byte value, n on the stack). */
  memFill(): this {
    return this.op(0xfc, 0x0b, 0x00);
  }
  /** i8x16.shuffle of two v128 with 16 lane indices. */
  shuffle(lanes: number[]): this {
    return this.simd(0x0d, ...lanes);
  }

  /** if (cond) { body } */
  when(cond: Expr, body: () => void): this {
    cond();
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }
  /** for (i = start; i < end; i += step) body; end is re-evaluated each iteration (use a local or constant). */
  forRange(i: number, start: Expr, end: Expr, step: number | Expr, body: () => void): this {
    start();
    this.set(i);
    this.op(0x02, 0x40); // block
    this.op(0x03, 0x40); // loop
    this.get(i);
    end();
    this.geS();
    this.op(0x0d, 1); // br_if exit
    body();
    this.get(i);
    if (typeof step === 'number') this.i32(step);
    else step();
    this.add().set(i);
    this.op(0x0c, 0); // br loop
    this.op(0x0b, 0x0b);
    return this;
  }
  /** do { body } while (--counter != 0); counter (a local) must start > 0. */
  countDown(counter: number, body: () => void): this {
    this.op(0x03, 0x40);
    body();
    this.get(counter).i32(1).sub().tee(counter);
    this.op(0x0d, 0); // br_if loop
    return this.op(0x0b);
  }

  encode(): number[] {
    const decl: number[] = [];
    for (const t of this.localTypes) decl.push(...uleb(1), t); // one (count 1, type) entry per local
    const body = [...uleb(this.localTypes.length), ...decl, ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module of `fns` that imports `env.memory` (min 1 page, no max: any memory fits; with `shared`, a shared memory
 * of at most 65536 pages, i.e. any shared wasm32 memory) and exports each function by name. All functions have the
 * type (i32 × nParams) → ().
 */
export function assemble(fns: Fn[], opts: { shared?: boolean } = {}): Uint8Array {
  const arities = [...new Set(fns.map((f) => f.paramNames.length))];
  const types: number[] = [...uleb(arities.length)];
  for (const n of arities) types.push(0x60, ...uleb(n), ...new Array(n).fill(I32), 0);
  const limits = opts.shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = [...uleb(1), ...str('env'), ...str('memory'), 0x02, ...limits];
  const funcs = [...uleb(fns.length), ...fns.flatMap((f) => uleb(arities.indexOf(f.paramNames.length)))];
  const exportSection = [...uleb(fns.length), ...fns.flatMap((f, i) => [...str(f.name), 0x00, ...uleb(i)])];
  const code = [...uleb(fns.length), ...fns.flatMap((f) => f.encode())];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exportSection),
    ...section(10, code),
  ]);
}

let relaxed: boolean | null = null;

/**
 * Can this engine compile WebAssembly relaxed SIMD (f32x4.relaxed_madd → one FMA instruction)? Node ≥ 22 ships it;
 * Node 20 (V8 11.3) has it behind `--experimental-wasm-relaxed-simd`, which is switched on here at run time when
 * needed (it only admits the relaxed-SIMD opcodes, standardised since). `NCL_NO_FMA=1` disables its use.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxed !== null) return relaxed;
  const probe = () => {
    const f = new Fn('t', ['p']);
    f.get(0).get(0).vload(0).get(0).vload(16).get(0).vload(32).f32x4RelaxedMadd().vstore(0);
    try {
      new WebAssembly.Module(assemble([f]));
      return true;
    } catch {
      return false;
    }
  };
  relaxed = false;
  if (typeof process !== 'undefined' && process.env?.NCL_NO_FMA) return relaxed;
  relaxed = probe();
  if (!relaxed && typeof process !== 'undefined' && process.versions?.node) {
    try {
      (require('v8') as { setFlagsFromString(flags: string): void }).setFlagsFromString(
        '--experimental-wasm-relaxed-simd',
      );
      relaxed = probe();
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/** Turn the use of relaxed SIMD off (false) or back to what the engine supports (true); for tests and A/B timing. */
export function useRelaxedSimd(enabled: boolean): void {
  relaxed = null;
  if (!enabled) relaxed = false;
  else relaxedSimdAvailable();
}
