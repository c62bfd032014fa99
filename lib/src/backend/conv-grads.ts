/**
 * Both gradients of a 2-D convolution on `wasm`, expressed through XNNPACK's forward convolution (the backend's
 * `Conv2D` kernel) plus cheap O(size) re-layouts done by JS loops on the wasm heap.
 *
 * Input gradient (`Conv2DBackpropInput`; tfjs-backend-wasm ships a naive direct loop):
 *
 *   dx[n,i,j,ci] = Σ_{oh·s + kh − padTop = i, ...} dy[n,oh,ow,co] · w[kh,kw,ci,co]
 *
 * is a stride-1 convolution of dy with the spatially flipped, in/out-swapped filter w'[kh,kw,co,ci] =
 * w[KH−1−kh, KW−1−kw, ci, co] and padding (KH−1−padTop, ...). For stride s > 1 the input gradient splits by output
 * phase: rows i ≡ a (mod s) receive only the taps kh ≡ a + padTop (mod s), so each phase is a stride-1 convolution of
 * dy with a sub-filter of those taps, and the s² phase outputs are interleaved into dx. No work is spent on the
 * zeros a dilated dy would hold.
 *
 * Filter gradient (`Conv2DBackpropFilter`; missing in tfjs-backend-wasm):
 *
 *   dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s + kh − padTop, ow·s + kw − padLeft, ci] · dy[n,oh,ow,co]
 *
 * runs as the lib's own SIMD loop (./simd-kernels.ts `convFilterGrad`) straight from NHWC x and dy when
 * Ci % 4 = 0 and Co % 8 = 0 (every conv of the CIFAR ResNets but the 3-channel stem). Otherwise it
 * is computed as a convolution once batch and channels swap places: input X' = xᵀ [Ci, H, W, N] ("batch" Ci, "channels"
 * N), filter F' = dy [OH, OW, N, Co], dilation = the forward stride, explicit padding (padTop, padLeft) and stride 1.
 * Its output [Ci, KH', KW', Co] (KH' ≥ KH when the forward conv ignored trailing rows) is re-laid out to
 * [KH, KW, Ci, Co].
 *
 * Shapes these formulations cannot express (NCHW, dilated forward convs, negative effective padding) fall back to
 * the backend's own kernel where there is one.
 */
import { tf } from '../tf';
import { alloc, f32, kernelFn, release, replaceKernel, TensorInfo, WasmBackendLike } from './kernel-utils';
import { simdKernels } from './simd-kernels';

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
  if (sh === 1 && sw === 1) {
    const pt = KH - 1 - top;
    const pl = KW - 1 - left;
    const pb = H - OH + top;
    const pr = W - OW + left;
    if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return fallback('negative effective padding');
    const wr = alloc(backend, [KH, KW, Co, Ci]);
    flipSwapFilter(f32(backend, filter), f32(backend, wr), KH, KW, Ci, Co, 0, 1, KH, 0, 1, KW);
    try {
      return conv(backend, dy, wr, [pt, pb, pl, pr]);
    } finally {
      release(backend, wr);
    }
  }
  // Strided: one stride-1 convolution per output phase (a, b), interleaved into dx.
  const dx = alloc(backend, [N, H, W, Ci]);
  // A phase that no tap reaches (e.g. odd rows of a 1×1 stride-2 conv) keeps zeros: clear dx first then.
  if (sh > KH || sw > KW) f32(backend, dx).fill(0);
  for (let a = 0; a < sh; a++) {
    // Rows i = a + sh·r (r = 0..RH−1); taps kh ≡ (a + top) mod sh: kh = kh0 + sh·t, t = 0..TH−1.
    const RH = Math.ceil((H - a) / sh);
    const kh0 = (a + top) % sh;
    const TH = kh0 < KH ? Math.ceil((KH - kh0) / sh) : 0;
    for (let b = 0; b < sw; b++) {
      const RW = Math.ceil((W - b) / sw);
      const kw0 = (b + left) % sw;
      const TW = kw0 < KW ? Math.ceil((KW - kw0) / sw) : 0;
      if (RH <= 0 || RW <= 0 || TH === 0 || TW === 0) continue;
      // dx[a + sh·r] = Σ_t dy[o] · w[kh0 + sh·t] with o = (a + sh·r + top − kh0 − sh·t)/sh = r + c0 − t,
      // c0 = (a + top − kh0)/sh. As a correlation over the flipped taps t' = TH−1−t: o = r + (c0 − TH + 1) + t',
      // so the padding before is TH − 1 − c0 and after is chosen to give RH output rows.
      const c0h = (a + top - kh0) / sh;
      const c0w = (b + left - kw0) / sw;
      const pt = TH - 1 - c0h;
      const pl = TW - 1 - c0w;
      const pb = RH - 1 + c0h - (OH - 1);
      const pr = RW - 1 + c0w - (OW - 1);
      if (pt < 0 || pl < 0 || pb < 0 || pr < 0) {
        release(backend, dx);
        return fallback('negative effective padding');
      }
      const wr = alloc(backend, [TH, TW, Co, Ci]);
      flipSwapFilter(f32(backend, filter), f32(backend, wr), KH, KW, Ci, Co, kh0, sh, TH, kw0, sw, TW);
      let part: TensorInfo;
      try {
        part = conv(backend, dy, wr, [pt, pb, pl, pr]); // [N, RH, RW, Ci]
      } finally {
        release(backend, wr);
      }
      scatterPhase(f32(backend, part), f32(backend, dx), N, H, W, Ci, RH, RW, a, b, sh, sw);
      release(backend, part);
    }
  }
  return dx;
}

/**
 * w'[t, u, co, ci] = w[kh0 + sh·(TH−1−t), kw0 + sw·(TW−1−u), ci, co]: the flipped, in/out-swapped sub-filter of
 * the taps kh ≡ kh0 (mod sh), kw ≡ kw0 (mod sw). With sh = sw = 1, kh0 = kw0 = 0 it is the whole filter.
 */
function flipSwapFilter(
  w: Float32Array,
  out: Float32Array,
  KH: number,
  KW: number,
  Ci: number,
  Co: number,
  kh0: number,
  sh: number,
  TH: number,
  kw0: number,
  sw: number,
  TW: number,
): void {
  let o = 0;
  for (let t = 0; t < TH; t++) {
    const kh = kh0 + sh * (TH - 1 - t);
    for (let u = 0; u < TW; u++) {
      const kw = kw0 + sw * (TW - 1 - u);
      const base = (kh * KW + kw) * Ci * Co;
      for (let co = 0; co < Co; co++) {
        for (let ci = 0; ci < Ci; ci++) out[o++] = w[base + ci * Co + co];
      }
    }
  }
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
  const simd = Ci % 4 === 0 && Co % 8 === 0 ? simdKernels(backend) : null;
  if (simd) {
    // Direct SIMD accumulation from NHWC x and dy; rows of dy in blocks whose x and dy data fit in L1.
    const out = alloc(backend, [KH, KW, Ci, Co]);
    f32(backend, out).fill(0);
    const rowBytes = (OW * Co + sh * W * Ci) * 4;
    const ohBlock = Math.max(1, Math.min(OH, Math.floor(16384 / rowBytes)));
    const off = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
    simd.convFilterGrad(
      off(x),
      off(dy),
      off(out),
      N,
      H,
      W,
      Ci,
      OH,
      OW,
      Co,
      KH,
      KW,
      sh,
      sw,
      top,
      left,
      ohBlock,
    );
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
