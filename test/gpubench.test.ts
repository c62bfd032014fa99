// scripts/gpu/gpubench.ts (the compiled WebGPU step timed as bench_torch_gpu.py times PyTorch) on Dawn's null device:
// pipelined and synced timings are consistent, and where the device has timestamp queries (the null device does:
// it writes no meaningful times) one pair of pass times comes back per timed step, with no validation error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/src';
import { tryWebGPU } from 'ncl-kernels';
import { gpuBench } from '../scripts/gpu/gpubench';

test('gpubench: pipelined, synced and per-pass timings of the compiled step (null device)', async (t) => {
  process.env.NCL_DAWN_FLAGS = 'backend=null';
  const w = await tryWebGPU();
  if (!w.ok) {
    t.diagnostic(`skipped: ${w.reason}`);
    return t.skip(w.reason);
  }
  await initBackend({ backend: 'webgpu', quiet: true });
  const errors: string[] = [];
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.pushErrorScope('validation');
  const before = tf.memory().numTensors;
  const r = (await gpuBench({
    model: 'resnet8',
    classes: 10,
    batch: 4,
    experts: 2,
    copies: 2,
    method: 'nclpp',
    warmup: 1,
    pipelined: 3,
    synced: 5,
    timed: 3,
  })) as {
    rows: number;
    pipelined: { steps: number; msPerStep: number; imgPerSec: number };
    synced: { medianMs: number; p10Ms: number; p90Ms: number; imgPerSec: number };
    timestampQuery: boolean;
    timedSteps?: number;
    forwardPassMs?: number;
    backwardSgdPassMs?: number;
    dispatchesPerStep: number;
    loss: number;
  };
  const err = await device.popErrorScope();
  if (err) errors.push(err.message);
  assert.deepEqual(errors, []);
  assert.equal(r.rows, 8);
  assert.ok(r.pipelined.msPerStep > 0 && r.synced.medianMs > 0);
  assert.ok(
    r.synced.p10Ms <= r.synced.medianMs && r.synced.medianMs <= r.synced.p90Ms,
    JSON.stringify(r.synced),
  );
  // img/s counts images (the batch of 4), not the 8 rows
  const near = (a: number, b: number) => Math.abs(a - b) <= 1e-3 * b + 0.1;
  assert.ok(near(r.pipelined.imgPerSec, 4000 / r.pipelined.msPerStep), JSON.stringify(r.pipelined));
  assert.ok(near(r.synced.imgPerSec, 4000 / r.synced.medianMs), JSON.stringify(r.synced));
  assert.equal(r.timestampQuery, device.features.has('timestamp-query'));
  if (r.timestampQuery) {
    assert.equal(r.timedSteps, 3);
    // the null device writes no real times: only their plumbing is checked here
    assert.ok(Number.isFinite(r.forwardPassMs) && Number.isFinite(r.backwardSgdPassMs));
  }
  assert.ok(r.dispatchesPerStep > 0);
  assert.equal(tf.memory().numTensors, before, 'gpubench leaked tensors');
});
