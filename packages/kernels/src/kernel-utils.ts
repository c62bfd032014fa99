/**
 * Shared plumbing for the package's hand-written kernels: typed views of tensor data on the `wasm` and `cpu` backends,
 * output and temporary allocation, and calls into other registered kernels.
 *
 * On `wasm` a tensor's data lives on the module heap (`backend.dataIdMap.get(dataId).memoryOffset`); a
 * `Float32Array` view of it is read and written in place by plain JS loops. Allocating (`makeOutput`) may grow the
 * heap and detach earlier views, so kernels take their views only after their last allocation.
 */
import { tf } from './tf';

export type TensorInfo = tf.TensorInfo;

export interface WasmModuleLike {
  HEAPF32: Float32Array;
}
export interface WasmBackendLike {
  wasm: WasmModuleLike;
  dataIdMap: { get(dataId: object): { memoryOffset: number; id: number } };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}
export interface CpuBackendLike {
  data: { get(dataId: object): { values?: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
}
export type AnyBackend = WasmBackendLike | CpuBackendLike;

export type KernelFn = (args: {
  inputs: Record<string, TensorInfo>;
  attrs?: Record<string, unknown>;
  backend: unknown;
}) => TensorInfo | TensorInfo[];

export function isWasm(b: unknown): b is WasmBackendLike {
  return (b as WasmBackendLike).wasm != null && (b as WasmBackendLike).dataIdMap != null;
}

/** The WebAssembly memory (the heap) of a wasm backend, or null if the module does not export one. */
export function wasmMemory(backend: WasmBackendLike): WebAssembly.Memory | null {
  const memory = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A float32 view of `t`'s data (in place: writes change the tensor). Re-take after any allocation on wasm. */
export function f32(backend: AnyBackend, t: TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`expected float32, got ${t.dtype}`);
  if (isWasm(backend)) {
    const { memoryOffset } = backend.dataIdMap.get(t.dataId);
    return new Float32Array(backend.wasm.HEAPF32.buffer, memoryOffset, size(t.shape));
  }
  const values = backend.data.get(t.dataId).values;
  if (!(values instanceof Float32Array)) throw new Error('tensor data is not a Float32Array');
  return values;
}

/** A new float32 tensor of `shape`; its contents are undefined on wasm (every element must be written). */
export function alloc(backend: AnyBackend, shape: number[]): TensorInfo {
  if (isWasm(backend)) return backend.makeOutput(shape, 'float32');
  return backend.makeTensorInfo(shape, 'float32', new Float32Array(size(shape)));
}

/** Release a temporary made inside a kernel (never an input or an output). */
export function release(backend: AnyBackend, t: TensorInfo): void {
  if (isWasm(backend)) backend.disposeData(t.dataId);
  else backend.disposeIntermediateTensorInfo(t);
}

/** The kernel function registered as `name` for `backendName` (throws if none). */
export function kernelFn(name: string, backendName: string): KernelFn {
  const k = tf.getKernel(name, backendName);
  if (!k) throw new Error(`${backendName} backend has no ${name} kernel`);
  return k.kernelFunc as unknown as KernelFn;
}

/**
 * Register `config`, replacing an existing registration for the same kernel and backend. The replaced config is
 * returned so the new kernel can fall back to it; its `setupFunc` is chained into the new one (tfjs runs the setup
 * functions of a backend's kernels on every `setBackend`), so the fallback stays usable.
 */
export function replaceKernel(config: tf.KernelConfig): tf.KernelConfig | undefined {
  const prev = tf.getKernel(config.kernelName, config.backendName);
  if (prev) tf.unregisterKernel(config.kernelName, config.backendName);
  const ownSetup = config.setupFunc;
  const setupFunc =
    prev?.setupFunc || ownSetup
      ? (backend: object) => {
          prev?.setupFunc?.(backend);
          ownSetup?.(backend);
        }
      : undefined;
  tf.registerKernel({ ...config, setupFunc });
  return prev;
}
