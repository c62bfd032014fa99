// One run on every core (ncl-kernels' threads.ts, shared-heap.ts): the wasm kernels split across worker threads give
// bit-identical results for 1, 2 and 3 threads (convolutions and both gradients, fused batch norm forward and
// backward, SGD, a whole ResNet step), the shared heap is a real SharedArrayBuffer, and a kernel that fails in a
// worker thread fails the call on the main thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, models } from '../lib/src';
import {
  batchNormTrain,
  kernelThreads,
  parallelKernelCalls,
  setKernelThreads,
  sgdMomentumUpdate,
  shareMemory,
  threadsPerWorker,
} from 'ncl-kernels';
import { kernelModule, runParts } from '../packages/kernels/src/threads';
import { Fn, I32 } from '../packages/kernels/src/wasm-asm';
import { wasmMemory, WasmBackendLike } from '../packages/kernels/src/kernel-utils';

const THREADS = [1, 2, 3];

function values(n: number, seed: number, scale = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * scale);
}

/**
 * Run `f` with each thread count; every array it returns must be bit-identical to the 1-thread result, and with
 * more than one thread some kernel call must have been split across threads.
 */
async function sameForAllThreads(what: string, f: () => Promise<Float32Array[]>): Promise<void> {
  let ref: Float32Array[] | null = null;
  for (const t of THREADS) {
    setKernelThreads(t);
    const calls = parallelKernelCalls();
    const got = await f();
    assert.equal(parallelKernelCalls() > calls, t > 1, `${what}: ${t} thread(s), parallel calls`);
    if (!ref) {
      ref = got;
      continue;
    }
    assert.equal(got.length, ref.length);
    for (let i = 0; i < got.length; i++) {
      const a = Buffer.from(got[i].buffer, got[i].byteOffset, got[i].byteLength);
      const b = Buffer.from(ref[i].buffer, ref[i].byteOffset, ref[i].byteLength);
      assert.ok(a.equals(b), `${what}: output ${i} with ${t} threads differs from 1 thread`);
    }
  }
}

async function data(ts: tf.Tensor[]): Promise<Float32Array[]> {
  const out = (await Promise.all(ts.map((t) => t.data()))) as Float32Array[];
  tf.dispose(ts);
  return out;
}

test('threadsPerWorker divides the cores among the workers, at least one each', () => {
  assert.equal(threadsPerWorker(1, 16), 16);
  assert.equal(threadsPerWorker(2, 2), 1);
  assert.equal(threadsPerWorker(3, 16), 5);
  assert.equal(threadsPerWorker(4, 2), 1);
  assert.throws(() => threadsPerWorker(0, 8), /positive integer/);
});

test('shareMemory marks a defined memory shared and refuses one it cannot share', () => {
  // (module (memory 1 2)) and (module (memory 1)): magic, version, memory section [count 1, flags, min(, max)].
  const head = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const withMax = Uint8Array.from([...head, 5, 4, 1, 0x01, 1, 2, 7, 5, 1, 1, 0x6d, 2, 0]); // + export "m"
  const shared = shareMemory(withMax);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(shared), {});
  assert.ok((inst.exports.m as WebAssembly.Memory).buffer instanceof SharedArrayBuffer);
  const plain = new WebAssembly.Instance(new WebAssembly.Module(withMax), {});
  assert.ok(!((plain.exports.m as WebAssembly.Memory).buffer instanceof SharedArrayBuffer));
  assert.throws(() => shareMemory(Uint8Array.from([...head, 5, 3, 1, 0x00, 1])), /without a maximum/);
  assert.throws(() => shareMemory(Uint8Array.from(head)), /no memory/);
});

test('initBackend({ threads: 3 }) starts wasm on a shared heap with 3 kernel threads', async () => {
  const info = await initBackend({ backend: 'wasm', threads: 3, quiet: true });
  assert.equal(info.threads, 3);
  assert.equal(kernelThreads(), 3);
  const memory = wasmMemory(tf.backend() as unknown as WasmBackendLike);
  assert.ok(memory && memory.buffer instanceof SharedArrayBuffer, 'the wasm heap is not shared');
  await assert.rejects(initBackend({ backend: 'wasm', threads: 0, quiet: true }), /threads/);
});

// Stem (3 input channels: the filter gradient pads them to 4), 3×3 stride 1 with in-kernel padding, stride 2 (input
// gradient by phases), 1×1 stride 2, and 'valid' with trailing columns no tap reaches (the padded copy row by row).
// 5 images split unevenly over 2 and 3 threads; 16 × 16 channels are 8 filter tiles.
const CONVS: {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number;
  pad: 'same' | 'valid';
}[] = [
  { name: 'stem 3→16', x: [5, 12, 12, 3], w: [3, 3, 3, 16], stride: 1, pad: 'same' },
  { name: '3×3 16→16', x: [5, 12, 12, 16], w: [3, 3, 16, 16], stride: 1, pad: 'same' },
  { name: '3×3 stride 2 16→32', x: [5, 12, 12, 16], w: [3, 3, 16, 32], stride: 2, pad: 'same' },
  { name: '1×1 stride 2 16→32', x: [5, 12, 12, 16], w: [1, 1, 16, 32], stride: 2, pad: 'same' },
  { name: "3×3 stride 2 'valid' 16→16", x: [5, 12, 12, 16], w: [3, 3, 16, 16], stride: 2, pad: 'valid' },
];

for (const c of CONVS) {
  test(`convolution ${c.name}: forward, input and filter gradients are identical on 1, 2 and 3 threads`, async () => {
    await initBackend({ backend: 'wasm', threads: 3, quiet: true });
    const x = tf.tensor4d(
      values(
        c.x.reduce((a, b) => a * b),
        1,
      ),
      c.x,
    );
    const w = tf.tensor4d(
      values(
        c.w.reduce((a, b) => a * b),
        2,
        0.2,
      ),
      c.w,
    );
    const y0 = tf.conv2d(x, w, c.stride, c.pad);
    const dy = tf.tensor4d(values(y0.size, 3), y0.shape as [number, number, number, number]);
    y0.dispose();
    await sameForAllThreads(c.name, () =>
      data([
        tf.conv2d(x, w, c.stride, c.pad),
        tf.conv2dTranspose(dy, w, c.x, c.stride, c.pad),
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy },
            { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: c.w },
          ) as tf.Tensor,
      ]),
    );
    tf.dispose([x, w, dy]);
  });
}

test('fused batch norm with ReLU and residual: forward and gradients identical on 1, 2 and 3 threads', async () => {
  await initBackend({ backend: 'wasm', threads: 3, quiet: true });
  // 3,600 rows (14 whole blocks of 256 and a partial one) × 16 channels: above the size split across threads.
  const shape: [number, number, number, number] = [4, 30, 30, 16];
  const n = shape.reduce((a, b) => a * b);
  const x = tf.tensor4d(
    values(n, 4, 2).map((v, i) => v + (i % 16) * 0.3),
    shape,
  );
  const r = tf.tensor4d(values(n, 5), shape);
  const g = tf.tensor1d(values(16, 6).map((v) => 1 + v));
  const b = tf.tensor1d(values(16, 7));
  const up = tf.tensor4d(values(n, 8), shape);
  const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor, rr: tf.Tensor) =>
    batchNormTrain(xx, gg as tf.Tensor1D, bb as tf.Tensor1D, { eps: 1e-5, relu: true, residual: rr })
      .y.mul(up)
      .sum();
  await sameForAllThreads('batch norm', async () => {
    const fwd = batchNormTrain(x, g, b, { eps: 1e-5, relu: true, residual: r });
    return data([fwd.y, fwd.mean, fwd.variance, ...tf.grads(f)([x, g, b, r])]);
  });
  tf.dispose([x, r, g, b, up]);
});

test('batch-norm statistics do not depend on the thread count even where float64 sums depend on their order', async () => {
  await initBackend({ backend: 'wasm', threads: 3, quiet: true });
  // 15 blocks of 256 rows × 12 channels (above the size split across threads); whole blocks of +2^50, −2^50 and 2^-20 in turn: the blocks' float64
  // sums span ~70 bits, so grouping them differently (e.g. one partial sum per thread) changes the mean.
  const P = 15 * 256;
  const C = 12;
  const level = [2 ** 50, -(2 ** 50), 2 ** -20];
  const xs = Float32Array.from(
    { length: P * C },
    (_, i) => level[Math.floor(i / C / 256) % 3] * (1 + (i % C) / 8),
  );
  const x = tf.tensor4d(xs, [1, P, 1, C]);
  const g = tf.ones([C]) as tf.Tensor1D;
  const b = tf.zeros([C]) as tf.Tensor1D;
  const dy = tf.tensor4d(values(P * C, 13), [1, P, 1, C]);
  await sameForAllThreads('batch norm, order-sensitive sums', async () => {
    const fwd = batchNormTrain(x, g, b, { eps: 1e-5 });
    const dx = tf.grad((xx: tf.Tensor) => batchNormTrain(xx, g, b, { eps: 1e-5 }).y.mul(dy).sum())(x);
    return data([fwd.mean, fwd.variance, dx]);
  });
  tf.dispose([x, g, b, dy]);
});

test('SGD momentum on a large parameter: identical on 1, 2 and 3 threads, and equal to the cpu kernel', async () => {
  await initBackend({ backend: 'wasm', threads: 3, quiet: true });
  const n = 100_003; // above the per-thread minimum for 3 threads; not a multiple of the 16-element split
  const attrs = { lr: 0.1, momentum: 0.9, wd: 2e-4 };
  const step = async () => {
    const w = tf.tensor1d(values(n, 9));
    const g = tf.tensor1d(values(n, 10));
    const buf = tf.tensor1d(values(n, 11));
    const first = sgdMomentumUpdate(w, g, undefined, attrs);
    const later = sgdMomentumUpdate(w, g, buf, attrs);
    const out = await data([first.w, first.buf, later.w, later.buf]);
    tf.dispose([w, g, buf]);
    return out;
  };
  let wasm: Float32Array[] = [];
  await sameForAllThreads('sgd', async () => (wasm = await step()));
  await tf.setBackend('cpu');
  const cpu = await step();
  await tf.setBackend('wasm');
  for (let i = 0; i < cpu.length; i++) assert.deepEqual(wasm[i], cpu[i], `sgd output ${i}: wasm ≠ cpu`);
});

test('a ResNet-8 training step (loss, gradients, BN statistics) is identical on 1, 2 and 3 threads', async () => {
  await initBackend({ backend: 'wasm', threads: 3, quiet: true });
  const x = tf.tensor4d(values(6 * 24 * 24 * 3, 12, 1), [6, 24, 24, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 3, 1, 4, 2, 2], 'int32'), 5);
  await sameForAllThreads('resnet8 step', async () => {
    // A fresh model (same seed) each time: a training forward pass updates the BN running statistics.
    const model = models.createModel({ name: 'resnet8', numClasses: 5, inChannels: 3, width: 16 }, 3);
    const vars = [...model.store.trainable.values()];
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, true)[0].logits) as tf.Scalar,
      vars,
    );
    const stats = [...model.store.buffers.values()].map((b) => tf.clone(b));
    const out = await data([value, ...vars.map((v) => grads[v.name]), ...stats]);
    model.dispose();
    return out;
  });
  tf.dispose([x, y]);
});

test('a kernel that traps in a worker thread fails the call on the main thread, and the pool goes on', async () => {
  await initBackend({ backend: 'wasm', threads: 3, quiet: true });
  setKernelThreads(3);
  const memory = wasmMemory(tf.backend() as unknown as WasmBackendLike)!;
  const f = new Fn('trapIf', ['bad']);
  f.when(
    () => f.get(f.p('bad')),
    () => f.op(0x00), // unreachable
  );
  f.local(I32);
  const { trapIf } = kernelModule(memory, [f]);
  assert.throws(
    () =>
      runParts(memory, [[{ c: trapIf, args: [0] }], [{ c: trapIf, args: [0] }], [{ c: trapIf, args: [1] }]]),
    /kernel thread 2: unreachable/,
  );
  runParts(memory, [[{ c: trapIf, args: [0] }], [{ c: trapIf, args: [0] }], [{ c: trapIf, args: [0] }]]);
});
