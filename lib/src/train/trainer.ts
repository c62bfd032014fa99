/**
 * The training loop: K experts, T augmented copies of every image fed to every expert, any loss function.
 *
 *   const { metrics, model } = await trainRun(getProtocol('mini', 'nclpp'), { outDir: 'runs/x' });
 *
 * One run is fully determined by its config: the data subset, the initial weights and every batch and augmentation
 * depend only on its seeds, so the same config on the same backend gives bit-identical metrics, and a run resumed
 * from its last checkpoint (written after every epoch) finishes exactly as an uninterrupted one.
 *
 * Files in `outDir`: config.json (at start), checkpoint.bin (each epoch, atomic), subset.json, and at the end
 * metrics.json, per_class.csv and analysis.json.gz. Nothing is written before the config has been validated.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tf } from '../tf';
import * as data from '../data';
import { createModel } from '../models/registry';
import type { MultiExpert } from '../models/experts';
import { evaluateModel, evaluatePredictions, predictAll, EvalResult } from '../eval/metrics';
import { analyzeModel } from '../eval/analysis';
import {
  lossForMethod,
  LearnableLossWeights,
  numHardFromRatio,
  offlineDistillation,
  averageTeacherProbs,
} from '../losses';
import { workspaceRoot } from '../data/locate';
import type { LossFn } from '../losses';
import { TrainConfig, configHash } from './config';
import { learningRate } from './schedule';
import { SGD } from './sgd';
import { atomicWrite, loadCheckpoint, restoreVariables, saveCheckpoint } from './checkpoint';
import { Progress } from './progress';
import { writePerClassCSV } from './report';

export interface PreparedData {
  dataset: data.Dataset;
  train: data.ImageSet;
  test: data.ImageSet;
  classCounts: number[];
  subset: data.LongTailSubset;
}

/** First `perClass` test images of each class, in order (a deterministic, balanced cap). */
function capPerClass(set: data.ImageSet, numClasses: number, perClass: number): data.ImageSet {
  const seen = new Array<number>(numClasses).fill(0);
  const idx: number[] = [];
  for (let i = 0; i < set.n; i++) if (seen[set.labels[i]]++ < perClass) idx.push(i);
  return data.subsetImages(set, idx);
}

/** Load the dataset and build the long-tailed training subset of a config. */
export async function prepareData(c: TrainConfig, opts: { progress?: boolean } = {}): Promise<PreparedData> {
  const dataset = await data.loadDataset(c.data.dataset, { progress: opts.progress });
  const subset = c.data.subsetFile
    ? data.loadSubset(c.data.subsetFile)
    : data.longTailSubset(dataset, {
        imbalanceFactor: c.data.imbalanceFactor,
        seed: c.data.subsetSeed ?? c.seed,
        fraction: c.data.fraction,
      });
  if (c.data.subsetFile) data.checkSubset(dataset, subset, c.data.subsetFile);
  const train = data.subsetImages(dataset.train, subset.indices);
  const test = c.data.testPerClass
    ? capPerClass(dataset.test, dataset.numClasses, c.data.testPerClass)
    : dataset.test;
  return { dataset, train, test, classCounts: subset.classCounts, subset };
}

export interface StepInfo {
  epoch: number;
  step: number;
  globalStep: number;
  lr: number;
  total: number;
  terms: Record<string, number>;
}

export interface EpochInfo {
  epoch: number;
  lr: number;
  /** Mean of each logged term over the epoch's steps (and `total`). */
  losses: Record<string, number>;
  imgPerSec: number;
  seconds: number;
  numTensors: number;
  /**
   * The processor that trained this epoch (`os.cpus()[0].model`, then the backend), recorded since 2026-11-27: a run
   * resumed on another machine (e.g. with `ncl train --time-limit`) says which epochs ran where.
   */
  host?: string;
  test?: { top1: number; many: number | null; medium: number | null; few: number | null };
}

export interface Metrics {
  config: TrainConfig;
  configHash: string;
  backend: string;
  classCounts: number[];
  /**
   * The training subset: its size and `data.subsetDigest` (runs since 2026-11-27; the indices themselves are in the
   * run's subset.json, which is not committed: the config regenerates them).
   */
  subset?: { images: number; sha256: string };
  /**
   * Final values of the trainable variables the loss owns, by name (e.g. Table 6's w_intra, w_inter, whose softmax
   * is λ1, λ2); absent when the loss has none (and in runs before 2026-11-27, unless recorded afterwards from the
   * run's final checkpoint by `ncl eval --record-loss-variables`).
   */
  lossVariables?: Record<string, number[]>;
  /** Where `lossVariables` came from when not written at the end of training: 'checkpoint.bin'. */
  lossVariablesFrom?: string;
  test: EvalResult;
  /** Accuracy on the long-tailed training set (no augmentation), when `eval.trainAccuracy`. */
  trainSet?: EvalResult;
  train: { epochs: EpochInfo[]; seconds: number; imgPerSec: number };
}

export interface TrainOptions {
  /** Where to write config, checkpoints and metrics; null keeps everything in memory. */
  outDir?: string | null;
  /** Continue from `outDir/checkpoint.bin` if present (and return the finished metrics if the run is complete). */
  resume?: boolean;
  /** The loss; default `lossFromConfig(config)` (losses.lossForMethod with the config's loss section). */
  lossFn?: LossFn;
  /** Extra trainable variables the custom loss owns (optimised and checkpointed with the model). */
  lossVariables?: Record<string, tf.Variable>;
  /** Already prepared data (saves re-reading the dataset across runs of a sweep). */
  prepared?: PreparedData;
  /** Show a progress bar (TTY) or one line per epoch (otherwise); default true. */
  progress?: boolean;
  onStep?: (s: StepInfo) => void;
  onEpoch?: (e: EpochInfo) => void;
  /** Also write analysis.json.gz (per-class KL, hardest negatives, features; eval/analysis.ts); default true with outDir. */
  analysis?: boolean;
  /** Root that `loss.teachers` folders are relative to (default: the workspace's results/). */
  resultsRoot?: string;
  /**
   * Stop early, at an epoch boundary, when the next epoch (estimated by the last one's duration) would end after this
   * time (ms since 1970, as `Date.now()`): the epoch's checkpoint is written, then `TrainingStopped` is thrown. Needs
   * `outDir`; continue later with `resume`. At least one epoch is trained per call.
   */
  deadline?: number;
}

export class TrainingError extends Error {}

/** Thrown by `trainRun` when `deadline` stopped it at an epoch boundary; the checkpoint holds `epochsDone` epochs. */
export class TrainingStopped extends Error {
  constructor(
    readonly epochsDone: number,
    readonly epochs: number,
    readonly checkpoint: string,
  ) {
    super(
      `stopped after epoch ${epochsDone}/${epochs} (time limit); ${checkpoint} continues it with --resume`,
    );
    this.name = 'TrainingStopped';
  }
}

function hostName(): string {
  return `${os.cpus()[0]?.model?.trim() || os.arch()} (${tf.getBackend()})`;
}

interface CheckpointState {
  configHash: string;
  nextEpoch: number;
  epochs: EpochInfo[];
  seconds: number;
  images: number;
}

/** Train one run. Returns the metrics and the trained model (the caller disposes it). */
export async function trainRun(
  config: TrainConfig,
  opts: TrainOptions = {},
): Promise<{ metrics: Metrics; model: MultiExpert }> {
  const c = TrainConfig.parse(config);
  const hash = configHash(c);
  const outDir = opts.outDir ?? null;
  const ckptFile = outDir ? path.join(outDir, 'checkpoint.bin') : null;
  const prep = opts.prepared ?? (await prepareData(c, { progress: opts.progress }));
  const { dataset, train, test, classCounts } = prep;
  const teachers = c.loss.teachers.length
    ? loadTeachers(c, opts.resultsRoot, dataset.numClasses, train.channels)
    : null;
  let teacherProbs: tf.Tensor2D | null = null;
  const built = opts.lossFn || teachers ? null : lossFromConfig(c, dataset.numClasses);
  const lossFn: LossFn =
    opts.lossFn ??
    (teachers
      ? (logits, labels, counts) => {
          const r = offlineDistillation(logits, labels, counts, teacherProbs!, {
            lambda: c.loss.lambda,
            mode: c.loss.mode,
          });
          return { total: r.total, terms: { bil: r.bil, distill: r.distill } };
        }
      : built!.fn);
  const lossVars = new Map(Object.entries(built ? built.variables : (opts.lossVariables ?? {})));

  const model = modelFromConfig(c, dataset.numClasses, train.channels);
  const params = new Map<string, tf.Variable>(model.store.trainable);
  for (const [n, v] of lossVars) params.set(`loss.${n}`, v);
  const vars = [...params.values()];
  const sgd = new SGD(params, c.optim.momentum, c.optim.weightDecay);
  const batchOpts = batchOptions(c, dataset);
  const batchesPerEpoch = data.numBatches(train, batchOpts);
  const stepsPerEpoch = Math.min(
    Math.floor(batchesPerEpoch / c.optim.accumulate),
    c.optim.maxStepsPerEpoch ?? Number.POSITIVE_INFINITY,
  );
  if (stepsPerEpoch < 1) {
    throw new TrainingError(
      `data.batchSize=${c.data.batchSize} × optim.accumulate=${c.optim.accumulate} exceeds the ${train.n} training images`,
    );
  }

  const state: CheckpointState = { configHash: hash, nextEpoch: 0, epochs: [], seconds: 0, images: 0 };
  const allVars = () => {
    const m = new Map<string, tf.Tensor>(model.store.all());
    for (const [n, v] of lossVars) m.set(`loss.${n}`, v);
    for (const [n, b] of sgd.buffers) m.set(`sgd.${n}`, b);
    return m;
  };
  if (outDir) {
    if (opts.resume && ckptFile && fs.existsSync(ckptFile)) {
      const loaded = loadCheckpoint<CheckpointState>(ckptFile);
      if (loaded.state.configHash !== hash) {
        throw new TrainingError(
          `${ckptFile}: checkpoint belongs to another config (hash ${loaded.state.configHash}, this run ${hash})`,
        );
      }
      const named = new Map<string, tf.Variable>(model.store.all());
      for (const [n, v] of lossVars) named.set(`loss.${n}`, v);
      restoreVariables(ckptFile, loaded, named);
      for (const name of params.keys()) {
        const b = loaded.tensors.get(`sgd.${name}`);
        if (b) sgd.setBuffer(name, tf.tensor(b.data, b.shape));
      }
      Object.assign(state, loaded.state);
    } else {
      fs.mkdirSync(outDir, { recursive: true });
    }
    atomicWrite(path.join(outDir, 'config.json'), JSON.stringify(c, null, 2) + '\n');
    data.saveSubset(path.join(outDir, 'subset.json'), prep.subset);
  }

  const progress = new Progress(opts.progress ?? true, c.optim.epochs, stepsPerEpoch);
  let globalStep = state.nextEpoch * stepsPerEpoch;
  let stopped = false; // by opts.deadline, at an epoch boundary
  for (let epoch = state.nextEpoch; epoch < c.optim.epochs; epoch++) {
    const t0 = Date.now();
    const sums: Record<string, number> = {};
    let steps = 0;
    let micro = 0;
    let acc: Record<string, tf.Tensor> | null = null;
    let lr = learningRate(c.optim, epoch, 0);
    progress.startEpoch(epoch);
    for (const batch of data.trainBatches(train, batchOpts, epoch)) {
      if (steps >= stepsPerEpoch) {
        tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
        break;
      }
      lr = learningRate(c.optim, epoch, steps / stepsPerEpoch);
      if (teachers) {
        teacherProbs?.dispose();
        teacherProbs = tf.tidy(() =>
          averageTeacherProbs(
            teachers.map((t) => t.apply(batch.x, false)[0].logits),
            classCounts,
          ),
        );
      }
      built?.onStep(globalStep);
      const { value, grads, terms, names } = computeGrads(model, lossFn, batch, classCounts, vars);
      tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
      const termValues = await terms.data();
      terms.dispose();
      const total = (await value.data())[0];
      value.dispose();
      if (!Number.isFinite(total)) {
        tf.dispose(Object.values(grads));
        if (acc) tf.dispose(Object.values(acc));
        throw new TrainingError(
          `loss is ${total} at epoch ${epoch + 1}, step ${steps + 1} (global step ${globalStep + 1}); stopping`,
        );
      }
      if (c.optim.accumulate === 1) {
        sgd.step(grads, lr);
        tf.dispose(Object.values(grads));
      } else {
        acc = accumulate(acc, grads);
        if (++micro < c.optim.accumulate) continue;
        const mean = tf.tidy(() =>
          Object.fromEntries(Object.entries(acc!).map(([k, g]) => [k, g.div(c.optim.accumulate)])),
        );
        sgd.step(mean, lr);
        tf.dispose([...Object.values(acc!), ...Object.values(mean)]);
        acc = null;
        micro = 0;
      }
      const named: Record<string, number> = { total };
      names.forEach((n, i) => (named[n] = termValues[i]));
      for (const [k, v] of Object.entries(named)) sums[k] = (sums[k] ?? 0) + v;
      steps++;
      globalStep++;
      state.images += c.data.batchSize * c.optim.accumulate;
      progress.step(
        steps,
        named,
        (steps * c.data.batchSize * c.optim.accumulate) / ((Date.now() - t0) / 1000),
      );
      opts.onStep?.({ epoch, step: steps, globalStep, lr, total, terms: named });
    }
    if (acc) tf.dispose(Object.values(acc));
    const seconds = (Date.now() - t0) / 1000;
    state.seconds += seconds;
    const info: EpochInfo = {
      epoch: epoch + 1,
      lr,
      losses: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, steps)])),
      imgPerSec: (steps * c.data.batchSize * c.optim.accumulate) / seconds,
      seconds,
      numTensors: tf.memory().numTensors,
      host: hostName(),
    };
    if (c.eval.every > 0 && (epoch + 1) % c.eval.every === 0 && epoch + 1 < c.optim.epochs) {
      const r = await evaluateModel(model, test, classCounts, {
        batchSize: c.eval.batchSize,
        mean: dataset.mean,
        std: dataset.std,
      });
      info.test = { top1: r.top1, many: r.many, medium: r.medium, few: r.few };
    }
    state.epochs.push(info);
    state.nextEpoch = epoch + 1;
    progress.endEpoch(info);
    opts.onEpoch?.(info);
    if (ckptFile) await saveCheckpoint(ckptFile, allVars(), state);
    if (
      opts.deadline != null &&
      ckptFile &&
      epoch + 1 < c.optim.epochs &&
      Date.now() + seconds * 1000 > opts.deadline
    ) {
      stopped = true;
      break;
    }
  }
  progress.stop();
  teacherProbs?.dispose();
  for (const t of teachers ?? []) t.dispose();
  if (stopped) {
    model.dispose();
    sgd.dispose();
    built?.dispose();
    throw new TrainingStopped(state.nextEpoch, c.optim.epochs, ckptFile!);
  }

  const evalOpts = { batchSize: c.eval.batchSize, mean: dataset.mean, std: dataset.std };
  const testPredictions = await predictAll(model, test, evalOpts);
  const result = evaluatePredictions(testPredictions, classCounts);
  const trainSet = c.eval.trainAccuracy
    ? await evaluateModel(model, train, classCounts, evalOpts)
    : undefined;
  const metrics: Metrics = {
    config: c,
    configHash: hash,
    backend: tf.getBackend(),
    classCounts,
    subset: { images: prep.subset.indices.length, sha256: data.subsetDigest(prep.subset) },
    ...(lossVars.size
      ? { lossVariables: Object.fromEntries([...lossVars].map(([n, v]) => [n, Array.from(v.dataSync())])) }
      : {}),
    test: result,
    ...(trainSet ? { trainSet } : {}),
    train: {
      epochs: state.epochs,
      seconds: state.seconds,
      imgPerSec: state.images / Math.max(1e-9, state.seconds),
    },
  };
  if (outDir) {
    await writePerClassCSV(path.join(outDir, 'per_class.csv'), dataset.classNames, classCounts, result);
    if (opts.analysis ?? true) {
      const a = await analyzeModel(model, test, {
        batchSize: c.eval.batchSize,
        mean: dataset.mean,
        std: dataset.std,
        seed: c.seed,
        predictions: testPredictions,
      });
      atomicWrite(path.join(outDir, 'analysis.json.gz'), zlib.gzipSync(JSON.stringify(a) + '\n'));
    }
    atomicWrite(path.join(outDir, 'metrics.json'), JSON.stringify(metrics, null, 1) + '\n');
  }
  sgd.dispose();
  built?.dispose();
  return { metrics, model };
}

/** The training batches of a config: its batch size, T copies, augmentation and seed, shuffled, last batch dropped. */
export function batchOptions(c: TrainConfig, dataset: data.Dataset): data.BatchOptions {
  return {
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
}

/** Loss and gradients of one batch (mixup: λ·L(y) + (1−λ)·L(y_b)). Terms come back stacked in one tensor. */
function computeGrads(
  model: MultiExpert,
  lossFn: LossFn,
  batch: data.Batch,
  classCounts: number[],
  vars: tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor>; terms: tf.Tensor1D; names: string[] } {
  let terms: tf.Tensor1D | null = null;
  let names: string[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(batch.x, true).map((o) => o.logits);
    let out = lossFn(logits, batch.y, classCounts);
    if (batch.mixup) {
      const lam = batch.mixup.lam;
      const outB = lossFn(logits, batch.mixup.yB, classCounts);
      out = {
        total: out.total.mul(lam).add(outB.total.mul(1 - lam)),
        terms: Object.fromEntries(
          Object.entries(out.terms).map(([k, v]) => [k, v.mul(lam).add(outB.terms[k].mul(1 - lam))]),
        ),
      };
    }
    names = Object.keys(out.terms);
    terms = tf.keep(names.length ? tf.stack(names.map((k) => out.terms[k])) : tf.zeros([0])) as tf.Tensor1D;
    return out.total;
  }, vars);
  return { value, grads, terms: terms!, names };
}

function accumulate(
  acc: Record<string, tf.Tensor> | null,
  grads: Record<string, tf.Tensor>,
): Record<string, tf.Tensor> {
  if (!acc) return grads;
  const out = tf.tidy(() => Object.fromEntries(Object.entries(acc).map(([k, g]) => [k, g.add(grads[k])])));
  tf.dispose([...Object.values(acc), ...Object.values(grads)]);
  return out;
}

/**
 * The loss of a config: losses.lossForMethod(method) with λ, C_hard (numHard, else β·C), T, mode and the extra
 * switches of `loss.options`. `options.learnable: true` makes (λ1, λ2) learnable (Table 6): two named variables.
 */
export function lossFromConfig(
  c: TrainConfig,
  numClasses: number,
): {
  fn: LossFn;
  variables: Record<string, tf.Variable>;
  onStep: (globalStep: number) => void;
  dispose: () => void;
} {
  const { learnable, ...options } = c.loss.options as { learnable?: boolean } & Record<string, unknown>;
  const weights = learnable ? new LearnableLossWeights() : null;
  const overrides = {
    numCopies: c.loss.numCopies,
    lambda: c.loss.lambda,
    mode: c.loss.mode,
    numHard: numHardOf(c, numClasses),
    ...options,
    ...(weights ? { learnable: weights } : {}),
  };
  // Random hard categories (Fig. 6b) are drawn afresh at every step, from a seed of (run seed, step): deterministic,
  // and the same after a resume.
  const random = options.hardMining === 'random';
  let fn = lossForMethod(c.method, overrides);
  const onStep = (globalStep: number) => {
    if (random)
      fn = lossForMethod(c.method, {
        ...overrides,
        seed: (Math.imul(c.seed + 1, 1_000_003) + globalStep) | 0,
      });
  };
  return {
    fn: (logits, labels, counts) => fn(logits, labels, counts),
    variables: weights ? { w_intra: weights.intra, w_inter: weights.inter } : {},
    onStep,
    dispose: () => weights?.dispose(),
  };
}

/** C_hard of a config: `loss.numHard`, else β·C (losses.numHardFromRatio). */
export function numHardOf(c: TrainConfig, numClasses: number): number {
  return c.loss.numHard ?? numHardFromRatio(c.loss.beta, numClasses);
}

/** The K-expert model a config describes, for a dataset with `numClasses` classes and `channels` input channels. */
export function modelFromConfig(c: TrainConfig, numClasses: number, channels: number): MultiExpert {
  return createModel(
    {
      name: c.model.name,
      numClasses,
      inChannels: channels,
      width: c.model.width,
      classifier: c.model.classifier,
      cosineScale: c.model.cosineScale,
      numExperts: c.model.numExperts,
    },
    c.seed,
  );
}

/** The teacher models of `loss.teachers`: each run's config.json + checkpoint.bin, one expert each (its first). */
function loadTeachers(
  c: TrainConfig,
  root: string | undefined,
  numClasses: number,
  channels: number,
): MultiExpert[] {
  const base = root ?? path.join(workspaceRoot() ?? process.cwd(), 'results');
  return c.loss.teachers.map((rel) => {
    const dir = path.resolve(base, rel);
    const ckpt = path.join(dir, 'checkpoint.bin');
    if (!fs.existsSync(ckpt))
      throw new TrainingError(`loss.teachers: ${dir} has no checkpoint.bin (train that run first)`);
    const tc = TrainConfig.parse(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const m = modelFromConfig(tc, numClasses, channels);
    restoreVariables(ckpt, loadCheckpoint(ckpt), m.store.all());
    return m;
  });
}

/** Read a finished run's metrics (null when the run has not finished). */
export function readMetrics(outDir: string): Metrics | null {
  const f = path.join(outDir, 'metrics.json');
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as Metrics) : null;
}
