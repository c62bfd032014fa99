/**
 * WebGPU through Dawn for Node: npm `webgpu` provides `navigator.gpu` (dawn.node), and
 * `@tensorflow/tfjs-backend-webgpu` registers the `webgpu` backend on top of it. Both are optional: without them,
 * or without a GPU adapter (no Vulkan driver), this path reports why and initBackend moves on.
 *
 * Knobs (environment):
 *   NCL_DAWN_NODE=/path/dawn.node   load Dawn's addon from this file instead of `require('webgpu')` (bundles, or a
 *                                   copy carried to a machine without node_modules)
 *   NCL_DAWN_FLAGS="a=b,c=d"        flags for Dawn's `create()`, e.g. `backend=vulkan`,
 *                                   `enable-dawn-features=allow_unsafe_apis`, `adapter=NVIDIA`
 *   NCL_WEBGPU_FEATURE_LEVEL=compatibility
 *                                   ask for a compatibility-mode adapter (Dawn's OpenGL ES backend, e.g. Mesa llvmpipe
 *                                   with `NCL_DAWN_FLAGS=backend=opengles EGL_PLATFORM=surfaceless`): for testing
 *                                   without a GPU, not for speed
 *   NCL_WEBGPU_CONV_FILTER=split    use the package's Conv2DBackpropFilter instead of tfjs-backend-webgpu's (see below)
 *
 * Reading tensors: tfjs-backend-webgpu implements `dataSync()` through OffscreenCanvas, which Node does not have, and
 * Dawn under Node cannot wait for a GPU buffer synchronously. On this backend use the asynchronous reads
 * (`await t.data()`, `await t.array()`); a synchronous read of a tensor that lives on the GPU throws an error saying
 * so (instead of "OffscreenCanvas is not defined").
 *
 * Conv2DBackpropFilter: tfjs-backend-webgpu 4.22 computes each filter-gradient element in one GPU thread that loops
 * over the whole batch and image (for ResNet-32 at batch 128, 2,304 threads each summing 131,072 products): on an
 * H100 it took 633 ms of GPU time per training step (timestamp queries). With NCL_WEBGPU_CONV_FILTER=split the lib
 * registers its own (NHWC): one thread per filter element *and image* writing per-image partial sums, then tfjs's
 * Sum over the images (same arithmetic, fixed order). On an H100 that cut the kernel's GPU time to 84 ms, yet the
 * eager step got slower (1.90 s against 1.26 s): it is dominated by time outside the kernels, so the split kernel
 * stays opt-in. Training on webgpu uses the compiled step instead (step/, docs/gpu.md).
 */
import { tf } from './tf';

interface GPUAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  features?: Iterable<string>;
  limits?: Record<string, number>;
}
interface GPULike {
  requestAdapter(opts?: Record<string, unknown>): Promise<GPUAdapterLike | null>;
}

export type WebGPUResult =
  { ok: true; device: string; adapter: AdapterSummary } | { ok: false; reason: string };

/** What the adapter says of itself, for logs. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn flags the instance was created with. */
  flags: string[];
  featureLevel: string;
  maxStorageBufferBindingSize: number | null;
  maxBufferSize: number | null;
}

let cached: Promise<WebGPUResult> | null = null;

/** Dawn's flags from NCL_DAWN_FLAGS (comma or whitespace separated). */
export function dawnFlags(): string[] {
  return (process.env.NCL_DAWN_FLAGS ?? '')
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s);
}

function loadDawn(): { create(flags: string[]): unknown; globals: Record<string, unknown> } {
  const file = process.env.NCL_DAWN_NODE;
  // A computed name keeps bundlers from trying to inline the native addon or the ESM package.
  const req = require;
  return file ? req(file) : req(['web', 'gpu'].join(''));
}

/** Put `gpu` at `navigator.gpu` (Node 20 has no navigator; Node 21+ has one without `gpu`). */
function installNavigator(gpu: unknown): void {
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  if (g.navigator) {
    try {
      g.navigator.gpu = gpu;
    } catch {
      /* read-only: replaced below */
    }
  }
  if (!g.navigator || g.navigator.gpu !== gpu) {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      writable: true,
      configurable: true,
    });
  }
}

/**
 * tfjs-backend-webgpu's readSync goes through OffscreenCanvas (absent in Node): replace its failure by a clear
 * error. Values already on the CPU (small tensors uploaded from JS) are still returned.
 */
function patchReadSync(): void {
  const m = require('@tensorflow/tfjs-backend-webgpu') as {
    WebGPUBackend?: { prototype: Record<string, unknown> };
  };
  const proto = m.WebGPUBackend?.prototype;
  if (!proto || proto.__nclPatched || 'OffscreenCanvas' in globalThis) return;
  const original = proto.readSync as (this: unknown, dataId: object) => unknown;
  proto.readSync = function (
    this: { tensorMap: { get(id: object): { values?: unknown; dtype: string } } },
    dataId: object,
  ) {
    const d = this.tensorMap.get(dataId);
    if (d && (d.values != null || d.dtype === 'string')) return original.call(this, dataId);
    throw new Error(
      'webgpu backend: synchronous reads (dataSync/arraySync/bufferSync) are not possible under Node ' +
        '(no OffscreenCanvas, and Dawn cannot block on a GPU read); use `await tensor.data()` instead',
    );
  };
  proto.__nclPatched = true;
}

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
interface WebGPUBackendLike {
  runWebGPUProgram(program: object, inputs: TensorInfo[], dtype: string, uniforms?: object[]): TensorInfo;
  disposeData(dataId: object): void;
}

/** Filter gradient of an NHWC conv2d as per-split partial sums [taps·Cin·Cout, splits], reduced by tfjs's Sum. */
function conv2dBackpropFilterSplit(
  original: tf.KernelFunc,
): (args: { inputs: tf.NamedTensorInfoMap; backend: object; attrs: tf.NamedAttrMap }) => TensorInfo {
  const util = (
    require('@tensorflow/tfjs-backend-webgpu') as {
      webgpu_util: {
        flatDispatchLayout(shape: number[]): object;
        computeDispatch(layout: object, shape: number[], wg: number[]): number[];
      };
    }
  ).webgpu_util;
  return (args) => {
    const { x, dy } = args.inputs as unknown as { x: TensorInfo; dy: TensorInfo };
    const a = args.attrs as unknown as {
      strides: number | [number, number];
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
    };
    if (a.dataFormat === 'NCHW') return original(args as never) as TensorInfo;
    const backend = args.backend as WebGPUBackendLike;
    const ci = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      a.filterShape,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
      false,
      'channelsLast',
    );
    const taps = ci.filterHeight * ci.filterWidth;
    const per = taps * ci.inChannels * ci.outChannels;
    // One split per image, fewer (several images per thread) when that would exceed 2^24 threads.
    const imagesPerSplit = Math.max(1, Math.ceil((per * ci.batchSize) / 2 ** 24));
    const splits = Math.ceil(ci.batchSize / imagesPerSplit);
    const outputShape = [per, splits];
    const workgroupSize = [64, 1, 1];
    const dispatchLayout = util.flatDispatchLayout(outputShape);
    const program = {
      variableNames: ['x', 'dy'],
      uniforms:
        'pads : vec2<i32>, strides : vec2<i32>, outHeight : i32, outWidth : i32, inHeight : i32, inWidth : i32, ' +
        'filterWidth : i32, taps : i32, inChannels : i32, outChannels : i32, splits : i32, imagesPerSplit : i32, ' +
        'batchSize : i32,',
      workgroupSize,
      size: true,
      outputShape,
      dispatchLayout,
      dispatch: util.computeDispatch(dispatchLayout, outputShape, workgroupSize),
      shaderKey: 'nclConv2DDerFilterSplit',
      getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let co = index % uniforms.outChannels;
          var r = index / uniforms.outChannels;
          let ci = r % uniforms.inChannels;
          r = r / uniforms.inChannels;
          let tap = r % uniforms.taps;
          let s = r / uniforms.taps;
          let wR = tap / uniforms.filterWidth;
          let wC = tap % uniforms.filterWidth;
          let b0 = s * uniforms.imagesPerSplit;
          let b1 = min(b0 + uniforms.imagesPerSplit, uniforms.batchSize);
          var acc = 0.0;
          for (var b = b0; b < b1; b = b + 1) {
            for (var yR = 0; yR < uniforms.outHeight; yR = yR + 1) {
              let xR = wR + yR * uniforms.strides[0] - uniforms.pads[0];
              if (xR < 0 || xR >= uniforms.inHeight) {
                continue;
              }
              for (var yC = 0; yC < uniforms.outWidth; yC = yC + 1) {
                let xC = wC + yC * uniforms.strides[1] - uniforms.pads[1];
                if (xC < 0 || xC >= uniforms.inWidth) {
                  continue;
                }
                acc = acc + getX(b, xR, xC, ci) * getDy(b, yR, yC, co);
              }
            }
          }
          setOutputAtIndex(((tap * uniforms.inChannels + ci) * uniforms.outChannels + co) * uniforms.splits + s, acc);
        }
      }`,
    };
    const i32 = (...data: number[]) => ({ type: 'int32', data });
    const partial = backend.runWebGPUProgram(program, [x, dy], 'float32', [
      i32(ci.padInfo.top, ci.padInfo.left),
      i32(ci.strideHeight, ci.strideWidth),
      i32(ci.outHeight),
      i32(ci.outWidth),
      i32(ci.inHeight),
      i32(ci.inWidth),
      i32(ci.filterWidth),
      i32(taps),
      i32(ci.inChannels),
      i32(ci.outChannels),
      i32(splits),
      i32(imagesPerSplit),
      i32(ci.batchSize),
    ]);
    const run = (name: string, inputs: object, attrs: object) =>
      tf.getKernel(name, 'webgpu')!.kernelFunc({ inputs, backend, attrs } as never) as TensorInfo;
    const summed = run('Sum', { x: partial }, { axis: [1], keepDims: false });
    const out = run('Reshape', { x: summed }, { shape: a.filterShape });
    backend.disposeData(partial.dataId);
    backend.disposeData(summed.dataId);
    return out;
  };
}

let kernelsRegistered = false;

/** NCL_WEBGPU_CONV_FILTER=split: the package's Conv2DBackpropFilter replaces tfjs-backend-webgpu's (file comment). */
export function registerWebGPUTrainingKernels(): void {
  if (kernelsRegistered || process.env.NCL_WEBGPU_CONV_FILTER !== 'split') return;
  const original = tf.getKernel('Conv2DBackpropFilter', 'webgpu');
  if (!original) return;
  kernelsRegistered = true;
  tf.unregisterKernel('Conv2DBackpropFilter', 'webgpu');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'webgpu',
    kernelFunc: conv2dBackpropFilterSplit(original.kernelFunc) as unknown as tf.KernelFunc,
  });
}

async function probe(): Promise<WebGPUResult> {
  const flags = dawnFlags();
  let gpu: GPULike;
  try {
    const dawn = loadDawn();
    Object.assign(globalThis, dawn.globals);
    gpu = dawn.create(flags) as GPULike;
  } catch (e) {
    return { ok: false, reason: `webgpu (Dawn) not loadable: ${(e as Error).message.split('\n')[0]}` };
  }
  const featureLevel = process.env.NCL_WEBGPU_FEATURE_LEVEL || 'core';
  if (featureLevel !== 'core') {
    // tfjs asks for an adapter with only a power preference: add the feature level to every request.
    const request = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = (o?: Record<string, unknown>) => request({ ...(o ?? {}), featureLevel });
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) {
    return {
      ok: false,
      reason:
        'webgpu: no GPU adapter (Dawn found no usable Vulkan driver or GPU' +
        (flags.length ? `; flags ${flags.join(' ')}` : '') +
        ')',
    };
  }
  // The backend registers itself only if navigator.gpu exists when its module is first loaded.
  installNavigator(gpu);
  try {
    require('@tensorflow/tfjs-backend-webgpu');
    patchReadSync();
    registerWebGPUTrainingKernels();
  } catch (e) {
    return {
      ok: false,
      reason: `@tensorflow/tfjs-backend-webgpu not loadable: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  const i = adapter.info ?? {};
  const summary: AdapterSummary = {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    flags,
    featureLevel,
    maxStorageBufferBindingSize: adapter.limits?.maxStorageBufferBindingSize ?? null,
    maxBufferSize: adapter.limits?.maxBufferSize ?? null,
  };
  const words = [i.description || i.device, i.vendor, i.architecture].filter((s) => s).join(', ');
  return { ok: true, device: `${words || 'GPU'} (WebGPU/Dawn)`, adapter: summary };
}

/** Load Dawn, find an adapter and register the `webgpu` backend (once per process; later calls reuse the answer). */
export function tryWebGPU(): Promise<WebGPUResult> {
  cached ??= probe();
  return cached;
}
