// Shared by the WebGPU tests: is a WebGPU adapter usable here? A real GPU (Vulkan) when Dawn finds one, else Dawn's
// OpenGL ES backend on Mesa's software rasteriser (llvmpipe, EGL surfaceless), which runs the same WGSL on the CPU.
import { tryWebGPU } from 'ncl-kernels';

/** Does Dawn give an adapter with these settings? (a separate Dawn instance, so nothing is registered) */
async function probe(flags: string[], featureLevel?: string): Promise<string | null> {
  try {
    const dawn = require('webgpu') as {
      create(f: string[]): { requestAdapter(o?: object): Promise<unknown> };
    };
    const a = await dawn.create(flags).requestAdapter(featureLevel ? { featureLevel } : {});
    return a ? null : 'no adapter';
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** null when a WebGPU adapter is usable here (setting the software fallback's knobs if needed), else why not. */
export async function webgpuUnavailable(): Promise<string | null> {
  if (process.env.NCL_DAWN_FLAGS !== undefined) {
    const r = await tryWebGPU();
    return r.ok ? null : r.reason;
  }
  const hw = await probe([]);
  if (hw === null) return null;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const sw = await probe(['backend=opengles'], 'compatibility');
  if (sw === null) {
    process.env.NCL_DAWN_FLAGS = 'backend=opengles';
    process.env.NCL_WEBGPU_FEATURE_LEVEL = 'compatibility';
    return null;
  }
  return `no WebGPU adapter: Dawn found no Vulkan GPU (${hw}) and no OpenGL ES fallback (${sw})`;
}
