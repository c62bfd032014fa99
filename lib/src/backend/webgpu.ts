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
 *
 * Reading tensors: tfjs-backend-webgpu implements `dataSync()` through OffscreenCanvas, which Node does not have, and
 * Dawn under Node cannot wait for a GPU buffer synchronously. On this backend use the asynchronous reads
 * (`await t.data()`, `await t.array()`); a synchronous read of a tensor that lives on the GPU throws an error saying
 * so (instead of "OffscreenCanvas is not defined").
 */

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
