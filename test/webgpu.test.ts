// WebGPU (Dawn) backend: selection, forcing, and gradients equal to the cpu backend's.
//
// A real GPU adapter (Vulkan) is used when Dawn finds one. Without one, Dawn's OpenGL ES backend on Mesa's software
// rasteriser (llvmpipe, through EGL surfaceless) still runs tfjs-backend-webgpu's WGSL kernels, so the gradients are
// checked on CPU machines too; the tests skip, saying why, only when neither is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/src';
import { dawnFlags, registerWebGPUTrainingKernels } from 'ncl-kernels';
import { gradCheck } from '../scripts/gpu/gradcheck';
import { webgpuUnavailable } from './webgpu-setup';

test('NCL_DAWN_FLAGS is split on commas and spaces', () => {
  const saved = process.env.NCL_DAWN_FLAGS;
  process.env.NCL_DAWN_FLAGS = 'backend=vulkan, enable-dawn-features=allow_unsafe_apis  adapter=NVIDIA';
  try {
    assert.deepEqual(dawnFlags(), [
      'backend=vulkan',
      'enable-dawn-features=allow_unsafe_apis',
      'adapter=NVIDIA',
    ]);
  } finally {
    if (saved === undefined) delete process.env.NCL_DAWN_FLAGS;
    else process.env.NCL_DAWN_FLAGS = saved;
  }
});

test('webgpu backend (Dawn)', async (t) => {
  const unavailable = await webgpuUnavailable();
  const skip = unavailable ?? false;
  if (unavailable) t.diagnostic(`skipped: ${unavailable}`);

  await t.test(
    'forcing webgpu without an adapter fails clearly',
    { skip: !unavailable && 'an adapter exists here' },
    async () => {
      await assert.rejects(
        () => initBackend({ backend: 'webgpu', quiet: true }),
        /backend 'webgpu' is not available: /,
      );
    },
  );

  await t.test('NCL_BACKEND=webgpu selects the webgpu backend', { skip }, async () => {
    const saved = process.env.NCL_BACKEND;
    process.env.NCL_BACKEND = 'webgpu';
    try {
      const info = await initBackend({ quiet: true });
      assert.equal(info.backend, 'webgpu');
      assert.equal(info.choice, 'webgpu');
      assert.match(info.device, /WebGPU\/Dawn/);
      const a = tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
      const p = a.matMul(a).add(1);
      assert.deepEqual(Array.from(await p.data()), [8, 11, 16, 23]);
      tf.dispose([a, p]);
    } finally {
      if (saved === undefined) delete process.env.NCL_BACKEND;
      else process.env.NCL_BACKEND = saved;
    }
  });

  await t.test('a synchronous read of a GPU tensor says to use data()', { skip }, async () => {
    await initBackend({ backend: 'webgpu', quiet: true });
    // 4096 values: above tfjs-webgpu's CPU hand-off size, so computed and kept on the GPU.
    const big = tf.tidy(() => tf.ones([4096]).mul(2).sum());
    assert.throws(() => big.dataSync(), /synchronous reads .* use `await tensor\.data\(\)`/);
    assert.equal((await big.data())[0], 8192);
    big.dispose();
  });

  for (const net of ['small', 'resnet8'] as const) {
    await t.test(
      `gradients equal cpu: ${net} (conv 3x3 s1/s2, BN, ReLU, dense, softmax CE)`,
      { skip },
      async () => {
        await initBackend({ backend: 'webgpu', quiet: true });
        const r = await gradCheck(net, 'webgpu', 'cpu');
        t.diagnostic(`${net}: ${JSON.stringify(r)}`);
        assert.ok(
          Math.abs(r.lossA - r.lossB) < 1e-4 * Math.max(1, Math.abs(r.lossB)),
          `loss ${r.lossA} vs ${r.lossB}`,
        );
        assert.ok(
          r.maxRelErr < 2e-3,
          `max relative gradient error ${r.maxRelErr} (${r.worst}), abs ${r.maxAbsErr}`,
        );
        assert.ok(r.numVariables >= 8);
      },
    );
  }
  // Last: the lib's opt-in filter gradient (NCL_WEBGPU_CONV_FILTER=split) replaces tfjs's for the rest of the process.
  await t.test('gradients equal cpu with NCL_WEBGPU_CONV_FILTER=split', { skip }, async () => {
    await initBackend({ backend: 'webgpu', quiet: true });
    const before = tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc;
    process.env.NCL_WEBGPU_CONV_FILTER = 'split';
    try {
      registerWebGPUTrainingKernels();
    } finally {
      delete process.env.NCL_WEBGPU_CONV_FILTER;
    }
    assert.notEqual(tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc, before);
    for (const net of ['small', 'resnet8'] as const) {
      const r = await gradCheck(net, 'webgpu', 'cpu');
      t.diagnostic(`${net} (split): ${JSON.stringify(r)}`);
      assert.ok(
        r.maxRelErr < 2e-3,
        `max relative gradient error ${r.maxRelErr} (${r.worst}), abs ${r.maxAbsErr}`,
      );
    }
  });
});
