/**
 * Training kernels for `wasm`, in one replaceable place: `registerWasmTrainingKernels()` (called by `initBackend`
 * before it selects wasm) installs
 *   - Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter on the package's own WebAssembly SIMD code, generated per
 *     layer shape (./conv-grads.ts, ./conv-simd.ts, ./wasm-asm.ts), with XNNPACK-based fallbacks for the shapes it
 *     does not cover (tfjs-backend-wasm itself has no Conv2DBackpropFilter and a naive-loop Conv2DBackpropInput);
 *   - the fused batch norm + ReLU (+ residual) forward and backward of ./batchnorm.ts (SIMD loops of
 *     ./simd-kernels.ts on wasm) and the SGD-momentum update of ./sgd.ts (both also registered for `cpu`);
 *   - an `Identity` that shares the input's data (reference-counted, as `Reshape` already does on wasm and
 *     `Identity` on cpu) instead of copying it: tfjs clones every tensor a gradient saves (each conv and BN input),
 *     so the copying kernel moved every activation once more per step.
 */
import { registerBatchNormKernels } from './batchnorm';
import { registerWasmConvGrads } from './conv-grads';
import { registerSgdKernels } from './sgd';
import { replaceKernel, TensorInfo } from './kernel-utils';
import { tf } from './tf';

function identity(args: {
  inputs: { x: TensorInfo };
  backend: { incRef(dataId: object): void };
}): TensorInfo {
  const { x } = args.inputs;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

let registered = false;

/** Register the package's extra wasm kernels (idempotent). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerWasmConvGrads();
  registerBatchNormKernels();
  registerSgdKernels();
  const prevIdentity = replaceKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) =>
      (args.inputs as { x: TensorInfo }).x.dtype === 'string' && prevIdentity
        ? prevIdentity.kernelFunc(args)
        : identity(args as unknown as Parameters<typeof identity>[0])) as tf.KernelFunc,
  });
}
