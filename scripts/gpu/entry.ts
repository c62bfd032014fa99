/**
 * The GPU check of ncl-lab, bundled into one file by scripts/gpu/prepare.sh and run on a machine without Node.js or
 * node_modules (scripts/gpu/device.sh). One sub-command per run, so a crash in one leaves the others standing; each
 * result is one JSON line on stdout (`{"kind": ..., ...}`), logs go to stderr.
 *
 *   node ncl-gpu.js info                         backend chosen (NCL_BACKEND), adapter, Dawn flags
 *   node ncl-gpu.js gradcheck                    gradients on the current backend vs cpu (small net, ResNet-8)
 *   node ncl-gpu.js bench [--model resnet32] [--classes 100] [--batch 128] [--steps 20] [--warmup 3]
 *                                                full training steps (forward, softmax CE, backward, SGD), img/s
 *   node ncl-gpu.js smoke|trainrun [--protocol smoke] [--method nclpp] [--epochs N]
 *                                                the lib's trainRun (the smoke NCL++ training, then evaluation)
 *   node ncl-gpu.js libbench                     the lib's runBench (ncl bench) for ResNet-32, batch 128
 *
 * Everything reads tensors asynchronously (`await t.data()`): the webgpu backend cannot read synchronously under
 * Node. The backend is the one initBackend picks, or NCL_BACKEND; Dawn's addon is found through NCL_DAWN_NODE.
 */
import { tf } from '../../lib/src/tf';
import { initBackend, backendInfo, tryWebGPU } from 'ncl-kernels';
import { createModel } from '../../lib/src/models/registry';
import { modelFlops } from '../../lib/src/models/flops';
import { SGD } from '../../lib/src/train/sgd';
import { getProtocol } from '../../lib/src/train/protocols';
import { trainRun } from '../../lib/src/train/trainer';
import type { Method } from '../../lib/src/train/config';
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

/** The lib's own trainRun (default: smoke protocol, NCL++); it reads tensors asynchronously, so webgpu works. */
async function libTrainRun(a: Args): Promise<void> {
  const summary = await backendSummary();
  const t0 = performance.now();
  const c = getProtocol(a.protocol ?? 'smoke', (a.method ?? 'nclpp') as Method, Number(a.seed ?? 0));
  if (a.epochs) c.optim.epochs = Number(a.epochs);
  const { metrics, model } = await trainRun(c, { progress: true });
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
