/**
 * SGD with momentum and weight decay as one kernel per parameter (PyTorch's `torch.optim.SGD`, dampening 0, no
 * Nesterov):
 *
 *   d = g + wd·w;   buf ← momentum·buf + d   (buf = d on the first step: pass no buf);   w ← w − lr·buf
 *
 *   NclSgdMomentum  {w, g[, buf]} → [w', buf']        attrs {lr, momentum, wd}
 *
 * Registered for `wasm` and `cpu` (one JS loop over the float32 data; on wasm a large parameter's elements are split
 * across the kernel threads, each element updated by one thread with the same arithmetic); elsewhere
 * `sgdMomentumUpdate` composes tfjs ops. The new weights are a new tensor, never an in-place write: XNNPACK caches a packed copy of every
 * convolution filter keyed by the filter tensor, so a filter's data must not change under the same tensor.
 */
import { tf } from './tf';
import { AnyBackend, alloc, f32, isWasm, size, TensorInfo, wasmMemory } from './kernel-utils';
import { Callable, jsKernel, partsFor, runParts, split, Task } from './threads';

export const SGD_KERNEL = 'NclSgdMomentum';

interface SgdAttrs {
  lr: number;
  momentum: number;
  wd: number;
}

/**
 * Elements [i0, i1) of the update on the wasm heap (`heap` a Float32Array over all of it; w, g, buf, wo, bo are
 * element offsets, buf < 0 for none). Self-contained: the kernel threads run its source (./threads.ts `jsKernel`).
 */
function sgdRange(
  heap: Float32Array,
  w: number,
  g: number,
  buf: number,
  wo: number,
  bo: number,
  i0: number,
  i1: number,
  lr: number,
  momentum: number,
  wd: number,
): void {
  if (buf >= 0) {
    for (let i = i0; i < i1; i++) {
      const b = momentum * heap[buf + i] + heap[g + i] + wd * heap[w + i];
      heap[bo + i] = b;
      heap[wo + i] = heap[w + i] - lr * b;
    }
  } else {
    for (let i = i0; i < i1; i++) {
      const b = heap[g + i] + wd * heap[w + i];
      heap[bo + i] = b;
      heap[wo + i] = heap[w + i] - lr * b;
    }
  }
}

/** Parameters of at least this many elements per thread are updated by several threads (smaller: by this one). */
const PER_THREAD = 1 << 15;
const ranges = new WeakMap<WebAssembly.Memory, Callable>();

function sgdKernel(args: {
  inputs: { w: TensorInfo; g: TensorInfo; buf?: TensorInfo };
  attrs: SgdAttrs;
  backend: AnyBackend;
}): TensorInfo[] {
  const { inputs, attrs, backend } = args;
  const { lr, momentum, wd } = attrs;
  const w2 = alloc(backend, inputs.w.shape);
  const b2 = alloc(backend, inputs.w.shape);
  const memory = isWasm(backend) ? wasmMemory(backend) : null;
  if (isWasm(backend) && memory) {
    let range = ranges.get(memory);
    if (!range) {
      range = jsKernel(sgdRange, () => memory);
      ranges.set(memory, range);
    }
    const el = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
    const n = size(inputs.w.shape);
    const T = partsFor(memory, n / PER_THREAD);
    const parts: Task[][] = [];
    for (let i = 0; i < T; i++) {
      const [i0, i1] = split(n, T, i, 16);
      const buf = inputs.buf ? el(inputs.buf) : -1;
      parts.push([
        { c: range, args: [el(inputs.w), el(inputs.g), buf, el(w2), el(b2), i0, i1, lr, momentum, wd] },
      ]);
    }
    runParts(memory, parts);
    return [w2, b2];
  }
  const W = f32(backend, inputs.w);
  const G = f32(backend, inputs.g);
  const Wo = f32(backend, w2);
  const Bo = f32(backend, b2);
  const n = W.length;
  if (inputs.buf) {
    const B = f32(backend, inputs.buf);
    for (let i = 0; i < n; i++) {
      const b = momentum * B[i] + G[i] + wd * W[i];
      Bo[i] = b;
      Wo[i] = W[i] - lr * b;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const b = G[i] + wd * W[i];
      Bo[i] = b;
      Wo[i] = W[i] - lr * b;
    }
  }
  return [w2, b2];
}

let registered = false;

export function registerSgdKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['wasm', 'cpu']) {
    tf.registerKernel({
      kernelName: SGD_KERNEL,
      backendName,
      kernelFunc: sgdKernel as unknown as tf.KernelFunc,
    });
  }
}

/**
 * One SGD-momentum update of one parameter: returns the new weights and the new momentum buffer (both new
 * tensors; the caller assigns / keeps them and disposes the old buffer). `buf` undefined means the first step.
 */
export function sgdMomentumUpdate(
  w: tf.Tensor,
  g: tf.Tensor,
  buf: tf.Tensor | undefined,
  attrs: SgdAttrs,
): { w: tf.Tensor; buf: tf.Tensor } {
  registerSgdKernels();
  if (tf.getKernel(SGD_KERNEL, tf.getBackend())) {
    const inputs: Record<string, tf.Tensor> = { w, g };
    if (buf) inputs.buf = buf;
    const [w2, b2] = tf
      .engine()
      .runKernel(SGD_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return { w: w2, buf: b2 };
  }
  return tf.tidy(() => {
    const d = attrs.wd !== 0 ? tf.add(g, tf.mul(w, attrs.wd)) : g;
    const b2 = buf ? tf.add(tf.mul(buf, attrs.momentum), d) : tf.clone(d);
    return { w: tf.sub(w, tf.mul(b2, attrs.lr)), buf: b2 };
  });
}

registerSgdKernels();
