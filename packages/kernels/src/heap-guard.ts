/**
 * A clear error when the wasm heap is full.
 *
 * tfjs-wasm keeps every tensor on one WebAssembly memory, which can grow to 4 GB (minus 64 KiB). When an allocation
 * does not fit, the module's `malloc` either returns 0 or, when the request would end past 4 GB, a block that runs
 * past the end of the heap without growing it (its break pointer wraps around 2^32; measured with tfjs-wasm 4.22).
 * tfjs-wasm registers the tensor there anyway: nothing is thrown, the tensor overwrites the start of the heap or runs
 * outside it, and the process dies later with an unrelated `RuntimeError: memory access out of bounds` or
 * `RangeError: Invalid typed array length` (fig7's 4-expert evaluation did, see `eval/metrics.ts#predictAll`). A
 * request of 4 GB or more is worse: tfjs passes the byte count as a 32-bit integer, so it silently wraps to a small
 * allocation.
 *
 * `guardWasmHeap` wraps the module's `_malloc` so that all three throw `WasmHeapError` at the allocation that failed,
 * naming its size and the heap in use. Every tensor tfjs-wasm or the package's kernels create goes through that function
 * (`backend.move` → `wasm._malloc`); allocations made inside C++ (XNNPACK's workspaces) do not and stay unguarded.
 */

/** The emscripten module behind tfjs-wasm, as far as the guard uses it. */
export interface WasmHeapModule {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPU8: Uint8Array;
}

/** The largest heap tfjs-wasm 4.22's module may grow to (its `getHeapMax`). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

export class WasmHeapError extends Error {
  constructor(
    readonly requestedBytes: number,
    readonly heapBytes: number,
  ) {
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;
    super(
      `wasm heap exhausted: could not allocate ${mb(requestedBytes)} (the heap has grown to ${mb(heapBytes)} of ` +
        `its ${mb(WASM_HEAP_MAX_BYTES)} limit); lower the batch size (training or evaluation), ` +
        `dispose tensors you keep, or use a native backend (tfjs-node)`,
    );
    this.name = 'WasmHeapError';
  }
}

const guarded = new WeakSet<object>();

/**
 * Make `module._malloc` throw `WasmHeapError` instead of returning a block that is not on the heap. Idempotent.
 * @returns true when the guard was installed now, false when `module` was already guarded.
 */
export function guardWasmHeap(module: WasmHeapModule): boolean {
  if (guarded.has(module)) return false;
  // Emscripten's export starts as a stub that replaces `module._malloc` with the real function on its first call;
  // call it once so that our wrapper is not overwritten later.
  module._free(module._malloc(16));
  const malloc = module._malloc.bind(module);
  module._malloc = (bytes: number): number => {
    if (bytes >= 2 ** 32) throw new WasmHeapError(bytes, module.HEAPU8.length);
    const ptr = malloc(bytes);
    // Emscripten grows the heap inside malloc, so a good block lies within the heap as it is now.
    if (bytes > 0 && (ptr === 0 || (ptr >>> 0) + bytes > module.HEAPU8.length)) {
      throw new WasmHeapError(bytes, module.HEAPU8.length);
    }
    return ptr;
  };
  guarded.add(module);
  return true;
}
