/**
 * tfjs-wasm's heap as shared WebAssembly memory, so that worker threads (./threads.ts) can run the package's kernels
 * on the tensors in place.
 *
 * tfjs-backend-wasm ships a threaded build whose memory is shared, but under Node it does not start (it spawns its
 * pthreads from `blob:` URLs) and its threads would serve only XNNPACK, which a ResNet step no longer uses. Its SIMD
 * build defines its own memory (min 256, max 65536 pages) and exports it; the one byte that says so also says
 * whether the memory is shared. `useSharedWasmHeap()` writes a copy of that binary with the memory marked shared
 * (flags 0x01 → 0x03: has a maximum, shared) to the temporary folder and points tfjs at it (`setWasmPaths`), before
 * the wasm backend starts. Nothing else changes: the module does not use atomics, and the emscripten glue reads the
 * memory's `buffer` again after every growth, which for a shared memory is a larger SharedArrayBuffer over the same
 * bytes (never detached).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const NAMES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

function uleb(b: Uint8Array, p: { i: number }): number {
  let r = 0;
  let s = 0;
  let x: number;
  do {
    x = b[p.i++];
    r += (x & 0x7f) * 2 ** s;
    s += 7;
  } while (x & 0x80);
  return r;
}

/**
 * A copy of a WebAssembly binary whose one defined memory is marked shared. Throws if the binary does not define
 * exactly one memory with a maximum (a shared memory needs one).
 */
export function shareMemory(wasm: Uint8Array): Uint8Array {
  const b = Uint8Array.from(wasm);
  if (b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d)
    throw new Error('not a WebAssembly binary');
  const p = { i: 8 };
  while (p.i < b.length) {
    const id = b[p.i++];
    const len = uleb(b, p);
    const start = p.i;
    if (id === 5) {
      if (uleb(b, p) !== 1) throw new Error('expected exactly one memory');
      const flags = b[p.i];
      if (flags === 0x03) return b;
      if (flags !== 0x01) throw new Error(`memory without a maximum (flags ${flags}) cannot be shared`);
      b[p.i] = 0x03;
      return b;
    }
    p.i = start + len;
  }
  throw new Error('the binary defines no memory (an imported memory is not supported)');
}

/** Where tfjs-backend-wasm's binaries are: its package's dist/, or next to this file in a bundle. */
function binaryDir(): string | null {
  const candidates: string[] = [];
  try {
    candidates.push(
      path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'),
    );
  } catch {
    // a bundle without node_modules: the binaries are copied next to it
  }
  candidates.push(__dirname);
  return candidates.find((d) => fs.existsSync(path.join(d, NAMES[1]))) ?? null;
}

let prepared: string | null = null;

/**
 * Make the wasm backend start on a shared heap: call before `tf.setBackend('wasm')`. Returns null when done, or why
 * not (then the backend starts as usual and the kernels run on one thread).
 */
export function useSharedWasmHeap(setWasmPaths: (map: Record<string, string>) => void): string | null {
  try {
    const dir = binaryDir();
    if (!dir) return `tfjs-backend-wasm's ${NAMES[1]} not found`;
    if (!prepared) {
      const bytes = shareMemory(fs.readFileSync(path.join(dir, NAMES[1])));
      const hash = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 16);
      const file = path.join(os.tmpdir(), `ncl-kernels-${hash}-shared-simd.wasm`);
      if (!fs.existsSync(file) || !Buffer.from(bytes).equals(fs.readFileSync(file))) {
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, bytes);
        fs.renameSync(tmp, file);
      }
      prepared = file;
    }
    setWasmPaths({
      [NAMES[0]]: path.join(dir, NAMES[0]),
      [NAMES[1]]: prepared,
      [NAMES[2]]: path.join(dir, NAMES[2]),
    });
    return null;
  } catch (e) {
    return `shared wasm heap unavailable: ${(e as Error).message}`;
  }
}
