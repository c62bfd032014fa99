/**
 * ncl-lab's compiled WebGPU training step timed as scripts/gpu/bench_torch_gpu.py times PyTorch (`node ncl-gpu.js
 * gpubench`): the same model, step and batch; the first step (plan, shaders) timed apart; --warmup steps; then
 * --pipelined steps issued back to back and ONE wait for the GPU queue at the end (the timer includes all their GPU
 * work, not only its submission); then --synced steps each timed alone (the queue idle before, waited for after:
 * median, p10, p90); then --timed steps with timestamp queries around the plan's two compute passes (forward;
 * backward + SGD), where the device has 'timestamp-query': GPU ms per pass. The loss runs in tfjs-webgpu between
 * the two passes (its kernels are not in the passes' times) and is read back before the backward pass is submitted,
 * as in training (a step with a non-finite loss makes no update). img/s counts images (128 per ResNet-32 step; 64
 * per NCL++ step, not its 256 rows).
 */
import { tf } from '../../lib/src/tf';
import { createModel, type ModelName } from '../../lib/src/models';
import { lossForMethod, numHardFromRatio } from '../../lib/src/losses';
import { CompiledModelStep } from '../../lib/src/train/compiled-step';
import { SGD } from '../../lib/src/train/sgd';

export interface GpuBenchOptions {
  model: string;
  classes: number;
  batch: number;
  experts: number;
  copies: number;
  method: 'ce' | 'nclpp';
  warmup: number;
  pipelined: number;
  synced: number;
  timed: number;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export async function gpuBench(o: GpuBenchOptions): Promise<Record<string, unknown>> {
  if (tf.getBackend() !== 'webgpu')
    throw new Error(`gpubench needs the webgpu backend (current: ${tf.getBackend()})`);
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const idle = () => device.queue.onSubmittedWorkDone();
  const rows = o.batch * o.copies;
  const model = createModel(
    { name: o.model as ModelName, numClasses: o.classes, inChannels: 3, width: 16, numExperts: o.experts },
    1,
  );
  const sgd = new SGD(new Map(model.store.trainable), 0.9, 2e-4);
  const compiled = CompiledModelStep.of(model, sgd);
  if (!compiled) throw new Error('gpubench: the compiled step does not describe this model');
  const x = tf.randomNormal([rows, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const labels = tf.tidy(() => tf.tile(tf.randomUniform([o.batch], 0, o.classes, 'int32', 11), [o.copies]));
  const counts = Array.from({ length: o.classes }, (_, i) =>
    Math.round(500 * Math.pow(0.01, i / Math.max(1, o.classes - 1))),
  );
  const lossFn =
    o.method === 'nclpp'
      ? lossForMethod('nclpp', { numCopies: o.copies, numHard: numHardFromRatio(0.3, o.classes) })
      : lossForMethod('ce');
  let loss = NaN;
  const step = async () => {
    loss = (await compiled.run(x, (logits) => lossFn(logits, labels as tf.Tensor1D, counts), [], 0.1)).total;
  };
  try {
    const t0 = performance.now();
    await step();
    await idle();
    const firstStepSeconds = (performance.now() - t0) / 1000;
    for (let i = 0; i < o.warmup; i++) await step();
    await idle();
    const c0 = process.cpuUsage();
    const p0 = performance.now();
    for (let i = 0; i < o.pipelined; i++) await step();
    await idle();
    const pipeMs = (performance.now() - p0) / o.pipelined;
    const cpu = process.cpuUsage(c0);
    const synced: number[] = [];
    for (let i = 0; i < o.synced; i++) {
      await idle();
      const s = performance.now();
      await step();
      await idle();
      synced.push(performance.now() - s);
    }
    const plan = compiled.last!;
    let passes: Record<string, unknown> = { timestampQuery: false };
    if (o.timed > 0 && plan.timePasses(o.timed)) {
      for (let i = 0; i < o.timed; i++) await step();
      await idle();
      const { forwardMs, backwardMs } = await plan.passTimes();
      plan.timePasses(0);
      const med = (xs: number[]) => r3(quantile(xs, 0.5));
      passes = {
        timestampQuery: true,
        timedSteps: forwardMs.length,
        forwardPassMs: med(forwardMs),
        backwardSgdPassMs: med(backwardMs),
        planGpuMsPerStep: med(forwardMs.map((f, i) => f + backwardMs[i])),
      };
    }
    const med = quantile(synced, 0.5);
    return {
      model: o.model,
      method: o.method,
      experts: o.experts,
      copies: o.copies,
      batch: o.batch,
      rows,
      firstStepSeconds: r3(firstStepSeconds),
      warmupSteps: o.warmup,
      pipelined: {
        steps: o.pipelined,
        msPerStep: r3(pipeMs),
        imgPerSec: Math.round((o.batch * 10000) / pipeMs) / 10,
        cpuMsPerStep: r3((cpu.user + cpu.system) / 1000 / o.pipelined),
      },
      synced: {
        steps: o.synced,
        medianMs: r3(med),
        p10Ms: r3(quantile(synced, 0.1)),
        p90Ms: r3(quantile(synced, 0.9)),
        imgPerSec: Math.round((o.batch * 10000) / med) / 10,
      },
      dispatchesPerStep: plan.dispatchesPerStep,
      clock: 'performance.now() with GPUQueue.onSubmittedWorkDone()',
      ...passes,
      loss,
    };
  } finally {
    compiled.dispose();
    sgd.dispose();
    tf.dispose([x, labels]);
    model.dispose();
  }
}
