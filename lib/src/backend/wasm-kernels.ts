/**
 * Training kernels the wasm backend lacks, in one replaceable place.
 *
 * tfjs-backend-wasm ships Conv2D and Conv2DBackpropInput but no Conv2DBackpropFilter, so no convnet can train
 * on it. We register that kernel for `wasm`, computed with kernels wasm does have (XNNPACK convolution):
 *
 *   dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s + kh − padTop, ow·s + kw − padLeft, ci] · dy[n,oh,ow,co]
 *
 * is itself a convolution once batch and channels swap places: input X' = xᵀ [Ci, H, W, N] ("batch" Ci, "channels"
 * N), filter F' = dy [OH, OW, N, Co], dilation = the forward stride, explicit padding (padTop, padLeft) and stride 1.
 * Its output [Ci, KH', KW', Co] (KH' ≥ KH, sliced to KH×KW when the forward conv ignored trailing rows) is
 * transposed back to [KH, KW, Ci, Co].
 */
import { tf } from '../tf';

type TensorInfo = tf.TensorInfo;
interface WasmBackendLike {
  disposeData(dataId: object): boolean;
}
type KFn = (args: {
  inputs: Record<string, TensorInfo>;
  attrs?: Record<string, unknown>;
  backend: unknown;
}) => TensorInfo;

function kernel(name: string): KFn {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no ${name} kernel`);
  return k.kernelFunc as unknown as KFn;
}

/** dW for a 2-D convolution (NHWC, dilation 1), as a wasm kernel function. */
function conv2DBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  attrs: {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  backend: WasmBackendLike;
}): TensorInfo {
  const { inputs, attrs, backend } = args;
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [, H, W] = x.shape;
  const {
    filterHeight: KH,
    filterWidth: KW,
    strideHeight: sh,
    strideWidth: sw,
    outHeight: OH,
    outWidth: OW,
  } = info;
  const { top, left } = info.padInfo;
  const transpose = kernel('Transpose');
  const conv = kernel('Conv2D');
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo) => (temps.push(t), t);
  try {
    const xT = keep(transpose({ inputs: { x }, attrs: { perm: [3, 1, 2, 0] }, backend })); // [Ci,H,W,N]
    const f = keep(transpose({ inputs: { x: dy }, attrs: { perm: [1, 2, 0, 3] }, backend })); // [OH,OW,N,Co]
    // Output height = H + top + bottom − ((OH−1)·sh + 1) + 1 must be ≥ KH.
    const bottom = Math.max(0, KH + (OH - 1) * sh - H - top);
    const right = Math.max(0, KW + (OW - 1) * sw - W - left);
    let g = keep(
      conv({
        inputs: { x: xT, filter: f },
        attrs: {
          strides: [1, 1],
          dilations: [sh, sw],
          pad: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          dataFormat: 'NHWC',
        },
        backend,
      }),
    ); // [Ci, KH', KW', Co]
    if (g.shape[1] !== KH || g.shape[2] !== KW) {
      g = keep(
        kernel('Slice')({
          inputs: { x: g },
          attrs: { begin: [0, 0, 0, 0], size: [g.shape[0], KH, KW, g.shape[3]] },
          backend,
        }),
      );
    }
    const out = transpose({ inputs: { x: g }, attrs: { perm: [1, 2, 0, 3] }, backend }); // [KH,KW,Ci,Co]
    return out;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

let registered = false;

/** Register the lib's extra wasm kernels (idempotent). Called by `initBackend` before selecting wasm. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
    });
  }
}
