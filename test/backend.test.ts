// Backend selection and the wasm training kernels: gradients on wasm must equal the cpu backend's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tf, initBackend } from '../lib/src';
import { guardWasmHeap, WasmHeapError, WASM_HEAP_MAX_BYTES, type WasmHeapModule } from 'ncl-kernels';

test('initBackend picks a working backend and reports it', async () => {
  const info = await initBackend({ quiet: true });
  assert.equal(tf.getBackend(), info.backend);
  assert.ok(['tensorflow', 'webgpu', 'wasm', 'cpu'].includes(info.backend));
  assert.equal(info.tfjsVersion, tf.version.tfjs);
});

test('forcing an unavailable or unknown backend is a clear error', async () => {
  await assert.rejects(
    () => initBackend({ backend: 'tensorflow-gpu', quiet: true }),
    /backend 'tensorflow-gpu' is not available/,
  );
  const saved = process.env.NCL_BACKEND;
  process.env.NCL_BACKEND = 'banana';
  try {
    await assert.rejects(() => initBackend({ quiet: true }), /NCL_BACKEND=banana is not a backend/);
  } finally {
    if (saved === undefined) delete process.env.NCL_BACKEND;
    else process.env.NCL_BACKEND = saved;
  }
  const info = await initBackend({ backend: 'cpu', quiet: true });
  assert.equal(info.backend, 'cpu');
});

async function convGrads(
  backend: string,
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  stride: number,
  pad: 'same' | 'valid',
) {
  await tf.setBackend(backend);
  const xt = tf.tensor4d(x, xs as [number, number, number, number]);
  const wt = tf.tensor4d(w, ws as [number, number, number, number]);
  const dy = (y: tf.Tensor4D) => tf.tidy(() => tf.sin(tf.range(0, y.size).reshape(y.shape)));
  // loss = Σ conv(x,w) ⊙ sin(index): a non-uniform upstream gradient
  const f = (a: tf.Tensor, b: tf.Tensor) => {
    const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
    return y.mul(dy(y)).sum();
  };
  const [gx, gw] = tf.grads(f)([xt, wt]);
  const out = [await gx.data(), await gw.data()] as Float32Array[];
  tf.dispose([xt, wt, gx, gw]);
  return out;
}

for (const k of [1, 3]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) {
      test(`wasm conv2d gradients equal cpu: ${k}x${k}, stride ${stride}, ${pad}`, async () => {
        await initBackend({ backend: 'wasm', quiet: true });
        const xs = [3, 10, 9, 4];
        const ws = [k, k, 4, 6];
        const rnd = (n: number, seed: number) =>
          Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.5);
        const x = rnd(
          xs.reduce((a, b) => a * b),
          1,
        );
        const w = rnd(
          ws.reduce((a, b) => a * b),
          2,
        );
        const [wx, ww] = await convGrads('wasm', x, xs, w, ws, stride, pad);
        const [cx, cw] = await convGrads('cpu', x, xs, w, ws, stride, pad);
        const maxRel = (a: Float32Array, b: Float32Array) =>
          Math.max(...a.map((v, i) => Math.abs(v - b[i]) / (1e-3 + Math.abs(b[i]))));
        assert.equal(ww.length, cw.length);
        assert.ok(maxRel(wx, cx) < 1e-3, `dx differs: ${maxRel(wx, cx)}`);
        assert.ok(maxRel(ww, cw) < 1e-3, `dW differs: ${maxRel(ww, cw)}`);
        await tf.setBackend('wasm');
      });
    }
  }
}

// The CLI, the reproduce workers and the notebooks run the compiled lib (lib/dist, tsc's CommonJS), the tests run
// lib/src under tsx: a construct that works in one and not the other once made every compiled run fall back from
// the lib's SIMD kernels to XNNPACK, 2.7× slower, without a word. The compiled lib must report its kernels active.
test('the compiled lib (lib/dist) runs the ncl SIMD kernels on wasm, as the sources do', async () => {
  const dist = path.resolve(__dirname, '..', 'lib', 'dist');
  assert.ok(fs.existsSync(path.join(dist, 'index.js')), 'lib/dist is missing: npm run build');
  const script = `require(${JSON.stringify(dist)}).initBackend({ backend: 'wasm', quiet: true }).then((i) => console.log(i.device))`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fromSrc = (await initBackend({ backend: 'wasm', quiet: true })).device;
  assert.match(fromSrc, /ncl SIMD kernels/);
  assert.equal(r.stdout.trim(), fromSrc);
});

test('without a GPU device node the automatic choice skips the WebGPU probe, saying why; Dawn flags re-enable it', async () => {
  const { gpuDeviceLikely } = await import('ncl-kernels');
  const saved = process.env.NCL_DAWN_FLAGS;
  process.env.NCL_DAWN_FLAGS = 'backend=opengles';
  assert.equal(gpuDeviceLikely(), true);
  if (saved === undefined) delete process.env.NCL_DAWN_FLAGS;
  else process.env.NCL_DAWN_FLAGS = saved;
  const nodes = ['/dev/nvidia0', '/dev/dri'].some((p) => fs.existsSync(p));
  if (process.platform !== 'linux' || nodes || saved) return; // a machine where the probe must run
  assert.equal(gpuDeviceLikely(), false);
  const info = await initBackend({ quiet: true });
  const w = info.skipped.find((s) => s.choice === 'webgpu');
  assert.match(w?.reason ?? '', /no GPU device node/);
});

test('a full wasm heap throws WasmHeapError at the allocation, instead of a tensor at address 0', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const module = (tf.backend() as unknown as { wasm: WasmHeapModule }).wasm;
  assert.equal(guardWasmHeap(module), false, 'initBackend installed the guard already');
  const before = tf.memory().numTensors;
  // ≥ 4 GB: tfjs-wasm would pass the byte count as an i32 and get a small block back.
  assert.throws(() => tf.fill([2 ** 30 + 1], 0), WasmHeapError);
  // Reserve most of the 4 GB (untouched pages), then ask for more than what is left.
  const reserved = module._malloc(WASM_HEAP_MAX_BYTES - 300 * 2 ** 20);
  try {
    assert.throws(
      () => tf.fill([100 * 2 ** 20], 1),
      (e: Error) =>
        e instanceof WasmHeapError && /could not allocate 400 MB .* lower the batch size/.test(e.message),
    );
  } finally {
    module._free(reserved);
  }
  assert.equal(tf.memory().numTensors, before, 'the failed allocations left no tensor behind');
  const t = tf.fill([1000], 2);
  assert.equal(t.sum().arraySync(), 2000);
  t.dispose();
});

test('guardWasmHeap on a module whose malloc returns 0: throws for n > 0, passes 0-byte requests through', () => {
  let next = 64;
  const fake: WasmHeapModule = {
    _malloc: (n: number) => (next + n <= fake.HEAPU8.length ? (next += n) - n : 0),
    _free: () => {},
    HEAPU8: new Uint8Array(1024),
  };
  assert.equal(guardWasmHeap(fake), true);
  assert.equal(guardWasmHeap(fake), false);
  assert.ok(fake._malloc(100) > 0);
  assert.throws(() => fake._malloc(2000), /could not allocate 0 MB \(the heap has grown to 0 MB/);
  assert.equal(fake._malloc(0), next);
});
