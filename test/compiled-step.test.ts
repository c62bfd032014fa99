// The compiled WebGPU training step (ncl-kernels' CompiledTrainStep, lib/src/train/compiled-step.ts): two NCL++
// training steps on webgpu through the compiled plan against the same two steps on the cpu backend through the
// eager tfjs step (lib/src/train/step.ts): losses, momentum buffers after the first step (= gradient + wd·w),
// weights and batch-norm running statistics after the second. ResNet-8 and ResNet-32 (option-A shortcuts), K = 2
// experts, T = 2 and 4 copies. On CPU machines WebGPU is Dawn on Mesa's llvmpipe (as in test/webgpu.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, models } from '../lib/src';
import { SGD } from '../lib/src/train/sgd';
import { CompiledModelStep, compiledStep, compiledStepStats } from '../lib/src/train/compiled-step';
import { sgdStep } from '../lib/src/train/step';
import { customLoss } from '../lib/src/train/loss';
import type { LossFn } from '../lib/src/losses';
import { batchOf, CLASSES, stepCheck, STEP_CASES, type Case } from '../scripts/gpu/stepcheck';
import { inferShapes, type NetSpec } from 'ncl-kernels';
import { formatBench, runBench } from '../lib/src/train/bench';
import { getProtocol } from '../lib/src/train/protocols';
import { trainRun } from '../lib/src/train/trainer';
import { webgpuUnavailable } from './webgpu-setup';
import { tmpDir, writeCifar100 } from './fixtures/data-fixtures';

test('NetSpec shapes: option-A residual, pooling, linear; a misfit names its layer', async () => {
  await initBackend({ backend: 'cpu', quiet: true });
  const model = models.createModel({ name: 'resnet8', numClasses: 10, inChannels: 3, width: 4 }, 1);
  const spec = models.describeModel(model)![0];
  const shapes = inferShapes(spec, [2, 16, 16, 3]);
  assert.deepEqual(shapes.at(-1), [2, 1, 1, 10]);
  assert.deepEqual(shapes[1], [2, 16, 16, 4]);
  // Stage 2's block: conv s2, BN, conv, BN + option-A residual from stage 1's output.
  const bn = spec.layers.find((l) => l.op === 'bn' && l.residual?.shortcut === 'optionA');
  assert.ok(bn && bn.op === 'bn' && bn.residual);
  assert.deepEqual(shapes[bn.residual.from], [2, 16, 16, 4]);
  const bad: NetSpec = { layers: [...spec.layers.slice(0, 2), { ...spec.layers[2], cin: 5 } as never] };
  assert.throws(
    () => inferShapes(bad, [2, 16, 16, 3]),
    /layer 2 \(conv\): input has 4 channels, the filter expects 5/,
  );
  const cosine = models.createModel(
    { name: 'resnet8', numClasses: 10, inChannels: 3, width: 4, classifier: 'cosine' },
    1,
  );
  assert.equal(models.describeModel(cosine), null);
  model.dispose();
  cosine.dispose();
});

/**
 * One mixup step through `step` ('eager' on cpu, or 'compiled' on webgpu) with a loss whose mixed value and head-bias
 * gradient are known by hand: L(y) = −mean_i z[i, y_i] (the label's logit), so with mixup
 *   total = λ·L(y) + (1 − λ)·L(y_b)   and   ∂total/∂b_c = −(λ·#{i: y_i = c} + (1 − λ)·#{i: y_b,i = c}) / N.
 */
async function mixupStep(kind: 'eager' | 'compiled') {
  await initBackend({ backend: kind === 'eager' ? 'cpu' : 'webgpu', quiet: true });
  const model = models.createModel({ name: 'resnet8', numClasses: 4, inChannels: 3, width: 4 }, 5);
  const sgd = new SGD(new Map(model.store.trainable), 0.9, 0); // no weight decay: momentum after step 1 = gradient
  const picked: LossFn = (logits, labels) =>
    tf.tidy(() => {
      const z = tf.sum(tf.mul(logits[0], tf.oneHot(labels, 4)), 1);
      const total = tf.neg(tf.mean(z)) as tf.Scalar;
      return { total, terms: { picked: tf.clone(total) } };
    });
  const loss = customLoss(picked);
  const eager = sgdStep(model, loss, sgd, [...model.store.trainable.values()], [1, 1, 1, 1]);
  const compiled = kind === 'compiled' ? compiledStep(model, loss, sgd, [1, 1, 1, 1], eager) : null;
  const step = compiled ?? eager;
  const c: Case = { model: 'resnet8', copies: 1, batch: 4, size: 8 };
  const { x } = batchOf(c, 0);
  const y = [0, 1, 2, 3];
  const yB = [1, 1, 3, 0];
  const lam = 0.3;
  // The step's forward, computed apart (training mode: batch statistics, the same logits).
  const z = tf.tidy(() => model.apply(x, true)[0].logits);
  const logits = (await z.array()) as number[][];
  z.dispose();
  const before = compiledStepStats.steps;
  const batch = {
    x,
    y: tf.tensor1d(y, 'int32'),
    indices: new Int32Array(4),
    mixup: { yB: tf.tensor1d(yB, 'int32'), lam },
  };
  const r = await step([batch], 0.1, 0);
  const head = model.experts[0].head as models.Linear;
  const biasKey = [...sgd.params].find(([, v]) => v === head.b)![0];
  const biasGrad = Array.from(await sgd.buffers.get(biasKey)!.data());
  const compiledSteps = compiledStepStats.steps - before;
  compiled?.dispose();
  sgd.dispose();
  model.dispose();
  return { r, logits, y, yB, lam, biasGrad, compiledSteps };
}

test('one mixup combiner: the eager and the compiled step train λ·L(y) + (1 − λ)·L(y_b)', async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable) t.diagnostic(`compiled step skipped: ${unavailable}`);
  for (const kind of ['eager', 'compiled'] as const) {
    await t.test(kind, { skip: kind === 'compiled' ? (unavailable ?? false) : false }, async () => {
      const { r, logits, y, yB, lam, biasGrad, compiledSteps } = await mixupStep(kind);
      assert.equal(compiledSteps, kind === 'compiled' ? 1 : 0, 'which step ran');
      const mean = (labels: number[]) => labels.reduce((s, c, i) => s + logits[i][c], 0) / labels.length;
      const want = lam * -mean(y) + (1 - lam) * -mean(yB);
      assert.ok(Math.abs(r.terms.total - want) < 1e-5, `total ${r.terms.total}, by hand ${want}`);
      assert.ok(Math.abs(r.terms.picked - want) < 1e-5, `term ${r.terms.picked}, by hand ${want}`);
      // #{y = c} = 1, 1, 1, 1 and #{y_b = c} = 1, 2, 0, 1: −(0.3·1 + 0.7·#y_b) / 4.
      const grad = [-0.25, -0.425, -0.075, -0.25];
      biasGrad.forEach((g, k) => assert.ok(Math.abs(g - grad[k]) < 1e-6, `∂/∂b: ${biasGrad} vs ${grad}`));
    });
  }
});

test('compiled WebGPU step', async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable) t.diagnostic(`skipped: ${unavailable}`);
  const skip = unavailable ?? false;

  for (const c of STEP_CASES) {
    await t.test(
      `${c.model}, K = 2, T = ${c.copies}, NCL++: losses, gradients, weights, BN statistics equal cpu's`,
      { skip },
      async () => {
        const r = await stepCheck(c);
        t.diagnostic(
          `${c.model} T=${c.copies}: loss ${r.lossErr.toExponential(2)}, gradient ${r.gradErr.toExponential(2)} ` +
            `(${r.gradAt}), after 2 steps ${r.stateErr.toExponential(2)} (${r.stateAt})`,
        );
        assert.equal(r.compiledSteps, 2, 'both steps ran on the compiled plan');
        assert.equal(r.leakedTensors, 0, 'no tensors leaked');
        assert.ok(r.lossErr <= 1e-5, `loss terms off by ${r.lossErr}`);
        assert.ok(r.gradErr < 5e-5, `gradient (momentum after step 1) off by ${r.gradErr} at ${r.gradAt}`);
        assert.ok(r.stateErr < 2e-4, `state after step 2 off by ${r.stateErr} at ${r.stateAt}`);
      },
    );
  }

  await t.test('a variable assigned from outside between steps is read in', { skip }, async () => {
    await initBackend({ backend: 'webgpu', quiet: true });
    const model = models.createModel({ name: 'resnet8', numClasses: CLASSES, inChannels: 3, width: 4 }, 2);
    const sgd = new SGD(new Map(model.store.trainable), 0.9, 0);
    const step = CompiledModelStep.of(model, sgd)!;
    const c: Case = { model: 'resnet8', copies: 1, batch: 4, size: 8 };
    const ce = (logits: tf.Tensor2D[]) => {
      const total = tf.losses.softmaxCrossEntropy(
        tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), CLASSES),
        logits[0],
      );
      return { total: total as tf.Scalar, terms: {} };
    };
    const b = batchOf(c, 0);
    const first = await step.run(b.x, ce, [], 0);
    // Zero the head: every logit becomes 0, the loss ln(C).
    const head = model.experts[0].head as models.Linear;
    tf.tidy(() => {
      head.w.assign(tf.zerosLike(head.w));
      head.b.assign(tf.zerosLike(head.b));
    });
    const second = await step.run(b.x, ce, [], 0);
    assert.notEqual(first.total, second.total);
    assert.ok(Math.abs(second.total - Math.log(CLASSES)) < 1e-5, `${second.total}`);
    tf.dispose([b.x, b.y]);
    step.dispose();
    sgd.dispose();
    model.dispose();
  });

  await t.test(
    'ncl bench on webgpu: the compiled step, its dispatches, the same loss as the eager step',
    { skip },
    async () => {
      await initBackend({ backend: 'webgpu', quiet: true });
      const opts = {
        model: 'resnet8',
        classes: 10,
        batch: 4,
        width: 4,
        size: 8,
        steps: 2,
        warmup: 1,
        experts: 2,
        copies: 2,
        method: 'nclpp' as const,
        backend: 'webgpu',
      };
      const before = tf.memory().numTensors;
      const r = await runBench(opts);
      assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
      assert.ok(r.compiled && r.tensorsStable);
      // Per expert, ResNet-8: 7 convolutions, 7 batch norms (3 dispatches each way), 2 option-A shortcuts, pool,
      // linear. Forward 7 + 21 + 2; backward: linear 2, pool 1, batch norms 21 + 2 shortcuts, 6 input gradients (not
      // the stem's), 7 filter gradients of 1 or 2 dispatches (split-K + sum); then one SGD pass.
      const d = r.dispatchesPerStep!;
      assert.ok(d >= 2 * (30 + 32 + 7) + 1 && d <= 2 * (30 + 32 + 14) + 1, `${d} dispatches`);
      assert.ok(r.kernelCallsPerStep! > 0, 'the loss runs as tfjs kernels');
      assert.match(formatBench(r), /compiled WebGPU step: \d+ dispatches\/step/);
      const eager = await runBench({ ...opts, compiled: false });
      assert.ok(!eager.compiled && eager.dispatchesPerStep === null);
      // Same seeds, same steps: the loss after 3 SGD steps agrees.
      assert.ok(Math.abs(r.loss - eager.loss) < 1e-4 * Math.abs(eager.loss), `${r.loss} vs ${eager.loss}`);
    },
  );

  await t.test(
    'a smoke NCL++ run trains end to end on the compiled step, as the eager step does',
    { skip },
    async () => {
      await initBackend({ backend: 'webgpu', quiet: true });
      const c = getProtocol('smoke', 'nclpp', 0);
      const before = compiledStepStats.steps;
      const tensors = tf.memory().numTensors;
      const compiled = await trainRun(c, { progress: false });
      const steps = compiledStepStats.steps - before;
      compiled.model.dispose();
      assert.equal(tf.memory().numTensors, tensors, 'no tensors leaked');
      assert.ok(steps >= compiled.metrics.train.epochs.length, `${steps} compiled steps`);
      process.env.NCL_COMPILED_STEP = '0';
      let eager;
      try {
        eager = await trainRun(c, { progress: false });
      } finally {
        delete process.env.NCL_COMPILED_STEP;
      }
      eager.model.dispose();
      assert.equal(compiledStepStats.steps - before, steps, 'NCL_COMPILED_STEP=0 trains eagerly');
      const a = compiled.metrics.train.epochs.map((e) => e.losses.total);
      const b = eager.metrics.train.epochs.map((e) => e.losses.total);
      t.diagnostic(
        `smoke NCL++: compiled ${steps} steps, epoch losses ${a.join(', ')} (eager ${b.join(', ')}); top-1 ${compiled.metrics.test.top1} (eager ${eager.metrics.test.top1})`,
      );
      for (let i = 0; i < a.length; i++)
        assert.ok(Math.abs(a[i] - b[i]) < 1e-3 * Math.abs(b[i]), `epoch ${i + 1}: ${a[i]} vs ${b[i]}`);
      assert.ok(Math.abs(compiled.metrics.test.top1 - eager.metrics.test.top1) <= 0.05, 'test top-1');
    },
  );

  await t.test(
    'the paper protocol (paper-cifar100-lt, NCL++) trains on the compiled step: fixture-sized',
    { skip },
    async () => {
      // A CIFAR-100 fixture (300 images, 3 per class); the protocol's model, loss (K = 2, T = 4), augmentation and
      // optimizer, at batch 4, IF 3 (so that every class keeps an image), one step.
      const root = tmpDir('paper-gpu');
      writeCifar100(root, 300);
      const saved = process.env.NCL_DATA_DIR;
      process.env.NCL_DATA_DIR = root;
      try {
        await initBackend({ backend: 'webgpu', quiet: true });
        const c = getProtocol('paper-cifar100-lt', 'nclpp', 0);
        Object.assign(c.data, { batchSize: 4, imbalanceFactor: 3 });
        Object.assign(c.optim, { epochs: 1, maxStepsPerEpoch: 1 });
        const before = compiledStepStats.steps;
        const { metrics, model } = await trainRun(c, { progress: false, analysis: false });
        model.dispose();
        assert.equal(compiledStepStats.steps - before, 1);
        assert.equal(metrics.config.model.name, 'resnet32');
        assert.equal(metrics.config.loss.numCopies, 4);
        assert.ok(Number.isFinite(metrics.train.epochs[0].losses.total));
      } finally {
        if (saved === undefined) delete process.env.NCL_DATA_DIR;
        else process.env.NCL_DATA_DIR = saved;
      }
    },
  );
});
