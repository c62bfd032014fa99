/**
 * Direct 2-D convolution (NHWC, dilation 1) as the package's own WebAssembly SIMD code, generated per layer shape.
 *
 * The microkernel computes 4 output pixels × 8 output channels in 8 v128 accumulators: for every filter tap and
 * input channel it loads 8 packed weights (2 v128), broadcasts one input value per pixel (v128.load32_splat) and does
 * 16 multiply-adds. Because the code is generated for one (Ci, Co, KH, KW, stride, output pixel stride), every
 * address offset inside the tile is an immediate. With relaxed SIMD (f32x4.relaxed_madd, one FMA; see
 * `relaxedSimdAvailable`) the 16 multiply-adds are 8 instructions: ~53 GFLOP/s (CPU time) on one core here, ~47
 * without, vs ~25-28 for XNNPACK's wasm convolution on the same shapes. (Measured alternatives that were slower:
 * unrolling the channel loop, 2-3× slower from register spills in V8; 5- or 6-pixel tiles, ~2× slower.)
 *
 * The input is first copied into a zero-padded buffer (rows and columns the taps can reach) with bulk memory ops, so
 * the inner loops have no bounds checks; weights are packed as [Co/8][KH][KW][Ci][8]. The output can be written with
 * a pixel / row stride, which lets the strided input gradient write its phases straight into dx.
 *
 * Requires Co % 8 = 0; any Ci, kernel size and stride.
 */
import { Fn, I32, relaxedSimdAvailable, V128 } from './wasm-asm';
import { WasmBackendLike } from './kernel-utils';
import { Callable, kernelModule, partsFor, runParts, split, Task } from './threads';

export interface ConvSpec {
  Ci: number;
  Co: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  /** Bytes between horizontally adjacent output pixels (Co·4 for a dense output). */
  yPix: number;
  /** Use relaxed-SIMD fused multiply-add. */
  fma: boolean;
  /**
   * 3×3, stride 1, padding 1 on every side handled inside the kernel (no padded copy of the input): the first and
   * last output rows skip the taps above / below the image, the first and last 4-pixel tiles of a row skip the
   * taps left / right of it. Needs OW % 4 = 0, OW ≥ 8 and the output size equal to the input size.
   */
  pad1: boolean;
}

// conv (xpad, wpack, y, N, Hp, Wp, OH, OW, yRow, yImg): pointers are heap byte offsets; yRow / yImg are bytes.
// pad (x, xpad, N, H, Hp, Wp, pt, pl, copyPix, rightPad, pixBytes).

function convFn(spec: ConvSpec): Fn {
  const { Ci, Co, KH, KW, sh, sw, yPix, fma, pad1 } = spec;
  const f = new Fn('conv', ['x', 'w', 'y', 'N', 'Hp', 'Wp', 'OH', 'OW', 'yRow', 'yImg']);
  const P = (name: string) => f.p(name);
  const [n, oh, t, ow0, kh, xrow, yrow, xb, xr, xp, wp, wb, j, rowBytes, ow4, rem] = Array.from(
    { length: 16 },
    () => f.local(I32),
  );
  const [khlo, khhi] = [f.local(I32), f.local(I32)];
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const b0 = f.local(V128);
  const b1 = f.local(V128);
  const a = f.local(V128);
  const CI4 = Ci * 4;
  const PIX = sw * CI4;
  const WTILE = KH * KW * Ci * 32;
  // No unrolling over input channels: V8's register allocation of the unrolled body spills and runs ~2-3× slower
  // (measured: 47 GFLOP/s at u = 1, 29 at u = 2, 20 at u = 8).
  const u = 1;

  /**
   * One tile of `pixels` (1..4) output pixels starting at xb (input) / yb (output byte offset); `valid(kw, p)` false
   * drops the taps of pixel p at column kw (outside the image, pad1 only).
   */
  const tile = (pixels: number, yb: () => void, valid = (_kw: number, _p: number) => true) => {
    for (let i = 0; i < 2 * pixels; i++) f.vzero().set(acc[i]);
    if (pad1)
      f.let(wp, () =>
        f
          .get(khlo)
          .i32(KW * Ci * 32)
          .mul()
          .get(wb)
          .add(),
      );
    else f.get(wb).set(wp);
    f.forRange(
      kh,
      () => (pad1 ? f.get(khlo) : f.i32(0)),
      () => (pad1 ? f.get(khhi) : f.i32(KH)),
      1,
      () => {
        f.let(xr, () => f.get(xb).get(kh).get(rowBytes).mul().add());
        for (let kw = 0; kw < KW; kw++) {
          f.get(xr).set(xp);
          f.i32(Ci / u).set(j);
          f.countDown(j, () => {
            for (let jj = 0; jj < u; jj++) {
              f.get(wp)
                .vload(32 * jj)
                .set(b0);
              f.get(wp)
                .vload(32 * jj + 16)
                .set(b1);
              for (let p = 0; p < pixels; p++) {
                if (!valid(kw, p)) continue;
                f.get(xp)
                  .vsplatLoad(kw * CI4 + p * PIX + 4 * jj)
                  .set(a);
                f.madd(acc[2 * p], a, b0, fma).madd(acc[2 * p + 1], a, b1, fma);
              }
            }
            f.inc(xp, () => f.i32(4 * u));
            f.inc(wp, () => f.i32(32 * u));
          });
        }
      },
    );
    for (let p = 0; p < pixels; p++) {
      for (let h = 0; h < 2; h++) {
        yb();
        f.get(acc[2 * p + h]).vstore(p * yPix + 16 * h);
      }
    }
  };

  f.let(rowBytes, () => f.get(P('Wp')).i32(CI4).mul());
  f.let(ow4, () => f.get(P('OW')).i32(-4).op(0x71)); // i32.and: OW & ~3
  f.let(rem, () => f.get(P('OW')).get(ow4).sub());
  f.forRange(
    n,
    () => f.i32(0),
    () => f.get(P('N')),
    1,
    () => {
      f.forRange(
        oh,
        () => f.i32(0),
        () => f.get(P('OH')),
        1,
        () => {
          // xrow = x + (n·Hp + oh·sh)·rowBytes (one row up with pad1); yrow = y + n·yImg + oh·yRow
          f.let(xrow, () => {
            f.get(n)
              .get(P('Hp'))
              .mul()
              .get(oh)
              .i32(sh)
              .mul()
              .add()
              .i32(pad1 ? 1 : 0)
              .sub();
            f.get(rowBytes).mul().get(P('x')).add();
          });
          if (pad1) {
            // taps kh ∈ [khlo, khhi): the first row has no row above, the last none below
            f.let(khlo, () => f.get(oh).op(0x45)); // i32.eqz
            f.let(khhi, () => f.i32(3).get(oh).get(P('OH')).i32(1).sub().eq().sub());
          }
          f.let(yrow, () =>
            f.get(P('y')).get(n).get(P('yImg')).mul().add().get(oh).get(P('yRow')).mul().add(),
          );
          f.forRange(
            t,
            () => f.i32(0),
            () => f.i32(Co / 8),
            1,
            () => {
              f.let(wb, () => f.get(t).i32(WTILE).mul().get(P('w')).add());
              const yAt = (col: () => void) => () => {
                f.get(yrow);
                col();
                f.i32(yPix).mul().add().get(t).i32(32).mul().add();
              };
              if (pad1) {
                // left tile, interior tiles, right tile; x pointers one pixel to the left (column −1)
                f.let(xb, () => f.get(xrow).i32(CI4).sub());
                tile(
                  4,
                  yAt(() => f.i32(0)),
                  (kw, p) => !(kw === 0 && p === 0),
                );
                f.forRange(
                  ow0,
                  () => f.i32(4),
                  () => f.get(P('OW')).i32(4).sub(),
                  4,
                  () => {
                    f.let(xb, () => f.get(xrow).get(ow0).i32(PIX).mul().add().i32(CI4).sub());
                    tile(
                      4,
                      yAt(() => f.get(ow0)),
                    );
                  },
                );
                f.let(xb, () => f.get(xrow).get(P('OW')).i32(4).sub().i32(PIX).mul().add().i32(CI4).sub());
                tile(
                  4,
                  yAt(() => f.get(P('OW')).i32(4).sub()),
                  (kw, p) => !(kw === 2 && p === 3),
                );
                return;
              }
              f.forRange(
                ow0,
                () => f.i32(0),
                () => f.get(ow4),
                4,
                () => {
                  f.let(xb, () => f.get(xrow).get(ow0).i32(PIX).mul().add());
                  tile(4, () => f.get(yrow).get(ow0).i32(yPix).mul().add().get(t).i32(32).mul().add());
                },
              );
              for (let r = 1; r < 4; r++) {
                f.when(
                  () => f.get(rem).i32(r).eq(),
                  () => {
                    f.let(xb, () => f.get(xrow).get(ow4).i32(PIX).mul().add());
                    tile(r, () => f.get(yrow).get(ow4).i32(yPix).mul().add().get(t).i32(32).mul().add());
                  },
                );
              }
            },
          );
        },
      );
    },
  );
  return f;
}

/** Zero-padded copy of x [N, H, W, C] into xpad [N, Hp, Wp, C]: rows −pt.., columns −pl.. of x. */
function padFn(): Fn {
  const f = new Fn('pad', ['x', 'xp', 'N', 'H', 'Hp', 'Wp', 'pt', 'pl', 'copyPix', 'rightPad', 'pix']);
  const P = (name: string) => f.p(name);
  const [n, r, ih, dst, rowIn, rowOut, lb] = Array.from({ length: 7 }, () => f.local(I32));
  f.let(rowOut, () => f.get(P('Wp')).get(P('pix')).mul());
  f.let(rowIn, () => f.get(P('pix')).get(P('copyPix')).mul()); // whole input rows (copyPix = W)
  f.let(lb, () => f.get(P('pl')).get(P('pix')).mul());
  f.forRange(
    n,
    () => f.i32(0),
    () => f.get(P('N')),
    1,
    () => {
      f.forRange(
        r,
        () => f.i32(0),
        () => f.get(P('Hp')),
        1,
        () => {
          f.let(dst, () => f.get(n).get(P('Hp')).mul().get(r).add().get(rowOut).mul().get(P('xp')).add());
          f.let(ih, () => f.get(r).get(P('pt')).sub());
          f.get(ih).get(P('H')).ltU();
          f.op(0x04, 0x40); // if row inside x
          f.get(dst).i32(0).get(lb).memFill();
          f.get(dst).get(lb).add();
          f.get(P('x')).get(n).get(P('H')).mul().get(ih).add().get(rowIn).mul().add();
          f.get(rowIn).memCopy();
          f.get(dst).get(lb).add().get(rowIn).add().i32(0).get(P('rightPad')).get(P('pix')).mul().memFill();
          f.op(0x05); // else
          f.get(dst).i32(0).get(rowOut).memFill();
          f.op(0x0b);
        },
      );
    },
  );
  return f;
}

/** Shape of a filter gradient, all fixed at code generation (N stays a run-time argument). */
export interface FilterGradSpec {
  H: number;
  W: number;
  Ci: number;
  OH: number;
  OW: number;
  Co: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  /** Rows of dy per block (x and dy of a block stay in L1 across all taps and channel tiles). */
  ohb: number;
  /** Use relaxed-SIMD fused multiply-add. */
  fma: boolean;
}

/**
 * dW[kh,kw,ci,co] += Σ_{n,oh,ow} x[n, oh·sh + kh − pt, ow·sw + kw − pl, ci] · dy[n,oh,ow,co], (x, dy, dw, N, t0, t1)
 * for the filter tiles t0 ≤ t < t1 (tile t: input channels 4·⌊t / (Co/8)⌋ + [0, 4), output channels
 * 8·(t mod Co/8) + [0, 8)); threads take disjoint tile ranges, and each dW element is summed in the same order
 * (images, then rows, then columns) whichever thread computes it. Tiles of 4 input × 8 output channels in 8
 * accumulators; for each tap the valid rows and columns are constant ranges (no bounds checks in the loops) and
 * every tap / channel offset is an immediate. Ci % 4 = 0, Co % 8 = 0.
 */
function filterGradFn(g: FilterGradSpec): Fn {
  const { H, W, Ci, OH, OW, Co, KH, KW, sh, sw, pt, pl, ohb, fma } = g;
  const f = new Fn('filterGrad', ['x', 'dy', 'dw', 'N', 't0', 't1']);
  const P = (name: string) => f.p(name);
  const [n, ob, tile, ci0, co0, oh, oh1, xb, db, wb, xp, dp, j] = Array.from({ length: 13 }, () =>
    f.local(I32),
  );
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const b0 = f.local(V128);
  const b1 = f.local(V128);
  const a = f.local(V128);
  const XROW = W * Ci * 4; // bytes per x row
  const DROW = OW * Co * 4;
  const XSTEP = sw * Ci * 4;
  const DSTEP = Co * 4;
  f.forRange(
    n,
    () => f.i32(0),
    () => f.get(P('N')),
    1,
    () => {
      f.forRange(
        ob,
        () => f.i32(0),
        () => f.i32(OH),
        ohb,
        () => {
          f.forRange(
            tile,
            () => f.get(P('t0')),
            () => f.get(P('t1')),
            1,
            () => {
              // tile = (ci0 / 4)·(Co / 8) + co0 / 8
              f.let(ci0, () =>
                f
                  .get(tile)
                  .i32(Co / 8)
                  .divS()
                  .i32(4)
                  .mul(),
              );
              f.let(co0, () =>
                f
                  .get(tile)
                  .i32(Co / 8)
                  .remS()
                  .i32(8)
                  .mul(),
              );
              // xb = x + n·H·XROW + ci0·4; db = dy + n·OH·DROW + co0·4; wb = dw + (ci0·Co + co0)·4
              f.let(xb, () =>
                f
                  .get(n)
                  .i32(H * XROW)
                  .mul()
                  .get(P('x'))
                  .add()
                  .get(ci0)
                  .i32(4)
                  .mul()
                  .add(),
              );
              f.let(db, () =>
                f
                  .get(n)
                  .i32(OH * DROW)
                  .mul()
                  .get(P('dy'))
                  .add()
                  .get(co0)
                  .i32(4)
                  .mul()
                  .add(),
              );
              f.let(wb, () => f.get(ci0).i32(Co).mul().get(co0).add().i32(4).mul().get(P('dw')).add());
              for (let kh = 0; kh < KH; kh++) {
                // rows with 0 ≤ oh·sh + kh − pt < H
                const ohLo = Math.max(0, Math.ceil((pt - kh) / sh));
                const ohHi = Math.min(OH, Math.floor((H - 1 + pt - kh) / sh) + 1);
                if (ohHi <= ohLo) continue;
                for (let kw = 0; kw < KW; kw++) {
                  const owLo = Math.max(0, Math.ceil((pl - kw) / sw));
                  const owHi = Math.min(OW, Math.floor((W - 1 + pl - kw) / sw) + 1);
                  const cnt = owHi - owLo;
                  if (cnt <= 0) continue;
                  const tapOff = (kh * KW + kw) * Ci * Co * 4;
                  for (let r = 0; r < 4; r++) {
                    for (let h = 0; h < 2; h++)
                      f.get(wb)
                        .vload(tapOff + r * Co * 4 + 16 * h)
                        .set(acc[2 * r + h]);
                  }
                  // oh from max(ob, ohLo) to min(ob + ohb, ohHi)
                  f.let(oh, () => {
                    f.get(ob).i32(ohLo);
                    f.get(ob).i32(ohLo).gtS();
                    f.select();
                  });
                  f.let(oh1, () => {
                    f.get(ob).i32(ohb).add();
                    f.i32(ohHi);
                    f.get(ob).i32(ohb).add().i32(ohHi).ltS();
                    f.select();
                  });
                  // x column offset of ow = owLo for this tap, in bytes (may be negative only if owLo·sw + kw < pl,
                  // which the range excludes)
                  const xcol = (owLo * sw + kw - pl) * Ci * 4;
                  const dcol = owLo * Co * 4;
                  f.forRange(
                    oh,
                    () => f.get(oh),
                    () => f.get(oh1),
                    1,
                    () => {
                      f.let(xp, () =>
                        f
                          .get(oh)
                          .i32(sh * XROW)
                          .mul()
                          .get(xb)
                          .add()
                          .i32(xcol + (kh - pt) * XROW)
                          .add(),
                      );
                      f.let(dp, () => f.get(oh).i32(DROW).mul().get(db).add().i32(dcol).add());
                      f.i32(cnt).set(j);
                      f.countDown(j, () => {
                        f.get(dp).vload(0).set(b0);
                        f.get(dp).vload(16).set(b1);
                        for (let r = 0; r < 4; r++) {
                          f.get(xp)
                            .vsplatLoad(4 * r)
                            .set(a);
                          f.madd(acc[2 * r], a, b0, fma).madd(acc[2 * r + 1], a, b1, fma);
                        }
                        f.inc(xp, () => f.i32(XSTEP));
                        f.inc(dp, () => f.i32(DSTEP));
                      });
                    },
                  );
                  for (let r = 0; r < 4; r++) {
                    for (let h = 0; h < 2; h++) {
                      f.get(wb)
                        .get(acc[2 * r + h])
                        .vstore(tapOff + r * Co * 4 + 16 * h);
                    }
                  }
                }
              }
            },
          );
        },
      );
    },
  );
  return f;
}

interface Compiled {
  memory: WebAssembly.Memory;
  convs: Map<string, Callable>;
  filterGrads: Map<string, Callable>;
  pad: Callable;
}
const compiled = new WeakMap<object, Compiled | null>();

function compiledFor(backend: WasmBackendLike): Compiled | null {
  const memory = (backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory } }).asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  if (compiled.has(memory)) return compiled.get(memory) ?? null;
  let c: Compiled | null = null;
  try {
    c = { memory, convs: new Map(), filterGrads: new Map(), pad: kernelModule(memory, [padFn()]).pad };
  } catch {
    c = null;
  }
  compiled.set(memory, c);
  return c;
}

function convFor(c: Compiled, spec: ConvSpec): Callable {
  const key = JSON.stringify(spec);
  let fn = c.convs.get(key);
  if (!fn) {
    fn = kernelModule(c.memory, [convFn(spec)]).conv;
    c.convs.set(key, fn);
  }
  return fn;
}

/**
 * dW (zeroed by the caller, [KH][KW][Ci][Co] at heap offset dw) += the filter gradient of x [N,H,W,Ci] and
 * dy [N,OH,OW,Co], with code generated for this shape; the filter tiles are split across the kernel threads.
 * Returns false if the SIMD code is unavailable.
 */
export function filterGradSimd(
  backend: WasmBackendLike,
  shape: Omit<FilterGradSpec, 'fma'>,
  N: number,
  x: number,
  dy: number,
  dw: number,
): boolean {
  const c = compiledFor(backend);
  const g: FilterGradSpec = { ...shape, fma: relaxedSimdAvailable() };
  if (!c || g.Ci % 4 !== 0 || g.Co % 8 !== 0) return false;
  const key = JSON.stringify(g);
  let fn = c.filterGrads.get(key);
  if (!fn) {
    fn = kernelModule(c.memory, [filterGradFn(g)]).filterGrad;
    c.filterGrads.set(key, fn);
  }
  const tiles = (g.Ci / 4) * (g.Co / 8);
  const T = partsFor(c.memory, tiles);
  const parts: Task[][] = [];
  for (let i = 0; i < T; i++) {
    const [t0, t1] = split(tiles, T, i);
    parts.push([{ c: fn, args: [x, dy, dw, N, t0, t1] }]);
  }
  runParts(c.memory, parts);
  return true;
}

/** Is the SIMD convolution usable on this backend for `Co` output channels? */
export function convSimdAvailable(backend: WasmBackendLike, Co: number): boolean {
  return Co % 8 === 0 && compiledFor(backend) != null;
}

/**
 * Do the package's SIMD kernels compile and instantiate on this wasm backend's memory? When they do not (an engine
 * without WebAssembly SIMD, or a bug in the assembler), every kernel falls back to XNNPACK / JS loops, ~2.5× slower:
 * `initBackend` says which in its device line, so that a silent fallback shows.
 */
export function nclSimdKernelsActive(backend: WasmBackendLike): boolean {
  return compiledFor(backend) != null;
}

/** Pack a forward filter w [KH][KW][Ci][Co] for the kernel: dst[t][kh][kw][ci][k] = w[kh][kw][ci][8t + k]. */
export function packFilter(
  w: Float32Array,
  dst: Float32Array,
  KH: number,
  KW: number,
  Ci: number,
  Co: number,
): void {
  let o = 0;
  for (let t = 0; t < Co; t += 8) {
    for (let tap = 0; tap < KH * KW; tap++) {
      for (let ci = 0; ci < Ci; ci++) {
        const s = (tap * Ci + ci) * Co + t;
        for (let k = 0; k < 8; k++) dst[o++] = w[s + k];
      }
    }
  }
}

/**
 * Pack the input-gradient filter of a forward filter w [KHf][KWf][CiF][CoF]: the convolution of dy (CoF channels)
 * that yields dx (CiF channels) uses the taps kh = kh0 + sh·(TH−1−t), kw = kw0 + sw·(TW−1−u) (flipped; all taps
 * for stride 1), with in/out channels swapped: W'(t, u, ci' = co, co' = ci) = w[kh][kw][ci][co]. The output
 * channels ci' come in blocks of `block` (8 for the SIMD kernel; CiF gives the plain [t][u][co][ci] layout).
 */
export function packGradInputFilter(
  w: Float32Array,
  dst: Float32Array,
  KWf: number,
  CiF: number,
  CoF: number,
  kh0: number,
  sh: number,
  TH: number,
  kw0: number,
  sw: number,
  TW: number,
  block = 8,
): void {
  let o = 0;
  for (let t0 = 0; t0 < CiF; t0 += block) {
    for (let t = 0; t < TH; t++) {
      const kh = kh0 + sh * (TH - 1 - t);
      for (let u = 0; u < TW; u++) {
        const kw = kw0 + sw * (TW - 1 - u);
        const base = (kh * KWf + kw) * CiF * CoF;
        for (let co = 0; co < CoF; co++) {
          for (let k = 0; k < block; k++) dst[o++] = w[base + (t0 + k) * CoF + co];
        }
      }
    }
  }
}

let forcePadCopy = false;
/** Always use the padded-copy path (tests and A/B timing of the in-kernel padding). */
export function setForcePadCopy(on: boolean): void {
  forcePadCopy = on;
}

export interface ConvGeometry {
  N: number;
  H: number;
  W: number;
  Ci: number;
  Co: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  /** Zero padding before the first row / column (after is implied by OH, OW). */
  pt: number;
  pl: number;
  OH: number;
  OW: number;
}

/**
 * y = conv(x, packed weights) with the SIMD kernel. `x`, `wpack`, `y` are heap byte offsets; the output pixel
 * (oh, ow) of image n goes to y + n·yImg + oh·yRow + ow·yPix (bytes). Allocates (and frees) the padded input when
 * padding is needed through `scratch(bytes) → [ptr, free]`.
 */
export function convSimd(
  backend: WasmBackendLike,
  g: ConvGeometry,
  x: number,
  wpack: number,
  y: number,
  out: { yPix: number; yRow: number; yImg: number },
  scratch: (bytes: number) => [number, () => void],
): void {
  const c = compiledFor(backend);
  if (!c) throw new Error('SIMD convolution unavailable');
  const Hp = (g.OH - 1) * g.sh + g.KH;
  const Wp = (g.OW - 1) * g.sw + g.KW;
  const pix = g.Ci * 4;
  const pad1 =
    g.KH === 3 &&
    g.KW === 3 &&
    g.sh === 1 &&
    g.sw === 1 &&
    g.pt === 1 &&
    g.pl === 1 &&
    g.OH === g.H &&
    g.OW === g.W &&
    g.OW % 4 === 0 &&
    g.OW >= 8 &&
    !forcePadCopy;
  const needsPad = !pad1 && (g.pt !== 0 || g.pl !== 0 || Hp > g.H || Wp !== g.W);
  const copyPix = Math.min(g.W, Wp - g.pl);
  const rightPad = Wp - g.pl - copyPix;
  let xp = x;
  let free = () => undefined as void;
  if (needsPad) {
    [xp, free] = scratch(g.N * Hp * Wp * pix);
    // Trailing columns of x that no tap reaches: copy row by row with the full input row stride (rare; here).
    if (copyPix !== g.W) padRows(backend, g, x, xp, Hp, Wp, copyPix);
  }
  try {
    const fn = convFor(c, {
      Ci: g.Ci,
      Co: g.Co,
      KH: g.KH,
      KW: g.KW,
      sh: g.sh,
      sw: g.sw,
      yPix: out.yPix,
      fma: relaxedSimdAvailable(),
      pad1,
    });
    // Images split across the kernel threads: each pads and convolves its own images (no barrier between).
    const [hIn, wIn] = pad1 ? [g.H, g.W] : [Hp, Wp];
    const T = partsFor(c.memory, g.N);
    const parts: Task[][] = [];
    for (let i = 0; i < T; i++) {
      const [n0, n1] = split(g.N, T, i);
      const part: Task[] = [];
      const xn = xp + n0 * hIn * wIn * pix;
      if (needsPad && copyPix === g.W) {
        const args = [x + n0 * g.H * g.W * pix, xn, n1 - n0, g.H, Hp, Wp, g.pt, g.pl, copyPix, rightPad, pix];
        part.push({ c: c.pad, args });
      }
      const args = [xn, wpack, y + n0 * out.yImg, n1 - n0, hIn, wIn, g.OH, g.OW, out.yRow, out.yImg];
      part.push({ c: fn, args });
      parts.push(part);
    }
    runParts(c.memory, parts);
  } finally {
    free();
  }
}

/** The rare padding case where x is wider than the taps reach (valid convs with leftover columns): plain JS. */
function padRows(
  backend: WasmBackendLike,
  g: ConvGeometry,
  x: number,
  xp: number,
  Hp: number,
  Wp: number,
  copyPix: number,
): void {
  const heap = backend.wasm.HEAPF32;
  const C = g.Ci;
  for (let n = 0; n < g.N; n++) {
    for (let r = 0; r < Hp; r++) {
      const dst = (xp >> 2) + (n * Hp + r) * Wp * C;
      heap.fill(0, dst, dst + Wp * C);
      const ih = r - g.pt;
      if (ih < 0 || ih >= g.H) continue;
      const src = (x >> 2) + (n * g.H + ih) * g.W * C;
      heap.copyWithin(dst + g.pl * C, src, src + copyPix * C);
    }
  }
}
