/**
 * The GPU check of ncl-lab, bundled into one file by scripts/gpu/prepare.sh and run on a machine without Node.js or
 * node_modules (scripts/gpu/device.sh). One sub-command per run, so a crash in one leaves the others standing; each
 * result is one JSON line on stdout (`{"kind": ..., ...}`), logs go to stderr.
 *
 *   node ncl-gpu.js info                         backend chosen (NCL_BACKEND), adapter, Dawn flags
 *   node ncl-gpu.js gradcheck                    gradients on the current backend vs cpu (small net, ResNet-8)
 *   node ncl-gpu.js bench [--model resnet32] [--classes 100] [--batch 128] [--steps 20] [--warmup 3]
 *                                                full training steps (forward, softmax CE, backward, SGD), img/s
 *   node ncl-gpu.js smoke [--protocol smoke] [--method nclpp] [--epochs N]
 *                                                the smoke NCL++ training with asynchronous reads, then evaluation
 *   node ncl-gpu.js trainrun                     the lib's trainRun(getProtocol('smoke', 'nclpp', 0))
 *   node ncl-gpu.js libbench                     the lib's runBench (ncl bench) for ResNet-32, batch 128
 *
 * Everything reads tensors asynchronously (`await t.data()`): the webgpu backend cannot read synchronously under
 * Node. The backend is the one initBackend picks, or NCL_BACKEND; Dawn's addon is found through NCL_DAWN_NODE.
 */
import { tf } from '../../lib/src/tf';
import { initBackend, backendInfo } from '../../lib/src/backend';
import { tryWebGPU } from '../../lib/src/backend/webgpu';
import { createModel } from '../../lib/src/models/registry';
import { modelFlops } from '../../lib/src/models/flops';
import { SGD } from '../../lib/src/train/sgd';
import { getProtocol } from '../../lib/src/train/protocols';
import { learningRate } from '../../lib/src/train/schedule';
import { lossFromConfig, prepareData, trainRun } from '../../lib/src/train/trainer';
import type { Method } from '../../lib/src/train/config';
import * as data from '../../lib/src/data';
import { splitAccuracy } from '../../lib/src/eval/metrics';
import type { MultiExpert } from '../../lib/src/models/experts';
import { gradCheck } from './gradcheck';

type Args = Record<string, string>;

function parseArgs(argv: string[]): Args {
  const a: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) throw new Error(`unexpected argument '${k}'`);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) a[k.slice(2)] = 'true';
    else {
      a[k.slice(2)] = v;
      i++;
    }
  }
  return a;
}

function emit(kind: string, r: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ kind, ...r }) + '\n');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function backendSummary(): Promise<Record<string, unknown>> {
  const info = backendInfo() ?? (await initBackend());
  const r: Record<string, unknown> = {
    backend: info.backend,
    choice: info.choice,
    device: info.device,
    tfjs: info.tfjsVersion,
    skipped: info.skipped,
  };
  if (info.backend === 'webgpu') {
    const w = await tryWebGPU();
    if (w.ok) r.adapter = w.adapter;
    const b = tf.backend() as unknown as {
      adapterInfo?: { vendor?: string; architecture?: string };
      device?: { limits?: Record<string, number>; features?: Iterable<string> };
      supportTimestampQuery?: boolean;
    };
    r.timestampQuery = b.supportTimestampQuery ?? null;
    r.deviceFeatures = b.device?.features ? [...b.device.features] : null;
  }
  return r;
}

/** Full training steps of a fresh model on random data, timed with asynchronous reads. */
async function bench(a: Args): Promise<void> {
  const name = (a.model ?? 'resnet32') as 'resnet32';
  const classes = Number(a.classes ?? 100);
  const batch = Number(a.batch ?? 128);
  const steps = Number(a.steps ?? 20);
  const warmup = Number(a.warmup ?? 3);
  const width = Number(a.width ?? 16);
  const size = 32;
  const summary = await backendSummary();
  const model = createModel({ name, numClasses: classes, inChannels: 3, width }, 1);
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const labels = tf.tidy(() =>
    tf.oneHot(tf.randomUniform([batch], 0, classes, 'int32', 11) as tf.Tensor1D, classes).toFloat(),
  );
  const vars = [...model.store.trainable.values()];
  const sgd = new SGD(new Map(model.store.trainable), 0.9, 2e-4);
  const step = (): tf.Scalar => {
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, true)[0].logits) as tf.Scalar,
      vars,
    );
    sgd.step(grads, 0.1);
    tf.dispose(Object.values(grads));
    return value;
  };
  const t0 = performance.now();
  const warmMs: number[] = [];
  for (let i = 0; i < warmup; i++) {
    const s = performance.now();
    const v = step();
    await v.data();
    v.dispose();
    warmMs.push(performance.now() - s);
  }
  // A partial result first, in case a slow backend runs out of time below.
  emit('bench-warmup', { backend: summary.backend, device: summary.device, model: name, batch, warmMs });
  // Each step on its own: dispatch, then wait for its loss.
  const stepMs: number[] = [];
  const counts: number[] = [];
  let loss = NaN;
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    const v = step();
    loss = (await v.data())[0];
    v.dispose();
    stepMs.push(performance.now() - s);
    counts.push(tf.memory().numTensors);
  }
  // Pipelined: `steps` steps dispatched back to back, one wait at the end (the GPU queue runs in order).
  const p0 = performance.now();
  const losses: tf.Scalar[] = [];
  for (let i = 0; i < steps; i++) losses.push(step());
  const last = await losses[losses.length - 1].data();
  await vars[0].data();
  const pipelinedMs = (performance.now() - p0) / steps;
  tf.dispose(losses);
  const flops = modelFlops(model, size, size).train;
  const ms = median(stepMs);
  let topKernels: { name: string; ms: number }[] | string = [];
  if (a.profile !== 'false') {
    try {
      const prof = await tf.profile(async () => {
        const v = step();
        await v.data();
        v.dispose();
      });
      const byName = new Map<string, number>();
      for (const k of prof.kernels) {
        const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        byName.set(k.name, (byName.get(k.name) ?? 0) + t);
      }
      topKernels = [...byName.entries()]
        .sort((p, q) => q[1] - p[1])
        .slice(0, 10)
        .map(([n, t]) => ({ name: n, ms: Math.round(t * 100) / 100 }));
    } catch (e) {
      topKernels = `profile failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  emit('bench', {
    ...summary,
    model: name,
    classes,
    batch,
    width,
    steps,
    warmup,
    firstStepMs: warmMs[0] ?? null,
    warmMs,
    msPerStep: ms,
    imgPerSec: (batch * 1000) / ms,
    bestImgPerSec: (batch * 1000) / Math.min(...stepMs),
    pipelinedMsPerStep: pipelinedMs,
    pipelinedImgPerSec: (batch * 1000) / pipelinedMs,
    gflops: (flops * batch) / (ms / 1000) / 1e9,
    trainFlopsPerImg: flops,
    stepMs: stepMs.map((t) => Math.round(t * 10) / 10),
    loss,
    lastPipelinedLoss: last[0],
    tensorsStable: counts.every((c) => c === counts[0]),
    numTensors: tf.memory().numTensors,
    topKernels,
    totalSeconds: (performance.now() - t0) / 1000,
  });
  sgd.dispose();
  tf.dispose([x, labels]);
  model.dispose();
}

/** Test-set accuracy with asynchronous reads (as eval/metrics.ts evaluateModel, which reads synchronously). */
async function evaluateAsync(
  model: MultiExpert,
  set: data.ImageSet,
  classCounts: number[],
  o: { batchSize: number; mean: number[]; std: number[] },
): Promise<{
  top1: number;
  many: number | null;
  medium: number | null;
  few: number | null;
  experts: number[];
}> {
  const C = model.opts.numClasses;
  const logits = model.experts.map(() => new Float32Array(set.n * C));
  for (const b of data.evalBatches(set, o.batchSize, o.mean, o.std)) {
    const outs = tf.tidy(() => model.apply(b.x, false).map((r) => r.logits));
    for (let k = 0; k < outs.length; k++) logits[k].set(await outs[k].data(), b.start * C);
    tf.dispose([...outs, b.x, b.y]);
  }
  const acc = (l: Float32Array) => {
    const correct = new Array<number>(C).fill(0);
    const total = new Array<number>(C).fill(0);
    for (let i = 0; i < set.n; i++) {
      let best = 0;
      for (let j = 1; j < C; j++) if (l[i * C + j] > l[i * C + best]) best = j;
      total[set.labels[i]]++;
      if (best === set.labels[i]) correct[set.labels[i]]++;
    }
    return splitAccuracy(correct, total, classCounts);
  };
  const avg = new Float32Array(set.n * C);
  for (const l of logits) for (let i = 0; i < l.length; i++) avg[i] += l[i] / logits.length;
  const e = acc(avg);
  return {
    top1: e.top1,
    many: e.many,
    medium: e.medium,
    few: e.few,
    experts: logits.map((l) => acc(l).top1),
  };
}

/**
 * A protocol's training (default: smoke, NCL++) as trainer.ts trainRun does it (same data subset, batches,
 * augmentation, model, loss, SGD and schedule), but reading the loss asynchronously, so it runs on webgpu too.
 */
async function smoke(a: Args): Promise<void> {
  const summary = await backendSummary();
  const c = getProtocol(a.protocol ?? 'smoke', (a.method ?? 'nclpp') as Method, Number(a.seed ?? 0));
  if (a.epochs) c.optim.epochs = Number(a.epochs);
  const t0 = performance.now();
  const prep = await prepareData(c, { progress: false });
  const { dataset, train, test, classCounts } = prep;
  const built = lossFromConfig(c, dataset.numClasses);
  const model = createModel(
    {
      name: c.model.name,
      numClasses: dataset.numClasses,
      inChannels: train.channels,
      width: c.model.width,
      classifier: c.model.classifier,
      cosineScale: c.model.cosineScale,
      numExperts: c.model.numExperts,
    },
    c.seed,
  );
  const params = new Map<string, tf.Variable>(model.store.trainable);
  for (const [n, v] of Object.entries(built.variables)) params.set(`loss.${n}`, v);
  const vars = [...params.values()];
  const sgd = new SGD(params, c.optim.momentum, c.optim.weightDecay);
  const batchOpts: data.BatchOptions = {
    batchSize: c.data.batchSize,
    numCopies: c.loss.numCopies,
    augment: c.data.augment,
    randAugment: c.data.randAugment,
    mixup: c.data.mixup,
    seed: c.seed,
    mean: dataset.mean,
    std: dataset.std,
    shuffle: true,
    dropLast: true,
  };
  const stepsPerEpoch = Math.min(
    data.numBatches(train, batchOpts),
    c.optim.maxStepsPerEpoch ?? Number.POSITIVE_INFINITY,
  );
  const dataSeconds = (performance.now() - t0) / 1000;
  const trainStart = performance.now();
  const stepLosses: number[] = [];
  let lastTerms: Record<string, number> = {};
  let images = 0;
  for (let epoch = 0; epoch < c.optim.epochs; epoch++) {
    let steps = 0;
    for (const batch of data.trainBatches(train, batchOpts, epoch)) {
      if (steps >= stepsPerEpoch) {
        tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
        break;
      }
      const lr = learningRate(c.optim, epoch, steps / stepsPerEpoch);
      let names: string[] = [];
      let terms = null as tf.Tensor | null;
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(batch.x, true).map((o) => o.logits);
        const out = built.fn(logits, batch.y, classCounts);
        names = Object.keys(out.terms);
        terms = tf.keep(names.length ? tf.stack(names.map((k) => out.terms[k])) : tf.zeros([0]));
        return out.total;
      }, vars);
      tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
      const total = (await value.data())[0];
      const tv = await terms!.data();
      tf.dispose([value, terms!]);
      if (!Number.isFinite(total))
        throw new Error(`loss is ${total} at epoch ${epoch + 1}, step ${steps + 1}`);
      sgd.step(grads, lr);
      tf.dispose(Object.values(grads));
      stepLosses.push(total);
      lastTerms = Object.fromEntries(names.map((n, i) => [n, tv[i]]));
      images += c.data.batchSize;
      steps++;
    }
  }
  const trainSeconds = (performance.now() - trainStart) / 1000;
  const ev = await evaluateAsync(model, test, classCounts, {
    batchSize: c.eval.batchSize,
    mean: dataset.mean,
    std: dataset.std,
  });
  emit('smoke', {
    ...summary,
    protocol: c.protocol,
    method: c.method,
    model: c.model.name,
    width: c.model.width,
    experts: c.model.numExperts,
    copies: c.loss.numCopies,
    batch: c.data.batchSize,
    epochs: c.optim.epochs,
    stepsPerEpoch,
    trainImages: train.n,
    testImages: test.n,
    stepLosses,
    lastTerms,
    test: ev,
    dataSeconds,
    trainSeconds,
    imgPerSec: images / trainSeconds,
    totalSeconds: (performance.now() - t0) / 1000,
    numTensors: tf.memory().numTensors,
  });
  sgd.dispose();
  built.dispose();
  model.dispose();
}

/** The lib's own trainRun on the smoke protocol (reads synchronously: fails on webgpu until the trainer awaits). */
async function libTrainRun(a: Args): Promise<void> {
  const summary = await backendSummary();
  const t0 = performance.now();
  const { metrics, model } = await trainRun(getProtocol(a.protocol ?? 'smoke', 'nclpp', 0), {
    progress: true,
  });
  model.dispose();
  const t = metrics.test;
  emit('trainrun', {
    ...summary,
    top1: t.top1,
    many: t.many,
    medium: t.medium,
    few: t.few,
    experts: t.experts.map((e) => e.top1),
    losses: metrics.train.epochs.map((e) => e.losses.total),
    seconds: (performance.now() - t0) / 1000,
  });
}

/** The lib's runBench (what `ncl bench` prints), when the lib has it. */
async function libBench(a: Args): Promise<void> {
  const summary = await backendSummary();
  const { runBench } = await import('../../lib/src/train/bench');
  const r = await runBench({
    model: a.model ?? 'resnet32',
    classes: Number(a.classes ?? 100),
    batch: Number(a.batch ?? 128),
    steps: Number(a.steps ?? 5),
    warmup: Number(a.warmup ?? 2),
    backend: summary.backend as string,
  });
  emit('libbench', { ...summary, ...r });
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  const a = parseArgs(rest);
  const t0 = performance.now();
  switch (cmd) {
    case 'info': {
      emit('info', {
        ...(await backendSummary()),
        node: process.version,
        seconds: (performance.now() - t0) / 1000,
      });
      break;
    }
    case 'gradcheck': {
      const info = await initBackend();
      const backend = info.backend;
      for (const net of ['small', 'resnet8'] as const) {
        const r = await gradCheck(net, backend, a.reference ?? 'cpu');
        emit('gradcheck', { device: info.device, ...r });
      }
      break;
    }
    case 'bench':
      await bench(a);
      break;
    case 'smoke':
      await smoke(a);
      break;
    case 'trainrun':
      await libTrainRun(a);
      break;
    case 'libbench':
      await libBench(a);
      break;
    default:
      throw new Error(`unknown command '${cmd}'; use info, gradcheck, bench, smoke, trainrun or libbench`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    const err = e as Error;
    emit('error', {
      command: process.argv[2],
      message: err.message,
      stack: (err.stack ?? '').split('\n').slice(0, 8),
    });
    process.exit(1);
  },
);
