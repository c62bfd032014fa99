/**
 * Fused training-mode batch norm: y = [relu](γ·(x − μ_B)/√(σ²_B + ε) + β [+ r]), with its hand-written backward,
 * as two tfjs kernels registered for `wasm` and `cpu` (plain JS loops over the tensors' float32 data, which on wasm
 * live on the module heap):
 *
 *   NclBatchNormTrain      {x, gamma, beta[, residual]} → [y, mean, variance]     (batch statistics, biased σ²)
 *   NclBatchNormTrainGrad  {dy, x, y, gamma, mean, variance} → [dx, dgamma, dbeta[, dresidual]]
 *
 * Channels are the last axis (NHWC); statistics are over all other axes, accumulated in float64. The forward takes
 * two passes over x (statistics, then normalise + ReLU + residual) and the backward two over dy, x and y (per-channel
 * Σg and Σg·x with g = dy masked by y > 0, then dx = A·g + B·x + K per channel), where tfjs's composite batch norm
 * gradient spends ~20 kernels, full-size Tile included.
 *
 * `batchNormTrain()` is the op: it runs the fused kernel where the current backend has one and the equivalent
 * composite of tfjs ops elsewhere (`tensorflow`, `webgpu`). Gradients flow to x, γ, β and the residual; the batch
 * mean and variance outputs are for the running statistics only (no gradient flows through them).
 */
import { tf } from './tf';
import { AnyBackend, alloc, f32, isWasm, release, size, TensorInfo, WasmBackendLike } from './kernel-utils';
import { BN_BLOCK_ROWS, SimdCallables, simdCallables } from './simd-kernels';
import { partsFor, runParts, split, Task } from './threads';

export const BN_KERNEL = 'NclBatchNormTrain';
export const BN_GRAD_KERNEL = 'NclBatchNormTrainGrad';

interface BnAttrs {
  eps: number;
  relu: boolean;
  residual: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Loops. X has n = P·C elements, channel c at i ≡ c (mod C). They walk L1-sized row blocks channel by channel so
// per-channel constants and accumulators stay in registers. ReLU and its mask are branch-free (v·(v > 0)): with
// activations of random sign a branch mispredicts half the time and costs ~4× the whole loop.

const BLOCK = 4096;

/** s[c] = Σ x, q[c] = Σ x² over the rows of X. */
function sumAndSquares(X: Float32Array, C: number, s: Float64Array, q: Float64Array): void {
  const n = X.length;
  const rows = Math.max(1, Math.floor(BLOCK / C)) * C;
  s.fill(0);
  q.fill(0);
  for (let b = 0; b < n; b += rows) {
    const e = Math.min(n, b + rows);
    for (let c = 0; c < C; c++) {
      let s0 = 0;
      let q0 = 0;
      for (let i = b + c; i < e; i += C) {
        const v = X[i];
        s0 += v;
        q0 += v * v;
      }
      s[c] += s0;
      q[c] += q0;
    }
  }
}

/** With g = relu ? (Y > 0 ? DY : 0) : DY: sg[c] = Σ g, sgx[c] = Σ g·x. */
function gradSums(
  DY: Float32Array,
  X: Float32Array,
  Y: Float32Array,
  C: number,
  relu: boolean,
  sg: Float64Array,
  sgx: Float64Array,
): void {
  const n = X.length;
  const rows = Math.max(1, Math.floor(BLOCK / C)) * C;
  sg.fill(0);
  sgx.fill(0);
  for (let b = 0; b < n; b += rows) {
    const e = Math.min(n, b + rows);
    for (let c = 0; c < C; c++) {
      let a0 = 0;
      let a1 = 0;
      if (relu) {
        for (let i = b + c; i < e; i += C) {
          const g = DY[i] * +(Y[i] > 0);
          a0 += g;
          a1 += g * X[i];
        }
      } else {
        for (let i = b + c; i < e; i += C) {
          const g = DY[i];
          a0 += g;
          a1 += g * X[i];
        }
      }
      sg[c] += a0;
      sgx[c] += a1;
    }
  }
}

/** Y = [relu](X·a[c] + k[c] [+ R]). */
function normalize(
  X: Float32Array,
  Y: Float32Array,
  R: Float32Array | null,
  C: number,
  a: Float64Array,
  k: Float64Array,
  relu: boolean,
): void {
  const n = X.length;
  const rows = Math.max(1, Math.floor(BLOCK / C)) * C;
  for (let b = 0; b < n; b += rows) {
    const e = Math.min(n, b + rows);
    for (let c = 0; c < C; c++) {
      const ac = a[c];
      const kc = k[c];
      if (R) {
        if (relu) {
          for (let i = b + c; i < e; i += C) {
            const v = X[i] * ac + kc + R[i];
            Y[i] = v * +(v > 0);
          }
        } else for (let i = b + c; i < e; i += C) Y[i] = X[i] * ac + kc + R[i];
      } else if (relu) {
        for (let i = b + c; i < e; i += C) {
          const v = X[i] * ac + kc;
          Y[i] = v * +(v > 0);
        }
      } else for (let i = b + c; i < e; i += C) Y[i] = X[i] * ac + kc;
    }
  }
}

/** DX = A[c]·g + B[c]·X + K[c] with g as in gradSums; G (if given) = g. */
function gradApply(
  DY: Float32Array,
  X: Float32Array,
  Y: Float32Array,
  DX: Float32Array,
  G: Float32Array | null,
  C: number,
  relu: boolean,
  A: Float64Array | Float32Array,
  B: Float64Array | Float32Array,
  K: Float64Array | Float32Array,
): void {
  const n = X.length;
  const rows = Math.max(1, Math.floor(BLOCK / C)) * C;
  for (let b = 0; b < n; b += rows) {
    const e = Math.min(n, b + rows);
    for (let c = 0; c < C; c++) {
      const ac = A[c];
      const bc = B[c];
      const kc = K[c];
      if (!relu) {
        for (let i = b + c; i < e; i += C) DX[i] = ac * DY[i] + bc * X[i] + kc;
      } else if (G) {
        for (let i = b + c; i < e; i += C) {
          const g = DY[i] * +(Y[i] > 0);
          G[i] = g;
          DX[i] = ac * g + bc * X[i] + kc;
        }
      } else {
        for (let i = b + c; i < e; i += C) {
          const g = DY[i] * +(Y[i] > 0);
          DX[i] = ac * g + bc * X[i] + kc;
        }
      }
    }
  }
}

/**
 * From Σg, Σg·x per channel: dγ = Σ g·x̂, dβ = Σ g, and dx = A·g + B·x + K per channel, where
 * dx = γ·inv·(g − Σg/P − x̂·Σg·x̂/P), x̂ = (x − μ)·inv, inv = 1/√(σ² + ε).
 */
function gradCoefficients(
  sg: Float64Array,
  sgx: Float64Array,
  Gm: Float32Array,
  M: Float32Array,
  V: Float32Array,
  eps: number,
  P: number,
  DG: Float32Array,
  DB: Float32Array,
  A: Float64Array | Float32Array,
  B: Float64Array | Float32Array,
  K: Float64Array | Float32Array,
): void {
  for (let c = 0; c < sg.length; c++) {
    const inv = 1 / Math.sqrt(V[c] + eps);
    const sgxh = inv * (sgx[c] - M[c] * sg[c]); // Σ g·x̂ = inv·(Σ g·x − μ·Σ g)
    DG[c] = sgxh;
    DB[c] = sg[c];
    const b = (-Gm[c] * inv * inv * sgxh) / P;
    A[c] = Gm[c] * inv;
    B[c] = b;
    K[c] = (-Gm[c] * inv * sg[c]) / P - b * M[c];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels (the same code on wasm and cpu: only where the float32 data lives differs).

/**
 * Scratch on the wasm heap for the SIMD path: per-block sums f64 [blocks][2C] (zeroed), then 3 × [C] f32
 * parameters.
 */
function withScratch<T>(
  backend: WasmBackendLike,
  C: number,
  blocks: number,
  f: (sums: number, params: number) => T,
): T {
  const t = alloc(backend, [4 * C * blocks + 3 * C + 4]);
  try {
    const base = backend.dataIdMap.get(t.dataId).memoryOffset;
    const sums = (base + 7) & ~7;
    heapF64(backend, sums, 2 * C * blocks).fill(0);
    return f(sums, sums + 16 * C * blocks);
  } finally {
    release(backend, t);
  }
}

function heapF64(backend: WasmBackendLike, ptr: number, n: number): Float64Array {
  return new Float64Array(backend.wasm.HEAPF32.buffer, ptr, n);
}
function heapF32(backend: WasmBackendLike, ptr: number, n: number): Float32Array {
  return new Float32Array(backend.wasm.HEAPF32.buffer, ptr, n);
}

/** Below this many elements a batch-norm pass runs on one thread (waking the others costs more). */
const MIN_PARALLEL = 1 << 15;

/**
 * The rows of a batch-norm pass split across the kernel threads in whole blocks of BN_BLOCK_ROWS rows:
 * `call(r0, rows)` gives one thread's calls for rows [r0, r0 + rows).
 */
function rowParts(k: SimdCallables, P: number, C: number, call: (r0: number, rows: number) => Task): void {
  const blocks = Math.ceil(P / BN_BLOCK_ROWS);
  const T = P * C < MIN_PARALLEL ? 1 : partsFor(k.memory, blocks);
  const parts: Task[][] = [];
  for (let i = 0; i < T; i++) {
    const [r0, r1] = split(P, T, i, BN_BLOCK_ROWS);
    if (r1 > r0) parts.push([call(r0, r1 - r0)]);
  }
  runParts(k.memory, parts);
}

/** S[c] = Σ over blocks (in order) of the per-block sums [blocks][2C]: the same order on any number of threads. */
function addBlocks(backend: WasmBackendLike, sums: number, C: number, blocks: number): Float64Array {
  const B = heapF64(backend, sums, 2 * C * blocks);
  const S = new Float64Array(2 * C);
  for (let b = 0; b < blocks; b++) for (let c = 0; c < 2 * C; c++) S[c] += B[b * 2 * C + c];
  return S;
}

/** Forward on wasm with the SIMD loops (C % 4 = 0); writes y and returns nothing. */
function bnForwardSimd(
  backend: WasmBackendLike,
  simd: SimdCallables,
  x: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  residual: TensorInfo | undefined,
  y: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  attrs: BnAttrs,
): void {
  const C = x.shape[x.shape.length - 1];
  const P = size(x.shape) / C;
  const blocks = Math.ceil(P / BN_BLOCK_ROWS);
  const off = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
  const row = 4 * C;
  withScratch(backend, C, blocks, (sums, params) => {
    rowParts(simd, P, C, (r0, rows) => ({
      c: simd.bnStats,
      args: [off(x) + r0 * row, rows, C, sums + (r0 / BN_BLOCK_ROWS) * 16 * C],
    }));
    const S = addBlocks(backend, sums, C, blocks);
    const G = f32(backend, gamma);
    const Bt = f32(backend, beta);
    const Mo = f32(backend, mean);
    const Vo = f32(backend, variance);
    const a = heapF32(backend, params, C);
    const k = heapF32(backend, params + 4 * C, C);
    for (let c = 0; c < C; c++) {
      const m = S[c] / P;
      const v = Math.max(0, S[C + c] / P - m * m);
      Mo[c] = m;
      Vo[c] = v;
      const ac = G[c] / Math.sqrt(v + attrs.eps);
      a[c] = ac;
      k[c] = Bt[c] - m * ac;
    }
    rowParts(simd, P, C, (r0, rows) => ({
      c: simd.bnApply,
      args: [
        off(x) + r0 * row,
        off(y) + r0 * row,
        residual ? off(residual) + r0 * row : 0,
        rows,
        C,
        params,
        params + 4 * C,
        attrs.relu ? 1 : 0,
      ],
    }));
  });
}

function bnForwardKernel(args: {
  inputs: { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo; residual?: TensorInfo };
  attrs: BnAttrs;
  backend: AnyBackend;
}): TensorInfo[] {
  const { inputs, attrs, backend } = args;
  const { x, gamma, beta, residual } = inputs;
  const C = x.shape[x.shape.length - 1];
  const P = size(x.shape) / C;
  const y = alloc(backend, x.shape);
  const mean = alloc(backend, [C]);
  const variance = alloc(backend, [C]);
  const simd = C % 4 === 0 && isWasm(backend) ? simdCallables(backend) : null;
  if (simd && isWasm(backend)) {
    bnForwardSimd(backend, simd, x, gamma, beta, residual, y, mean, variance, attrs);
    return [y, mean, variance];
  }
  const X = f32(backend, x);
  const s = new Float64Array(C);
  const q = new Float64Array(C);
  sumAndSquares(X, C, s, q);
  const G = f32(backend, gamma);
  const Bt = f32(backend, beta);
  const Mo = f32(backend, mean);
  const Vo = f32(backend, variance);
  const a = new Float64Array(C);
  const k = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const m = s[c] / P;
    const v = Math.max(0, q[c] / P - m * m);
    Mo[c] = m;
    Vo[c] = v;
    a[c] = G[c] / Math.sqrt(v + attrs.eps);
    k[c] = Bt[c] - m * a[c];
  }
  normalize(X, f32(backend, y), residual ? f32(backend, residual) : null, C, a, k, attrs.relu);
  return [y, mean, variance];
}

function bnGradKernel(args: {
  inputs: {
    dy: TensorInfo;
    x: TensorInfo;
    y: TensorInfo;
    gamma: TensorInfo;
    mean: TensorInfo;
    variance: TensorInfo;
  };
  attrs: BnAttrs;
  backend: AnyBackend;
}): TensorInfo[] {
  const { inputs, attrs, backend } = args;
  const { dy, x, y, gamma, mean, variance } = inputs;
  const C = x.shape[x.shape.length - 1];
  const P = size(x.shape) / C;
  const withG = attrs.residual && attrs.relu;
  const dx = alloc(backend, x.shape);
  const dgamma = alloc(backend, [C]);
  const dbeta = alloc(backend, [C]);
  const dres = withG ? alloc(backend, x.shape) : null;
  const simd = C % 4 === 0 && isWasm(backend) ? simdCallables(backend) : null;
  if (simd && isWasm(backend)) {
    const off = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
    const relu = attrs.relu ? 1 : 0;
    const blocks = Math.ceil(P / BN_BLOCK_ROWS);
    const row = 4 * C;
    withScratch(backend, C, blocks, (sums, params) => {
      rowParts(simd, P, C, (r0, rows) => ({
        c: simd.bnGradSums,
        args: [
          off(dy) + r0 * row,
          off(x) + r0 * row,
          off(y) + r0 * row,
          rows,
          C,
          relu,
          sums + (r0 / BN_BLOCK_ROWS) * 16 * C,
        ],
      }));
      const S = addBlocks(backend, sums, C, blocks);
      const A = heapF32(backend, params, C);
      const B = heapF32(backend, params + 4 * C, C);
      const K = heapF32(backend, params + 8 * C, C);
      gradCoefficients(
        S.subarray(0, C),
        S.subarray(C),
        f32(backend, gamma),
        f32(backend, mean),
        f32(backend, variance),
        attrs.eps,
        P,
        f32(backend, dgamma),
        f32(backend, dbeta),
        A,
        B,
        K,
      );
      rowParts(simd, P, C, (r0, rows) => ({
        c: simd.bnGradApply,
        args: [
          off(dy) + r0 * row,
          off(x) + r0 * row,
          off(y) + r0 * row,
          off(dx) + r0 * row,
          dres ? off(dres) + r0 * row : 0,
          rows,
          C,
          relu,
          params,
          params + 4 * C,
          params + 8 * C,
        ],
      }));
    });
    return dres ? [dx, dgamma, dbeta, dres] : [dx, dgamma, dbeta];
  }
  const DY = f32(backend, dy);
  const X = f32(backend, x);
  const Y = f32(backend, y);
  const sg = new Float64Array(C);
  const sgx = new Float64Array(C);
  gradSums(DY, X, Y, C, attrs.relu, sg, sgx);
  const A = new Float64Array(C);
  const B = new Float64Array(C);
  const K = new Float64Array(C);
  gradCoefficients(
    sg,
    sgx,
    f32(backend, gamma),
    f32(backend, mean),
    f32(backend, variance),
    attrs.eps,
    P,
    f32(backend, dgamma),
    f32(backend, dbeta),
    A,
    B,
    K,
  );
  gradApply(DY, X, Y, f32(backend, dx), dres ? f32(backend, dres) : null, C, attrs.relu, A, B, K);
  return dres ? [dx, dgamma, dbeta, dres] : [dx, dgamma, dbeta];
}

let registered = false;

/** Register both kernels for `wasm` and `cpu`, and the forward kernel's gradient (idempotent). */
export function registerBatchNormKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['wasm', 'cpu']) {
    tf.registerKernel({
      kernelName: BN_KERNEL,
      backendName,
      kernelFunc: bnForwardKernel as unknown as tf.KernelFunc,
    });
    tf.registerKernel({
      kernelName: BN_GRAD_KERNEL,
      backendName,
      kernelFunc: bnGradKernel as unknown as tf.KernelFunc,
    });
  }
  tf.registerGradient({
    kernelName: BN_KERNEL,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [true, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const a = attrs as unknown as BnAttrs;
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [x, gamma, y, mean, variance] = saved;
      const outs = tf
        .engine()
        .runKernel(
          BN_GRAD_KERNEL,
          { dy, x, y, gamma, mean, variance },
          a as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
      const grads: Record<string, () => tf.Tensor> = {
        x: () => outs[0],
        gamma: () => outs[1],
        beta: () => outs[2],
      };
      if (a.residual) grads.residual = () => (a.relu ? outs[3] : dy);
      return grads;
    },
  });
}

export interface BatchNormTrainResult {
  /** [relu](bn(x) [+ residual]), same shape as x. */
  y: tf.Tensor;
  /** Batch mean per channel [C]. */
  mean: tf.Tensor1D;
  /** Biased batch variance per channel [C]. */
  variance: tf.Tensor1D;
}

/** Does the current backend run `batchNormTrain` as the fused kernel? */
export function hasFusedBatchNorm(): boolean {
  return tf.getKernel(BN_KERNEL, tf.getBackend()) != null;
}

/**
 * Training-mode batch norm over all axes but the last, optionally followed by `+ residual` and ReLU:
 * y = [relu](γ·(x − μ)/√(σ² + ε) + β [+ residual]). Returns y and the batch statistics (biased variance).
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  opts: { eps: number; relu?: boolean; residual?: tf.Tensor },
): BatchNormTrainResult {
  const relu = opts.relu ?? false;
  const residual = opts.residual;
  if (hasFusedBatchNorm()) {
    const inputs: Record<string, tf.Tensor> = { x, gamma, beta };
    if (residual) inputs.residual = residual;
    const attrs: BnAttrs = { eps: opts.eps, relu, residual: residual != null };
    const [y, mean, variance] = tf
      .engine()
      .runKernel(BN_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  return batchNormTrainComposite(x, gamma, beta, { eps: opts.eps, relu, residual });
}

/** The same function from stock tfjs ops (tf.moments + tf.batchNorm): the reference, and other backends' path. */
export function batchNormTrainComposite(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  opts: { eps: number; relu?: boolean; residual?: tf.Tensor },
): BatchNormTrainResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  let y: tf.Tensor = tf.batchNorm(x, mean, variance, beta, gamma, opts.eps);
  if (opts.residual) y = tf.add(y, opts.residual);
  if (opts.relu) y = tf.relu(y);
  return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

registerBatchNormKernels();
