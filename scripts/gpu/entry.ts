/**
 * The GPU check of ncl-lab, bundled into one file by scripts/gpu/prepare.sh and run on a machine without Node.js or
 * node_modules (scripts/gpu/run.sh). One sub-command per run, so a crash in one leaves the others standing; each
 * result is one JSON line on stdout (`{"kind": ..., ...}`), logs go to stderr.
 *
 *   node ncl-gpu.js info                         backend chosen (NCL_BACKEND), adapter, Dawn flags
 *   node ncl-gpu.js stepcheck                    the compiled WebGPU step vs the eager step on cpu (ResNet-8 / -32,
 *                                                K = 2, T = 2 and 4, NCL++; scripts/gpu/stepcheck.ts)
 *   node ncl-gpu.js gradcheck                    tfjs-backend-webgpu's own kernels: gradients vs cpu (small net,
 *                                                ResNet-8)
 *   node ncl-gpu.js bench [--model resnet32] [--classes 100] [--batch 128] [--experts 1] [--copies 1]
 *       [--method ce|nclpp] [--compiled true|false] [--steps 20] [--warmup 3]
 *                                                full training steps (the lib's runBench, as `ncl bench`)
 *   node ncl-gpu.js gpubench [--round 1] [bench's options] [--pipelined 200] [--synced 50] [--timed 20]
 *                                                the compiled step timed as bench_torch_gpu.py times PyTorch:
 *                                                pipelined and synced, GPU ms per pass (./gpubench.ts)
 *   node ncl-gpu.js trainrun [--protocol smoke] [--method nclpp] [--epochs N]
 *                                                the lib's trainRun (training, then evaluation)
 *
 * Everything reads tensors asynchronously (`await t.data()`): the webgpu backend cannot read synchronously under
 * Node. The backend is the one initBackend picks, or NCL_BACKEND; Dawn's addon is found through NCL_DAWN_NODE.
 */
import { tf } from '../../lib/src/tf';
import { initBackend, backendInfo, tryWebGPU } from 'ncl-kernels';
import { getProtocol } from '../../lib/src/train/protocols';
import { trainRun } from '../../lib/src/train/trainer';
import { compiledStepStats } from '../../lib/src/train/compiled-step';
import { gradCheck } from './gradcheck';
import { stepCheck, STEP_CASES } from './stepcheck';

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

/** The lib's own trainRun (default: smoke protocol, NCL++); it reads tensors asynchronously, so webgpu works. */
async function libTrainRun(a: Args): Promise<void> {
  const summary = await backendSummary();
  const t0 = performance.now();
  const c = getProtocol(a.protocol ?? 'smoke', a.method ?? 'nclpp', Number(a.seed ?? 0));
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
    epochSeconds: metrics.train.epochs.map((e) => e.seconds),
    imgPerSec: metrics.train.imgPerSec,
    compiledSteps: compiledStepStats.steps,
    seconds: (performance.now() - t0) / 1000,
  });
}

/** The training step a bench times: model, classes, batch, experts K, copies T, method (ResNet-32, 100 classes, 128). */
function stepShape(a: Args) {
  return {
    model: a.model ?? 'resnet32',
    classes: Number(a.classes ?? 100),
    batch: Number(a.batch ?? 128),
    experts: Number(a.experts ?? 1),
    copies: Number(a.copies ?? 1),
    method: (a.method ?? 'ce') as 'ce' | 'nclpp',
  };
}

/** The lib's runBench (what `ncl bench` prints). */
async function bench(a: Args): Promise<void> {
  const summary = await backendSummary();
  const { runBench } = await import('../../lib/src/train/bench');
  const r = await runBench({
    ...stepShape(a),
    compiled: a.compiled !== 'false',
    steps: Number(a.steps ?? 20),
    warmup: Number(a.warmup ?? 3),
    profile: a.profile !== 'false',
    backend: summary.backend as string,
  });
  emit('bench', { ...summary, ...r });
}

/** The compiled step timed as PyTorch is in bench_torch_gpu.py (./gpubench.ts). */
async function gpubench(a: Args): Promise<void> {
  const summary = await backendSummary();
  const { gpuBench } = await import('./gpubench');
  const r = await gpuBench({
    ...stepShape(a),
    warmup: Number(a.warmup ?? 20),
    pipelined: Number(a.pipelined ?? 200),
    synced: Number(a.synced ?? 50),
    timed: Number(a.timed ?? 20),
  });
  emit('gpubench', { round: Number(a.round ?? 1), ...summary, ...r });
}

/** The compiled step against the eager one on cpu (scripts/gpu/stepcheck.ts). */
async function stepcheck(): Promise<void> {
  const info = await initBackend();
  for (const c of STEP_CASES)
    emit('stepcheck', { device: info.device, ...(await stepCheck(c, info.choice, 'cpu')) });
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
    case 'stepcheck':
      await stepcheck();
      break;
    case 'bench':
      await bench(a);
      break;
    case 'gpubench':
      await gpubench(a);
      break;
    case 'trainrun':
      await libTrainRun(a);
      break;
    default:
      throw new Error(
        `unknown command '${cmd}'; use info, stepcheck, gradcheck, bench, gpubench or trainrun`,
      );
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
