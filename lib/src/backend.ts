/**
 * Backend selection and the training kernels live in the workspace package `ncl-kernels` (packages/kernels):
 * `initBackend()` picks tfjs-node-gpu, WebGPU, tfjs-node, wasm (with the package's SIMD kernels) or cpu. ncl-lab
 * re-exports its API unchanged.
 */
export {
  initBackend,
  backendInfo,
  gpuDeviceLikely,
  BACKENDS,
  BackendOptions,
  guardWasmHeap,
  WasmHeapError,
  WASM_HEAP_MAX_BYTES,
} from 'ncl-kernels';
export type { BackendInfo, BackendChoice } from 'ncl-kernels';
