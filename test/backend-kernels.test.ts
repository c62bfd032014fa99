// The training kernels (ncl-kernels, packages/kernels): conv gradients on wasm (XNNPACK and SIMD paths), fused batch norm,
// SGD, the wasm assembler; and whole-model gradients on wasm equal the cpu backend's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, models } from '../lib/src';
import {
  batchNormTrain,
  batchNormTrainComposite,
  profileKernels,
  relaxedSimdAvailable,
  setForcePadCopy,
  sgdMomentumUpdate,
  simdKernels,
  useRelaxedSimd,
} from 'ncl-kernels';
import { formatBench, runBench } from '../lib/src/train/bench';
import { SGD } from '../lib/src/train/sgd';

type Pad = 'same' | 'valid' | number;

/** Deterministic, non-uniform values. */
function values(n: number, seed: number, scale = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * scale);
}

/** max |a − b| relative to the scale of b (max |b|): float32 sums in another order differ by ~1e-7 of it. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / scale;
}

async function convGrads(backend: string, xs: number[], ws: number[], stride: number, pad: Pad) {
  await tf.setBackend(backend);
  const x = tf.tensor4d(
    values(
      xs.reduce((a, b) => a * b),
      1,
    ),
    xs as [number, number, number, number],
  );
  const w = tf.tensor4d(
    values(
      ws.reduce((a, b) => a * b),
      2,
    ),
    ws as [number, number, number, number],
  );
  const padding =
    typeof pad === 'number'
      ? ([
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0],
        ] as [[number, number], [number, number], [number, number], [number, number]])
      : pad;
  // loss = Σ conv(x, w) ⊙ sin(index): a non-uniform upstream gradient
  const f = (a: tf.Tensor, b: tf.Tensor) => {
    const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, padding);
    return y.mul(tf.sin(tf.range(0, y.size).reshape(y.shape))).sum();
  };
  const [gx, gw] = tf.grads(f)([x, w]);
  const y = tf.conv2d(x, w, stride, padding);
  const out = { y: await y.data(), dx: await gx.data(), dw: await gw.data() };
  tf.dispose([x, w, gx, gw, y]);
  return out;
}

// (Ci, Co) = (4, 6): XNNPACK forward conv and swapped-conv filter gradient (Co % 8 ≠ 0); (8, 16): the lib's SIMD
// convolution and filter-gradient loop; (3, 8): SIMD with the input channels zero-padded to 4 (the stem).
for (const [ci, co] of [
  [4, 6],
  [8, 16],
  [3, 8],
]) {
  for (const k of [1, 3]) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid', ...(k === 3 ? [1] : [])] as Pad[]) {
        test(`wasm conv2d dx, dW equal cpu: ${k}x${k}, stride ${stride}, pad ${pad}, ${ci}->${co} ch`, async () => {
          await initBackend({ backend: 'wasm', quiet: true });
          const xs = [3, 9, 10, ci];
          const ws = [k, k, ci, co];
          const w = await convGrads('wasm', xs, ws, stride, pad);
          const c = await convGrads('cpu', xs, ws, stride, pad);
          await tf.setBackend('wasm');
          assert.ok(maxRel(w.y, c.y) < 1e-5, `y differs: ${maxRel(w.y, c.y)}`);
          assert.ok(maxRel(w.dx, c.dx) < 1e-5, `dx differs: ${maxRel(w.dx, c.dx)}`);
          assert.ok(maxRel(w.dw, c.dw) < 1e-5, `dW differs: ${maxRel(w.dw, c.dw)}`);
        });
      }
    }
  }
}

for (const pad of ['same', 1] as Pad[]) {
  test(`3x3 stride-1 pad-1 convs with the padding inside the kernel (W % 4 = 0) equal cpu and the padded copy: ${pad}`, async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    const xs = [2, 8, 12, 8];
    const ws = [3, 3, 8, 16];
    const inKernel = await convGrads('wasm', xs, ws, 1, pad);
    setForcePadCopy(true);
    const copied = await convGrads('wasm', xs, ws, 1, pad);
    setForcePadCopy(false);
    const c = await convGrads('cpu', xs, ws, 1, pad);
    await tf.setBackend('wasm');
    for (const w of [inKernel, copied]) {
      assert.ok(maxRel(w.y, c.y) < 1e-5, `y differs: ${maxRel(w.y, c.y)}`);
      assert.ok(maxRel(w.dx, c.dx) < 1e-5, `dx differs: ${maxRel(w.dx, c.dx)}`);
      assert.ok(maxRel(w.dw, c.dw) < 1e-5, `dW differs: ${maxRel(w.dw, c.dw)}`);
    }
  });
}

test('the SIMD convolutions without fused multiply-add (relaxed SIMD off) also equal cpu', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const withFma = relaxedSimdAvailable();
  useRelaxedSimd(false);
  try {
    for (const stride of [1, 2]) {
      const w = await convGrads('wasm', [3, 9, 10, 8], [3, 3, 8, 16], stride, 1);
      const c = await convGrads('cpu', [3, 9, 10, 8], [3, 3, 8, 16], stride, 1);
      await tf.setBackend('wasm');
      assert.ok(maxRel(w.dx, c.dx) < 1e-5, `dx differs: ${maxRel(w.dx, c.dx)}`);
      assert.ok(maxRel(w.dw, c.dw) < 1e-5, `dW differs: ${maxRel(w.dw, c.dw)}`);
    }
  } finally {
    useRelaxedSimd(withFma);
  }
});

test('wasm SIMD kernels instantiate on the backend heap', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const k = simdKernels(tf.backend() as unknown as Parameters<typeof simdKernels>[0]);
  assert.ok(k, 'WebAssembly SIMD kernels are unavailable');
  for (const name of ['bnStats', 'bnApply', 'bnGradSums', 'bnGradApply']) {
    assert.equal(typeof (k as unknown as Record<string, unknown>)[name], 'function');
  }
});

async function bnRun(backend: string, fused: boolean, C: number, relu: boolean, withResidual: boolean) {
  await tf.setBackend(backend);
  const shape: [number, number, number, number] = [2, 5, 3, C];
  const n = shape.reduce((a, b) => a * b);
  const x = tf.tensor4d(
    values(n, 3, 2).map((v, i) => v + (i % C) * 0.3),
    shape,
  );
  const r = tf.tensor4d(values(n, 4), shape);
  const g = tf.tensor1d(values(C, 5).map((v) => 1 + v));
  const b = tf.tensor1d(values(C, 6));
  const up = tf.tensor4d(values(n, 7), shape);
  const op = fused ? batchNormTrain : batchNormTrainComposite;
  const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor, rr?: tf.Tensor) =>
    op(xx, gg as tf.Tensor1D, bb as tf.Tensor1D, { eps: 1e-5, relu, residual: rr })
      .y.mul(up)
      .sum();
  const fwd = op(x, g, b, { eps: 1e-5, relu, residual: withResidual ? r : undefined });
  const out = {
    y: await fwd.y.data(),
    mean: await fwd.mean.data(),
    variance: await fwd.variance.data(),
    grads: await Promise.all(
      tf
        .grads(f)([x, g, b, r])
        .map((t) => t.data()),
    ),
  };
  tf.dispose([x, r, g, b, up, fwd.y, fwd.mean, fwd.variance]);
  return out;
}

for (const C of [6, 8]) {
  for (const relu of [false, true]) {
    for (const residual of [false, true]) {
      test(`fused batch norm (C=${C}, relu ${relu}, residual ${residual}) on wasm and cpu equals tf ops`, async () => {
        await initBackend({ backend: 'wasm', quiet: true });
        const ref = await bnRun('cpu', false, C, relu, residual);
        for (const backend of ['wasm', 'cpu']) {
          const got = await bnRun(backend, true, C, relu, residual);
          assert.ok(maxRel(got.y, ref.y) < 1e-4, `${backend} y: ${maxRel(got.y, ref.y)}`);
          assert.ok(maxRel(got.mean, ref.mean) < 1e-4, `${backend} mean`);
          assert.ok(maxRel(got.variance, ref.variance) < 1e-4, `${backend} variance`);
          const names = ['x', 'gamma', 'beta', 'residual'];
          for (let i = 0; i < 4; i++) {
            if (!residual && i === 3) continue;
            const e = maxRel(got.grads[i], ref.grads[i]);
            assert.ok(e < 1e-4, `${backend} d${names[i]}: ${e}`);
          }
        }
        await tf.setBackend('wasm');
      });
    }
  }
}

async function resnetGrads(backend: string) {
  await tf.setBackend(backend);
  const model = models.createModel({ name: 'resnet8', numClasses: 5, inChannels: 3, width: 8 }, 3);
  const x = tf.tensor4d(values(4 * 12 * 12 * 3, 8, 1), [4, 12, 12, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 3, 1, 4], 'int32'), 5);
  const vars = [...model.store.trainable.values()];
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(y, model.apply(x, true)[0].logits) as tf.Scalar,
    vars,
  );
  const out: Record<string, Float32Array> = { loss: (await value.data()) as Float32Array };
  for (const [name, v] of model.store.trainable) out[name] = (await grads[v.name].data()) as Float32Array;
  for (const [name, b] of model.store.buffers) out[name] = (await b.data()) as Float32Array;
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return out;
}

test('a whole ResNet-8 (width 8): loss, parameter gradients and BN running stats on wasm equal cpu', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const w = await resnetGrads('wasm');
  const c = await resnetGrads('cpu');
  await tf.setBackend('wasm');
  assert.deepEqual(Object.keys(w).sort(), Object.keys(c).sort());
  assert.ok(Object.keys(w).length > 30);
  for (const name of Object.keys(c)) {
    // Relative to the tensor's scale: tiny gradient entries carry float32 summation-order noise.
    const scale = Math.max(...Array.from(c[name]).map(Math.abs), 1e-6);
    const err = Math.max(...Array.from(w[name]).map((v, i) => Math.abs(v - c[name][i]))) / scale;
    assert.ok(err < 2e-3, `${name}: ${err}`);
  }
});

test('SGD-momentum kernel equals the PyTorch formula, first and later steps', async () => {
  for (const backend of ['wasm', 'cpu']) {
    await initBackend({ backend: backend as 'wasm', quiet: true });
    const w = tf.tensor1d([1, -2, 0.5]);
    const g = tf.tensor1d([0.1, 0.2, -0.3]);
    const a = { lr: 0.1, momentum: 0.9, wd: 0.01 };
    const s1 = sgdMomentumUpdate(w, g, undefined, a);
    // first step: buf = g + wd·w; w' = w − lr·buf
    const buf1 = [0.1 + 0.01, 0.2 - 0.02, -0.3 + 0.005];
    assert.ok(maxRel(await s1.buf.data(), buf1) < 1e-6);
    assert.ok(maxRel(await s1.w.data(), [1 - 0.1 * buf1[0], -2 - 0.1 * buf1[1], 0.5 - 0.1 * buf1[2]]) < 1e-6);
    const s2 = sgdMomentumUpdate(s1.w, g, s1.buf, a);
    const w1 = await s1.w.data();
    const buf2 = buf1.map((b, i) => 0.9 * b + [0.1, 0.2, -0.3][i] + 0.01 * w1[i]);
    assert.ok(maxRel(await s2.buf.data(), buf2) < 1e-6);
    assert.ok(
      maxRel(
        await s2.w.data(),
        Array.from(w1).map((v, i) => v - 0.1 * buf2[i]),
      ) < 1e-6,
    );
    tf.dispose([w, g, s1.w, s1.buf, s2.w, s2.buf]);
  }
  await initBackend({ backend: 'wasm', quiet: true });
});

test('SGD on wasm updates variables by name and keeps one buffer per variable', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const v = tf.variable(tf.tensor1d([1, 2]), true, 'bench-test-v');
  const sgd = new SGD(new Map([['v', v]]), 0.9, 0);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.tidy(() => sgd.step({ 'bench-test-v': tf.tensor1d([1, 1]) }, 0.1));
  }
  assert.equal(tf.memory().numTensors, before + 1);
  // buf: 1, 1.9, 2.71 → w: 2 − 0.1·(1 + 1.9 + 2.71)
  assert.ok(Math.abs((await v.data())[1] - (2 - 0.561)) < 1e-5);
  sgd.dispose();
  v.dispose();
});

test('runBench times training steps without leaking tensors, and profiles kernels', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const before = tf.memory().numTensors;
  const r = await runBench({
    model: 'resnet8',
    classes: 4,
    batch: 4,
    width: 8,
    size: 8,
    steps: 3,
    warmup: 1,
    experts: 2,
    backend: 'wasm',
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.backend, 'wasm');
  assert.ok(r.tensorsStable, 'tensor count changed between steps');
  assert.ok(r.imgPerSec > 0 && r.msPerStep > 0 && r.gflops > 0);
  assert.ok(Number.isFinite(r.loss));
  assert.ok(r.topKernels.some((k) => k.name === 'Conv2DBackpropFilter'));
  const share = r.topKernels.reduce((a, k) => a + k.share, 0);
  assert.ok(Math.abs(share - 1) < 1e-6);
  const text = formatBench(r);
  assert.match(text, /img\/s/);
  assert.match(text, /Conv2D/);
  const json = JSON.parse(JSON.stringify(r));
  for (const key of ['imgPerSec', 'msPerStep', 'backend']) assert.ok(key in json);
});

test('profileKernels attributes nested kernel calls to the outermost kernel', async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  const x = tf.ones([2, 6, 6, 8]) as tf.Tensor4D;
  const w = tf.ones([3, 3, 8, 8]) as tf.Tensor4D;
  const p = profileKernels(() =>
    tf.tidy(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').sum(),
      )([x, w]),
    ),
  );
  const names = p.kernels.map((k) => k.name);
  assert.ok(names.includes('Conv2DBackpropInput'));
  assert.ok(names.includes('Conv2DBackpropFilter'));
  // Conv2DBackpropInput calls Conv2D internally: only the forward conv is counted as Conv2D.
  assert.equal(p.kernels.find((k) => k.name === 'Conv2D')?.calls, 1);
  tf.dispose([x, w, ...p.result]);
});
