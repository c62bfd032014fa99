/**
 * `ncl bench`: time the trainer's own training step (./step.ts: forward, the loss, backward, ./sgd.ts's SGD with
 * momentum 0.9 and weight decay 2e-4) on a (K-expert) CIFAR ResNet on the current backend. The loss is the trainer's
 * (./loss.ts, from the paper's CIFAR-100-LT config): softmax cross-entropy summed over experts, or NCL++ with T
 * copies. Random inputs and labels; after warm-up (XNNPACK operator set-up, shader compilation, JIT), each timed step
 * is one step waited for. Prints img/s, ms/step, CPU ms/step, effective GFLOP/s (the model's conv + linear FLOPs × 3
 * for forward + both gradients) and the top kernels of one more, profiled step. On webgpu the step is the compiled
 * one (./compiled-step.ts: the network as one plan of WGSL dispatches, the loss in tfjs) unless `compiled: false`;
 * the result then also counts its dispatches per step. scripts/bench_torch.py (CPU) and
 * scripts/gpu/bench_torch_gpu.py (CUDA) are the PyTorch baselines of the same model and step.
 */
import { tf } from '../tf';
import { BACKENDS, BackendChoice, backendInfo, initBackend } from '../backend';
import { formatKernelProfile, profileKernelsAsync } from 'ncl-kernels';
import { createModel, modelFlops, ModelName, MODEL_NAMES } from '../models';
import { TrainConfig } from './config';
import { protocolConfig } from './protocols';
import { configLoss } from './loss';
import { compiledStep, compiledStepStats, compiledStepWanted } from './compiled-step';
import { sgdStep } from './step';
import { SGD } from './sgd';

export interface BenchOptions {
  /** Registered model name (resnet8 … resnet56); the CLI maps `mini` to resnet8, 28×28×1, 10 classes. */
  model: string;
  classes: number;
  batch: number;
  /** Base width (16). */
  width?: number;
  /** Input channels (3). */
  inChannels?: number;
  /** Input height = width (32). */
  size?: number;
  /** Timed steps (5). */
  steps?: number;
  /** Untimed warm-up steps (2). */
  warmup?: number;
  /** tfjs backend to run on (initialised if it is not the current one); default: the current / best one. */
  backend?: string;
  /** K experts (1). */
  experts?: number;
  /** T augmented copies per image (1): every step forwards batch·T rows, and img/s counts rows. */
  copies?: number;
  /** Learning rate of the SGD step (0.1; momentum 0.9, weight decay 2e-4 as the paper's CIFAR runs). */
  lr?: number;
  /** Profile one extra step for the top kernels (true). */
  profile?: boolean;
  /** The loss: 'ce' (softmax cross-entropy, summed over experts; default) or 'nclpp' (NCL++ with `copies` copies). */
  method?: 'ce' | 'nclpp';
  /** On webgpu: the compiled step (default true; NCL_COMPILED_STEP=0 also turns it off). */
  compiled?: boolean;
}

export interface BenchKernel {
  name: string;
  /** ms in this kernel during the profiled step. */
  ms: number;
  /** Share of the profiled step's kernel time. */
  share: number;
  calls: number;
}

export interface BenchResult {
  /** Rows (images × copies) per second, from the median step. */
  imgPerSec: number;
  /** Median ms per training step. */
  msPerStep: number;
  /** Best (fastest) step's img/s. */
  bestImgPerSec: number;
  /** Effective GFLOP/s: 3 × forward FLOPs per row × rows / median step time. */
  gflops: number;
  backend: string;
  device: string;
  threads: number | null;
  model: string;
  batch: number;
  classes: number;
  experts: number;
  copies: number;
  width: number;
  size: number;
  inChannels: number;
  steps: number;
  /** All timed steps, ms. */
  stepMs: number[];
  /**
   * Median CPU time of this process per step, ms (all threads). On a machine shared with other work it is the less
   * noisy measure: for a single-threaded backend it is what the wall time per step would be on an idle core.
   */
  cpuMsPerStep: number;
  /** Training FLOPs per row (3 × forward), all experts. */
  trainFlopsPerImg: number;
  /** tf.memory().numTensors after each timed step is the same (no leaks). */
  tensorsStable: boolean;
  numTensors: number;
  /** Loss after the last step (finite unless training diverged). */
  loss: number;
  topKernels: BenchKernel[];
  method: 'ce' | 'nclpp';
  /** Did the step run as the compiled WebGPU plan? */
  compiled: boolean;
  /** GPU dispatches per step of the compiled plan (the loss's tfjs kernels not counted); null when not compiled. */
  dispatchesPerStep: number | null;
  /** tfjs kernels run per step (the loss's, when compiled; every op's otherwise), from the profiled step. */
  kernelCallsPerStep: number | null;
}

async function ensureBackend(name: string | undefined): Promise<void> {
  if (name === undefined) {
    if (!backendInfo()) await initBackend({ quiet: true });
    return;
  }
  if (tf.getBackend() === name && backendInfo()?.backend === name) return;
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new Error(`unknown backend '${name}'; use one of ${BACKENDS.join(', ')}`);
  }
  await initBackend({ backend: name as BackendChoice, quiet: true });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  if (!(MODEL_NAMES as readonly string[]).includes(opts.model)) {
    throw new Error(`unknown model '${opts.model}'; use one of ${MODEL_NAMES.join(', ')}`);
  }
  await ensureBackend(opts.backend);
  const width = opts.width ?? 16;
  const inChannels = opts.inChannels ?? 3;
  const size = opts.size ?? 32;
  const steps = Math.max(1, opts.steps ?? 5);
  const warmup = Math.max(0, opts.warmup ?? 2);
  const experts = opts.experts ?? 1;
  const copies = opts.copies ?? 1;
  const lr = opts.lr ?? 0.1;
  const rows = opts.batch * copies;

  const method = opts.method ?? 'ce';
  const model = createModel(
    { name: opts.model as ModelName, numClasses: opts.classes, inChannels, width, numExperts: experts },
    1,
  );
  const x = tf.randomNormal([rows, size, size, inChannels], 0, 1, 'float32', 7) as tf.Tensor4D;
  // Labels copy-major: the T copies of image i share its label. Class counts long-tailed (IF 100), for NCL++.
  const labels = tf.tidy(() =>
    tf.tile(tf.randomUniform([opts.batch], 0, opts.classes, 'int32', 11), [copies]),
  ) as tf.Tensor1D;
  const counts = Array.from({ length: opts.classes }, (_, i) =>
    Math.round(500 * Math.pow(0.01, i / Math.max(1, opts.classes - 1))),
  );
  // The trainer's loss and step: the paper's CIFAR-100-LT loss settings (λ, β, mode) with T = `copies`.
  const input = protocolConfig('paper-cifar100-lt', method);
  const trainLoss = configLoss(
    TrainConfig.parse({ ...input, loss: { ...input.loss, numCopies: copies } }),
    opts.classes,
  );
  const sgd = new SGD(new Map(model.store.trainable), 0.9, 2e-4);
  const eager = sgdStep(model, trainLoss, sgd, [...model.store.trainable.values()], counts);
  const compiled =
    (opts.compiled ?? true) && compiledStepWanted()
      ? compiledStep(model, trainLoss, sgd, counts, eager)
      : null;
  const trainStep = compiled ?? eager;
  const compiledBefore = compiledStepStats.steps;
  let globalStep = 0;
  // The step disposes its batch: each step gets its own handles on the same data.
  const step = async (): Promise<number> => {
    const batch = { x: tf.clone(x), y: tf.clone(labels), indices: new Int32Array(opts.batch) };
    const r = await trainStep([batch], lr, globalStep++);
    return r.totals[r.totals.length - 1];
  };

  try {
    for (let i = 0; i < warmup; i++) await step();
    const stepMs: number[] = [];
    const cpuMs: number[] = [];
    const tensorCounts: number[] = [];
    let loss = NaN;
    for (let i = 0; i < steps; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      loss = await step();
      stepMs.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuMs.push((c.user + c.system) / 1000);
      tensorCounts.push(tf.memory().numTensors);
    }
    let topKernels: BenchKernel[] = [];
    let kernelCalls: number | null = null;
    if (opts.profile ?? true) {
      // Kernel calls are timed as they run (dispatch time on GPU backends); the compiled plan's dispatches are not
      // tfjs kernels: only the loss's show.
      const p = await profileKernelsAsync(step);
      topKernels = p.kernels.map((k) => ({ name: k.name, ms: k.ms, share: k.share, calls: k.calls }));
      kernelCalls = p.kernels.reduce((a, k) => a + k.calls, 0);
      tensorCounts.push(tf.memory().numTensors);
    }
    const msPerStep = median(stepMs);
    const trainFlopsPerImg = modelFlops(model, size, size).train;
    const info = backendInfo();
    return {
      imgPerSec: (rows * 1000) / msPerStep,
      msPerStep,
      bestImgPerSec: (rows * 1000) / Math.min(...stepMs),
      gflops: (trainFlopsPerImg * rows) / (msPerStep / 1000) / 1e9,
      backend: tf.getBackend(),
      device: info?.device ?? tf.getBackend(),
      threads: info?.threads ?? null,
      model: opts.model,
      batch: opts.batch,
      classes: opts.classes,
      experts,
      copies,
      width,
      size,
      inChannels,
      steps,
      stepMs,
      cpuMsPerStep: median(cpuMs),
      trainFlopsPerImg,
      tensorsStable: tensorCounts.every((c) => c === tensorCounts[0]),
      numTensors: tensorCounts[tensorCounts.length - 1],
      loss,
      topKernels,
      method,
      compiled: compiledStepStats.steps > compiledBefore,
      dispatchesPerStep:
        compiledStepStats.steps > compiledBefore ? compiledStepStats.dispatchesPerStep : null,
      kernelCallsPerStep: kernelCalls,
    };
  } finally {
    compiled?.dispose();
    sgd.dispose();
    trainLoss.dispose();
    tf.dispose([x, labels]);
    model.dispose();
  }
}

/** Human-readable summary of a bench result (a few lines). */
export function formatBench(r: BenchResult, top = 8): string {
  const rowsNote = r.copies > 1 ? ` × ${r.copies} copies` : '';
  const step = r.compiled
    ? `compiled WebGPU step: ${r.dispatchesPerStep} dispatches/step + ${r.kernelCallsPerStep ?? '?'} tfjs kernels (loss)`
    : `eager tfjs step${r.kernelCallsPerStep != null ? `: ${r.kernelCallsPerStep} kernels/step` : ''}`;
  const lines = [
    `bench ${r.model} (width ${r.width}, ${r.size}×${r.size}×${r.inChannels}, ${r.classes} classes, ` +
      `${r.experts} expert${r.experts > 1 ? 's' : ''}) batch ${r.batch}${rowsNote}, ${r.method}, on ${r.backend} ` +
      `[${r.device}${r.threads ? `, ${r.threads} thread${r.threads > 1 ? 's' : ''}` : ''}]`,
    `  ${r.imgPerSec.toFixed(1)} img/s   ${r.msPerStep.toFixed(0)} ms/step (median of ${r.steps}; best ` +
      `${r.bestImgPerSec.toFixed(1)} img/s)   ${r.gflops.toFixed(1)} GFLOP/s effective ` +
      `(${((r.trainFlopsPerImg / 3) * 1e-6).toFixed(1)} MFLOP/img forward × 3)`,
  ];
  lines.push(`  ${step}; CPU ${r.cpuMsPerStep.toFixed(1)} ms/step`);
  // Less CPU than wall time on a single-threaded backend: the process waited for a core (more CPU than wall time is
  // V8's background compiler / GC threads, or a multi-threaded backend).
  if (r.backend !== 'webgpu' && r.cpuMsPerStep < 0.8 * r.msPerStep) {
    lines.push(
      `  CPU time ${r.cpuMsPerStep.toFixed(0)} ms/step (wall ${r.msPerStep.toFixed(0)}): other work shares the CPU?`,
    );
  }
  if (!r.tensorsStable) lines.push(`  warning: tensor count changed between steps (now ${r.numTensors})`);
  if (r.topKernels.length) {
    const kernelMs = r.topKernels.reduce((a, k) => a + k.ms, 0);
    lines.push(`  top kernels (one profiled step, ${kernelMs.toFixed(0)} ms in kernels):`);
    lines.push(formatKernelProfile({ kernels: r.topKernels, kernelMs }, top));
  }
  return lines.join('\n');
}
