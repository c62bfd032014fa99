/**
 * WebGPU through Dawn for Node: npm `webgpu` provides `navigator.gpu` (dawn.node), and
 * `@tensorflow/tfjs-backend-webgpu` registers the `webgpu` backend on top of it. Both are optional: without them,
 * or without a GPU adapter (no Vulkan driver), this path reports why and initBackend moves on.
 */
export async function tryWebGPU(): Promise<{ ok: true; device: string } | { ok: false; reason: string }> {
  let gpu: { requestAdapter(opts?: unknown): Promise<unknown> };
  try {
    const webgpu = require('webgpu') as {
      create(flags: string[]): unknown;
      globals: Record<string, unknown>;
    };
    Object.assign(globalThis, webgpu.globals);
    gpu = webgpu.create([]) as typeof gpu;
    const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
    if (!g.navigator)
      Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
    (g.navigator as { gpu?: unknown }).gpu = gpu;
  } catch (e) {
    return { ok: false, reason: `webgpu (Dawn) not loadable: ${(e as Error).message.split('\n')[0]}` };
  }
  const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null)) as {
    info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  } | null;
  if (!adapter) return { ok: false, reason: 'webgpu: no GPU adapter (no Vulkan driver or GPU)' };
  try {
    require('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return {
      ok: false,
      reason: `@tensorflow/tfjs-backend-webgpu not loadable: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  const i = adapter.info ?? {};
  const device =
    [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(' ') || 'GPU (WebGPU)';
  return { ok: true, device: `${device} (WebGPU/Dawn)` };
}
