/**
 * ncl-kernels: the training kernels under ncl-lab, as their own package.
 *
 *   - backend selection: `initBackend()` picks tfjs-node-gpu (CUDA), WebGPU (Dawn), tfjs-node, wasm or cpu
 *     (./select.ts), with Dawn's probing and knobs in ./webgpu.ts;
 *   - for `wasm`: convolutions and their gradients as WebAssembly SIMD code generated per layer shape (a small
 *     assembler, ./wasm-asm.ts; ./conv-simd.ts, ./conv-grads.ts), batch norm fused with ReLU and the residual add
 *     (./batchnorm.ts), SGD momentum as one kernel (./sgd.ts), and a guard that turns a full wasm heap into an error
 *     (./heap-guard.ts);
 *   - the wasm kernels on every core: a pool of worker threads on tfjs-wasm's heap made shared (./threads.ts,
 *     ./shared-heap.ts);
 *   - a per-kernel profiler (./profile.ts).
 *
 * The kernels register on the `@tensorflow/tfjs` instance the workspace resolves (a peer dependency), so they serve
 * every tensor of the process.
 */
export { tf } from './tf';
export {
  initBackend,
  backendInfo,
  gpuDeviceLikely,
  BACKENDS,
  BackendOptions,
  guardWasmHeap,
  WasmHeapError,
  WASM_HEAP_MAX_BYTES,
} from './select';
export type { BackendInfo, BackendChoice } from './select';
export type { WasmHeapModule } from './heap-guard';
export { dawnFlags, tryWebGPU, registerWebGPUTrainingKernels } from './webgpu';
export type { WebGPUResult, AdapterSummary } from './webgpu';
export { registerWasmTrainingKernels } from './wasm-kernels';
export {
  batchNormTrain,
  batchNormTrainComposite,
  hasFusedBatchNorm,
  registerBatchNormKernels,
  BN_KERNEL,
  BN_GRAD_KERNEL,
} from './batchnorm';
export { sgdMomentumUpdate, registerSgdKernels, SGD_KERNEL } from './sgd';
export { profileKernels, profileKernelsAsync, formatKernelProfile } from './profile';
export type { KernelTime, KernelProfile } from './profile';
export { simdKernels } from './simd-kernels';
export type { SimdKernels } from './simd-kernels';
export { setForcePadCopy, nclSimdKernelsActive } from './conv-simd';
export { relaxedSimdAvailable, useRelaxedSimd } from './wasm-asm';
export {
  cores,
  defaultThreads,
  kernelThreads,
  parallelKernelCalls,
  setKernelThreads,
  threadsPerWorker,
} from './threads';
export { shareMemory } from './shared-heap';
export { CompiledTrainStep } from './step/tfjs-step';
export type { CompiledTrainStepOptions, StepTensors } from './step/tfjs-step';
export { StepPlan } from './step/plan';
export type { KernelCost, ParamSlot, StepPlanOptions } from './step/plan';
export { inferShapes } from './step/spec';
export type { NetSpec, Layer, ConvLayer, BatchNormLayer, PoolLayer, LinearLayer, Shape4 } from './step/spec';
