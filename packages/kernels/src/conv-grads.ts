/**
 * 2-D convolution on `wasm` for training: the forward pass and both gradients.
 *
 * Forward (`Conv2D`): the package's generated SIMD direct convolution (./conv-simd.ts, ~45 GFLOP/s on one core) when
 * Co % 8 = 0, dilation 1 and NHWC; XNNPACK (the backend's own kernel) otherwise.
 *
 * Input gradient (`Conv2DBackpropInput`; tfjs-backend-wasm ships a naive direct loop):
 *
 *   dx[n,i,j,ci] = Σ_{oh·s + kh − padTop = i, ...} dy[n,oh,ow,co] · w[kh,kw,ci,co]
 *
 * is a stride-1 convolution of dy with the spatially flipped, in/out-swapped filter w'[kh,kw,co,ci] =
 * w[KH−1−kh, KW−1−kw, ci, co] and padding (KH−1−padTop, ...). For stride s > 1 it splits by output phase: rows
 * i ≡ a (mod s) receive only the taps kh ≡ a + padTop (mod s), so each phase is a stride-1 convolution of dy with a
 * sub-filter of those taps (no work is spent on the zeros a dilated dy would hold). With the SIMD convolution
 * (Ci % 8 = 0) each phase writes straight into its rows and columns of dx; otherwise each phase is an XNNPACK
 * convolution and the phases are interleaved into dx.
 *
 * Filter gradient (`Conv2DBackpropFilter`; missing in tfjs-backend-wasm):
 *
 *   dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s + kh − padTop, ow·s + kw − padLeft, ci] · dy[n,oh,ow,co]
 *
 * runs as the package's own SIMD loop (./conv-simd.ts `filterGradSimd`, generated per shape) straight from NHWC x and dy when
 * Co % 8 = 0 (input channels are zero-padded to a multiple of 4 where needed: the 3-channel stem). Otherwise it is
 * computed as a convolution once batch and channels swap places: input X' = xᵀ [Ci, H, W, N] ("batch" Ci,
 * "channels" N), filter F' = dy [OH, OW, N, Co], dilation = the forward stride, explicit padding (padTop, padLeft)
 * and stride 1. Its output [Ci, KH', KW', Co] (KH' ≥ KH when the forward conv ignored trailing rows) is re-laid out
 * to [KH, KW, Ci, Co].
 *
 * Shapes these formulations cannot express (NCHW, dilated forward convs, negative effective padding) fall back to
 * the backend's own kernel where there is one.
 */
import { tf } from './tf';
import { alloc, f32, kernelFn, release, replaceKernel, TensorInfo, WasmBackendLike } from './kernel-utils';
import { convSimd, convSimdAvailable, filterGradSimd, packFilter, packGradInputFilter } from './conv-simd';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}
type Shape4 = [number, number, number, number];

/** Forward XNNPACK convolution, stride 1, explicit padding. */
function conv(
  backend: WasmBackendLike,
  x: TensorInfo,
  filter: TensorInfo,
  pad: [number, number, number, number],
  dilations: [number, number] = [1, 1],
): TensorInfo {
  return kernelFn(
    'Conv2D',
    'wasm',
  )({
    inputs: { x, filter },
    attrs: {
      strides: [1, 1],
      dilations,
      pad: [
        [0, 0],
        [pad[0], pad[1]],
        [pad[2], pad[3]],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
    backend,
  }) as TensorInfo;
}

function heapOffset(backend: WasmBackendLike, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Temporary heap memory for the SIMD convolution (its padded input), as a disposable float32 tensor. */
function scratch(backend: WasmBackendLike): (bytes: number) => [number, () => void] {
  return (bytes) => {
    const t = alloc(backend, [Math.ceil(bytes / 4)]);
    return [heapOffset(backend, t), () => release(backend, t)];
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2D (forward): the SIMD kernel where it applies (Co % 8 = 0, dilation 1, NHWC), XNNPACK otherwise.

let xnnConv2D: tf.KernelFunc | null = null;

function conv2D(args: {
  inputs: { x: TensorInfo; filter: TensorInfo };
  attrs: {
    strides: [number, number] | number;
    pad: Pad;
    dataFormat: 'NHWC' | 'NCHW';
    dilations?: [number, number] | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  backend: WasmBackendLike;
}): TensorInfo {
  const { inputs, attrs, backend } = args;
  const { x, filter } = inputs;
  const d = attrs.dilations ?? 1;
  const dilated = typeof d === 'number' ? d !== 1 : d[0] !== 1 || d[1] !== 1;
  const [KH, KW, Ci, Co] = filter.shape;
  if (attrs.dataFormat === 'NCHW' || dilated || !convSimdAvailable(backend, Co)) {
    if (!xnnConv2D) throw new Error('wasm Conv2D kernel missing');
    return xnnConv2D(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filter.shape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: N, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = info;
  const out = alloc(backend, [N, OH, OW, Co]);
  const wp = alloc(backend, [KH * KW * Ci * Co]);
  packFilter(f32(backend, filter), f32(backend, wp), KH, KW, Ci, Co);
  try {
    convSimd(
      backend,
      {
        N,
        H,
        W,
        Ci,
        Co,
        KH,
        KW,
        sh: info.strideHeight,
        sw: info.strideWidth,
        pt: info.padInfo.top,
        pl: info.padInfo.left,
        OH,
        OW,
      },
      heapOffset(backend, x),
      heapOffset(backend, wp),
      heapOffset(backend, out),
      { yPix: Co * 4, yRow: OW * Co * 4, yImg: OH * OW * Co * 4 },
      scratch(backend),
    );
  } finally {
    release(backend, wp);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2DBackpropInput

let fallbackBackpropInput: tf.KernelFunc | null = null;

function conv2DBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  attrs: ConvGradAttrs & { inputShape: Shape4 };
  backend: WasmBackendLike;
}): TensorInfo {
  const { inputs, attrs, backend } = args;
  const { dy, filter } = inputs;
  const fallback = (why: string): TensorInfo => {
    if (!fallbackBackpropInput) throw new Error(`wasm Conv2DBackpropInput: ${why}`);
    return fallbackBackpropInput(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  };
  if (attrs.dataFormat === 'NCHW') return fallback('NCHW is not supported');
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const {
    batchSize: N,
    inHeight: H,
    inWidth: W,
    inChannels: Ci,
    outHeight: OH,
    outWidth: OW,
    outChannels: Co,
    filterHeight: KH,
    filterWidth: KW,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const { top, left } = info.padInfo;
  // One stride-1 convolution per output phase (a, b): rows i = a + sh·r (r < RH) take the taps kh ≡ a + top
  // (mod sh), kh = kh0 + sh·t (t < TH). dx[a + sh·r] = Σ_t dy[r + c0 − t] · w[kh0 + sh·t] with c0 = (a + top − kh0)/sh:
  // a correlation over the flipped taps with padding TH − 1 − c0 before (and whatever gives RH rows after).
  interface Phase {
    a: number;
    b: number;
    RH: number;
    RW: number;
    kh0: number;
    kw0: number;
    TH: number;
    TW: number;
    pt: number;
    pl: number;
    pb: number;
    pr: number;
  }
  const phases: Phase[] = [];
  for (let a = 0; a < sh; a++) {
    for (let b = 0; b < sw; b++) {
      const RH = Math.ceil((H - a) / sh);
      const RW = Math.ceil((W - b) / sw);
      const kh0 = (a + top) % sh;
      const kw0 = (b + left) % sw;
      const TH = kh0 < KH ? Math.ceil((KH - kh0) / sh) : 0;
      const TW = kw0 < KW ? Math.ceil((KW - kw0) / sw) : 0;
      if (RH <= 0 || RW <= 0 || TH === 0 || TW === 0) continue; // no tap reaches this phase: dx stays 0 there
      const c0h = (a + top - kh0) / sh;
      const c0w = (b + left - kw0) / sw;
      const p = { a, b, RH, RW, kh0, kw0, TH, TW, pt: TH - 1 - c0h, pl: TW - 1 - c0w, pb: 0, pr: 0 };
      p.pb = RH - 1 + c0h - (OH - 1);
      p.pr = RW - 1 + c0w - (OW - 1);
      if (p.pt < 0 || p.pl < 0) return fallback('negative effective padding');
      phases.push(p);
    }
  }
  // The flipped, in/out-swapped taps of one phase, output channels in blocks of `block`.
  const packPhase = (p: (typeof phases)[number], dst: TensorInfo, block: number) =>
    packGradInputFilter(
      f32(backend, filter),
      f32(backend, dst),
      KW,
      Ci,
      Co,
      p.kh0,
      sh,
      p.TH,
      p.kw0,
      sw,
      p.TW,
      block,
    );
  const dx = alloc(backend, [N, H, W, Ci]);
  // A phase no tap reaches (e.g. odd rows of a 1×1 stride-2 conv) keeps zeros.
  if (phases.length < sh * sw) f32(backend, dx).fill(0);
  if (convSimdAvailable(backend, Ci)) {
    // SIMD kernel: each phase writes straight into its rows / columns of dx.
    for (const p of phases) {
      const wp = alloc(backend, [p.TH * p.TW * Co * Ci]);
      packPhase(p, wp, 8);
      try {
        convSimd(
          backend,
          {
            N,
            H: OH,
            W: OW,
            Ci: Co,
            Co: Ci,
            KH: p.TH,
            KW: p.TW,
            sh: 1,
            sw: 1,
            pt: p.pt,
            pl: p.pl,
            OH: p.RH,
            OW: p.RW,
          },
          heapOffset(backend, dy),
          heapOffset(backend, wp),
          heapOffset(backend, dx) + (p.a * W + p.b) * Ci * 4,
          { yPix: sw * Ci * 4, yRow: sh * W * Ci * 4, yImg: H * W * Ci * 4 },
          scratch(backend),
        );
      } finally {
        release(backend, wp);
      }
    }
    return dx;
  }
  for (const p of phases) {
    if (p.pb < 0 || p.pr < 0) {
      release(backend, dx);
      return fallback('negative effective padding');
    }
    const wr = alloc(backend, [p.TH, p.TW, Co, Ci]);
    packPhase(p, wr, Ci); // one block of all Ci channels: the plain flipped, swapped filter [t, u, co, ci]
    let part: TensorInfo;
    try {
      part = conv(backend, dy, wr, [p.pt, p.pb, p.pl, p.pr]); // [N, RH, RW, Ci]
    } finally {
      release(backend, wr);
    }
    if (sh === 1 && sw === 1) {
      release(backend, dx);
      return part;
    }
    scatterPhase(f32(backend, part), f32(backend, dx), N, H, W, Ci, p.RH, p.RW, p.a, p.b, sh, sw);
    release(backend, part);
  }
  return dx;
}

/** dx[n, a + sh·r, b + sw·c, :] = part[n, r, c, :]. */
function scatterPhase(
  part: Float32Array,
  dx: Float32Array,
  N: number,
  H: number,
  W: number,
  C: number,
  RH: number,
  RW: number,
  a: number,
  b: number,
  sh: number,
  sw: number,
): void {
  let s = 0;
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < RH; r++) {
      let d = ((n * H + a + sh * r) * W + b) * C;
      const step = sw * C - C;
      for (let c = 0; c < RW; c++, d += step) {
        for (let k = 0; k < C; k++) dx[d++] = part[s++];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2DBackpropFilter

/** xT[c, p, n] = x[n, p, c] for x [N, P, C]. */
function transposeNPC(x: Float32Array, out: Float32Array, N: number, P: number, C: number): void {
  const PN = P * N;
  for (let p = 0; p < P; p++) {
    for (let n = 0; n < N; n++) {
      let s = (n * P + p) * C;
      let d = p * N + n;
      for (let c = 0; c < C; c++, d += PN) out[d] = x[s++];
    }
  }
}

/** out[p, n, c] = x[n, p, c] for x [N, P, C]. */
function swapNP(x: Float32Array, out: Float32Array, N: number, P: number, C: number): void {
  let s = 0;
  const stride = N * C - C;
  for (let n = 0; n < N; n++) {
    let d = n * C;
    for (let p = 0; p < P; p++, d += stride) {
      for (let c = 0; c < C; c++) out[d++] = x[s++];
    }
  }
}

function conv2DBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  attrs: ConvGradAttrs & { filterShape: Shape4 };
  backend: WasmBackendLike;
}): TensorInfo {
  const { inputs, attrs, backend } = args;
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [N, H, W, Ci] = x.shape;
  const {
    filterHeight: KH,
    filterWidth: KW,
    strideHeight: sh,
    strideWidth: sw,
    outHeight: OH,
    outWidth: OW,
    outChannels: Co,
  } = info;
  const { top, left } = info.padInfo;
  if (Co % 8 === 0 && convSimdAvailable(backend, Co)) {
    // The lib's SIMD loop, generated for this shape, straight from NHWC x and dy; rows of dy in blocks whose x and
    // dy data fit in L1. It takes input channels 4 at a time: other counts (the 3-channel stem) run on a copy of x
    // zero-padded to a multiple of 4 channels, and the extra rows of dW are dropped.
    const Ci4 = Math.ceil(Ci / 4) * 4;
    let xs = x;
    if (Ci4 !== Ci) {
      xs = alloc(backend, [N, H, W, Ci4]);
      const X = f32(backend, x);
      const Xs = f32(backend, xs);
      Xs.fill(0);
      for (let p = 0, q = 0; p < X.length; p += Ci, q += Ci4)
        for (let c = 0; c < Ci; c++) Xs[q + c] = X[p + c];
    }
    const g = alloc(backend, [KH, KW, Ci4, Co]);
    f32(backend, g).fill(0);
    const rowBytes = (OW * Co + sh * W * Ci4) * 4;
    const ohb = Math.max(1, Math.min(OH, Math.floor(16384 / rowBytes)));
    const spec = { H, W, Ci: Ci4, OH, OW, Co, KH, KW, sh, sw, pt: top, pl: left, ohb };
    filterGradSimd(
      backend,
      spec,
      N,
      heapOffset(backend, xs),
      heapOffset(backend, dy),
      heapOffset(backend, g),
    );
    if (Ci4 === Ci) return g;
    release(backend, xs);
    const out = alloc(backend, [KH, KW, Ci, Co]);
    const G = f32(backend, g);
    const O = f32(backend, out);
    for (let tap = 0; tap < KH * KW; tap++) {
      O.set(G.subarray(tap * Ci4 * Co, (tap * Ci4 + Ci) * Co), tap * Ci * Co);
    }
    release(backend, g);
    return out;
  }
  const xT = alloc(backend, [Ci, H, W, N]);
  const f = alloc(backend, [OH, OW, N, Co]);
  transposeNPC(f32(backend, x), f32(backend, xT), N, H * W, Ci);
  swapNP(f32(backend, dy), f32(backend, f), N, OH * OW, Co);
  // Output height = H + top + bottom − ((OH−1)·sh + 1) + 1 must be ≥ KH.
  const bottom = Math.max(0, KH + (OH - 1) * sh - H - top);
  const right = Math.max(0, KW + (OW - 1) * sw - W - left);
  let g: TensorInfo;
  try {
    g = conv(backend, xT, f, [top, bottom, left, right], [sh, sw]); // [Ci, KH', KW', Co]
  } finally {
    release(backend, xT);
    release(backend, f);
  }
  const [, KH2, KW2] = g.shape;
  const out = alloc(backend, [KH, KW, Ci, Co]);
  const gv = f32(backend, g);
  const ov = f32(backend, out);
  let o = 0;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      for (let ci = 0; ci < Ci; ci++) {
        const s = ((ci * KH2 + kh) * KW2 + kw) * Co;
        for (let co = 0; co < Co; co++) ov[o++] = gv[s + co];
      }
    }
  }
  release(backend, g);
  return out;
}

let registered = false;

/** Register both wasm convolution gradients (idempotent). */
export function registerWasmConvGrads(): void {
  if (registered) return;
  registered = true;
  const prevConv = replaceKernel({
    kernelName: 'Conv2D',
    backendName: 'wasm',
    kernelFunc: conv2D as unknown as tf.KernelFunc,
  });
  xnnConv2D = prevConv?.kernelFunc ?? null;
  const prevInput = replaceKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
  });
  fallbackBackpropInput = prevInput?.kernelFunc ?? null;
  replaceKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
  });
}
