/**
 * Backend selection: `initBackend()` picks the fastest tfjs backend that works on this machine.
 *
 * Order (first that registers and initialises wins):
 *   1. `tensorflow` from `@tensorflow/tfjs-node-gpu` (CUDA, libtensorflow GPU build)
 *   2. `webgpu` from `@tensorflow/tfjs-backend-webgpu` + npm `webgpu` (Dawn), when a GPU adapter is found
 *   3. `tensorflow` from `@tensorflow/tfjs-node` (native CPU; installed under the alias `tfjs-node-cpu`)
 *   4. `wasm` (XNNPACK, SIMD) with the package's extra training kernels (see ./wasm-kernels.ts)
 *   5. `cpu` (pure JS, slow)
 *
 * A native package counts only if the `tensorflow` backend actually registers: `require` may succeed on a plain
 * tfjs alias (danfojs-node's override puts one at node_modules/@tensorflow/tfjs-node).
 *
 * `opts.backend` or `NCL_BACKEND` forces one; forcing one that is not available throws.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { tf } from './tf';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { tryWebGPU } from './webgpu';
import { nclSimdKernelsActive } from './conv-simd';
import { relaxedSimdAvailable } from './wasm-asm';
import { wasmMemory, type WasmBackendLike } from './kernel-utils';
import { guardWasmHeap, type WasmHeapModule } from './heap-guard';
import { defaultThreads, isShared, setKernelThreads } from './threads';
import { useSharedWasmHeap } from './shared-heap';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export { guardWasmHeap, WasmHeapError, WASM_HEAP_MAX_BYTES } from './heap-guard';

export const BACKENDS = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export const BackendOptions = z
  .object({
    backend: z.enum(BACKENDS).optional(),
    quiet: z.boolean().optional(),
    /**
     * Threads for the wasm kernels (default: env NCL_THREADS, else every core). Other backends ignore it. The
     * first wasm start decides whether the heap is shared: after a start with 1 thread, later calls stay at 1.
     */
    threads: z.number().int().positive().optional(),
  })
  .strict();
export type BackendOptions = z.infer<typeof BackendOptions>;

export interface BackendInfo {
  /** tfjs backend name as registered (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  backend: string;
  /** What was chosen in ncl-lab's terms (`tensorflow-gpu` vs `tensorflow` tell CUDA from native CPU). */
  choice: BackendChoice;
  /** Device in words, when known. */
  device: string;
  /** Compute threads the backend uses, when known. */
  threads: number | null;
  tfjsVersion: string;
  /** Why each faster candidate was skipped. */
  skipped: { choice: BackendChoice; reason: string }[];
}

let current: BackendInfo | null = null;

/** The backend chosen by the last `initBackend`, or null before it ran. */
export function backendInfo(): BackendInfo | null {
  return current;
}

function tryRequire(name: string): string | null {
  try {
    require(name);
    return null;
  } catch (e) {
    return `${name} not loadable: ${(e as Error).message.split('\n')[0]}`;
  }
}

function tensorflowRegistered(): boolean {
  return tf.findBackendFactory('tensorflow') != null;
}

/** Is the registered `tensorflow` backend a CUDA build with a visible GPU? */
function tensorflowHasGpu(): boolean {
  try {
    const binding = (tf.backend() as unknown as { binding?: { isUsingGpuDevice?: () => boolean } }).binding;
    return binding?.isUsingGpuDevice?.() ?? false;
  } catch {
    return false;
  }
}

async function attempt(
  choice: BackendChoice,
  threads: () => number,
): Promise<{ ok: true; info: Partial<BackendInfo> } | { ok: false; reason: string }> {
  switch (choice) {
    case 'tensorflow-gpu': {
      const err = tryRequire('@tensorflow/tfjs-node-gpu');
      if (err) return { ok: false, reason: err };
      if (!tensorflowRegistered())
        return { ok: false, reason: 'tfjs-node-gpu loaded but registered no tensorflow backend' };
      if (!(await tf.setBackend('tensorflow')))
        return { ok: false, reason: 'tensorflow backend failed to initialise' };
      if (!tensorflowHasGpu()) return { ok: false, reason: 'libtensorflow found no CUDA device' };
      return { ok: true, info: { device: 'CUDA GPU (libtensorflow)', threads: null } };
    }
    case 'webgpu': {
      const r = await tryWebGPU();
      if (!r.ok) return r;
      if (!(await tf.setBackend('webgpu')))
        return { ok: false, reason: 'webgpu backend failed to initialise' };
      return { ok: true, info: { device: r.device, threads: null } };
    }
    case 'tensorflow': {
      let err: string | null = 'no tensorflow backend';
      for (const name of ['tfjs-node-cpu', '@tensorflow/tfjs-node']) {
        err = tryRequire(name);
        if (!err && tensorflowRegistered()) break;
      }
      if (!tensorflowRegistered())
        return { ok: false, reason: err ?? 'tfjs-node loaded but registered no tensorflow backend' };
      if (!(await tf.setBackend('tensorflow')))
        return { ok: false, reason: 'tensorflow backend failed to initialise' };
      return {
        ok: true,
        info: {
          device: tensorflowHasGpu() ? 'CUDA GPU (libtensorflow)' : 'CPU (libtensorflow)',
          threads: null,
        },
      };
    }
    case 'wasm': {
      registerWasmTrainingKernels();
      const wanted = threads();
      // The heap is made shared at the backend's first start (only then can the binary be chosen).
      const fresh = !('wasm' in (tf.engine() as unknown as { registry: object }).registry);
      const sharedWhy = fresh && wanted > 1 ? useSharedWasmHeap(setWasmPaths) : null;
      try {
        if (!(await tf.setBackend('wasm'))) return { ok: false, reason: 'wasm backend failed to initialise' };
      } catch (e) {
        return { ok: false, reason: `wasm backend failed: ${(e as Error).message}` };
      }
      const backend = tf.backend() as unknown as WasmBackendLike;
      guardWasmHeap(backend.wasm as unknown as WasmHeapModule);
      const memory = wasmMemory(backend);
      const shared = memory != null && isShared(memory);
      const n = shared ? wanted : 1;
      setKernelThreads(n);
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const ours = nclSimdKernelsActive(backend);
      const kernels = ours
        ? `XNNPACK + ncl SIMD kernels${relaxedSimdAvailable() ? ' with FMA' : ''}`
        : 'XNNPACK only: the ncl SIMD kernels did not compile';
      const why =
        wanted > n
          ? `; 1 thread, not ${wanted}: ${sharedWhy ?? 'the wasm heap is not shared (the backend started earlier with 1 thread)'}`
          : '';
      return {
        ok: true,
        info: { device: `CPU (wasm${simd ? ' SIMD' : ''}, ${kernels}${why})`, threads: n },
      };
    }
    case 'cpu': {
      await tf.setBackend('cpu');
      return { ok: true, info: { device: 'CPU (pure JS)', threads: 1 } };
    }
  }
}

/** Could Dawn find a GPU here? Off Linux, or with Dawn flags set, assume yes; on Linux look for a device node. */
export function gpuDeviceLikely(): boolean {
  if (process.platform !== 'linux' || process.env.NCL_DAWN_FLAGS) return true;
  const has = (dir: string, re: RegExp) => {
    try {
      return fs.readdirSync(dir).some((f) => re.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev', /^nvidia\d+$/) || has('/dev/dri', /^(renderD|card)\d+$/);
}

/**
 * Choose and initialise the tfjs backend. Returns (and, unless `quiet`, logs to stderr) what was chosen.
 * @throws if `opts.backend` / `NCL_BACKEND` names a backend that is unknown or not available here.
 */
export async function initBackend(opts: BackendOptions = {}): Promise<BackendInfo> {
  const parsed = BackendOptions.parse(opts);
  const env = process.env.NCL_BACKEND;
  let forced = parsed.backend;
  if (!forced && env) {
    const r = z.enum(BACKENDS).safeParse(env);
    if (!r.success) throw new Error(`NCL_BACKEND=${env} is not a backend; use one of ${BACKENDS.join(', ')}`);
    forced = r.data;
  }
  const threads = parsed.threads ?? defaultThreads(); // validates NCL_THREADS whatever the backend
  const candidates: BackendChoice[] = forced ? [forced] : [...BACKENDS];
  const skipped: BackendInfo['skipped'] = [];
  for (const choice of candidates) {
    if (!forced && choice === 'webgpu' && !gpuDeviceLikely()) {
      // Dawn's probe costs time and prints driver warnings on every start; where Linux shows no GPU device node
      // there is nothing for it to find (NCL_BACKEND=webgpu or NCL_DAWN_FLAGS probe anyway, e.g. for llvmpipe).
      skipped.push({
        choice,
        reason: 'no GPU device node (/dev/nvidia*, /dev/dri/*); NCL_BACKEND=webgpu probes anyway',
      });
      continue;
    }
    const r = await attempt(choice, () => threads);
    if (!r.ok) {
      if (forced) throw new Error(`backend '${forced}' is not available: ${r.reason}`);
      skipped.push({ choice, reason: r.reason });
      continue;
    }
    await tf.ready();
    current = {
      backend: tf.getBackend(),
      choice,
      device: r.info.device ?? 'unknown',
      threads: r.info.threads ?? null,
      tfjsVersion: tf.version.tfjs,
      skipped,
    };
    if (!parsed.quiet) {
      console.error(
        `[ncl-lab] backend=${current.backend} (${choice}) device=${current.device} threads=${current.threads ?? '?'} tfjs=${current.tfjsVersion}`,
      );
    }
    return current;
  }
  throw new Error('no tfjs backend could be initialised');
}
