/**
 * Training one run: K experts, T augmented copies of every image fed to every expert, any loss function.
 *
 *   const { metrics, model } = await trainRun(getProtocol('mini', 'nclpp'), { outDir: 'runs/x' });
 *
 * One run is fully determined by its config: the data subset, the initial weights and every batch and augmentation
 * depend only on its seeds, so the same config on the same backend gives bit-identical metrics, and a run resumed
 * from its last checkpoint (written after every epoch) finishes exactly as an uninterrupted one.
 *
 * `trainRun` builds the parts and hands them to the loop: data (./data.ts), loss (./loss.ts, ./teachers.ts), model,
 * optimizer, the run folder (./resume.ts: lock, resume, refusals), the loop (./loop.ts, one step in ./step.ts,
 * divergence checks in ./guard.ts, the deadline in ./deadline.ts) and the results (./report.ts).
 *
 * Files in `outDir`: config.json and subset.json (at start), checkpoint.bin (each epoch, atomic), and at the end
 * per_class.csv, analysis.json.gz and metrics.json. Nothing is written before the config, the data and the loss
 * have been checked, nor while another process trains into the same folder (train.lock).
 */
import * as path from 'node:path';
import { tf } from '../tf';
import * as data from '../data';
import { displayPath } from '../data/errors';
import type { MultiExpert } from '../models/experts';
import { evaluateModel } from '../eval/metrics';
import { TrainConfig, configHash } from './config';
import { getMethod } from '../losses/methods';
import { SGD } from './sgd';
import { atomicWrite, restoreVariables, saveCheckpoint } from './checkpoint';
import { batchOptions, prepareData } from './data';
import { TrainingError, TrainingStopped } from './errors';
import { configLoss, customLoss, type TrainLoss } from './loss';
import { trainEpochs } from './loop';
import { modelFromConfig } from './model';
import { Progress } from './progress';
import { finishRun } from './report';
import { openRunFolder, type RunFolder, type RunState } from './resume';
import { sgdStep } from './step';
import { compiledStep } from './compiled-step';
import { teacherLoss } from './teachers';
import type { Metrics, TrainOptions } from './types';

export { TrainingError, TrainingStopped } from './errors';
export { prepareData, batchOptions, type PreparedData } from './data';
export { lossFromConfig, numHardOf } from './loss';
export { modelFromConfig } from './model';
export { readMetrics } from './resume';
export type { TrainOptions, Metrics, StepInfo, EpochInfo } from './types';

/**
 * What a config leaves out that its method's name promises (`MethodSpec.warnings`: e.g. NCL++ without IntraCL, with
 * T < 2 copies). Printed at the start and recorded in metrics.json.
 */
export function configWarnings(c: TrainConfig): string[] {
  return getMethod(c.method).warnings?.(c) ?? [];
}

/** Train one run. Returns the metrics and the trained model (the caller disposes it). */
export async function trainRun(
  config: TrainConfig,
  opts: TrainOptions = {},
): Promise<{ metrics: Metrics; model: MultiExpert }> {
  const c = TrainConfig.parse(config);
  const hash = configHash(c);
  const outDir = opts.outDir ?? null;
  if (opts.resume && opts.restart)
    throw new TrainingError('give either resume (--resume) or restart (--restart)');
  const warnings = configWarnings(c);
  for (const w of warnings) (opts.onWarning ?? ((m) => process.stderr.write(`ncl: warning: ${m}\n`)))(w);
  const prep = opts.prepared ?? (await prepareData(c, { progress: opts.progress }));
  const { dataset, train, test, classCounts } = prep;
  if (prep.source && (opts.progress ?? true)) {
    const { dir, origin, checksums } = prep.source;
    const check = checksums ? `, ${path.basename(checksums)} verified` : '';
    process.stderr.write(`data: ${c.data.dataset} from ${displayPath(dir)} (${origin}${check})\n`);
  }
  const batchOpts = batchOptions(c, dataset);
  const stepsPerEpoch = Math.min(
    Math.floor(data.numBatches(train, batchOpts) / c.optim.accumulate),
    c.optim.maxStepsPerEpoch ?? Number.POSITIVE_INFINITY,
  );
  if (stepsPerEpoch < 1)
    throw new TrainingError(
      `data.batchSize=${c.data.batchSize} × optim.accumulate=${c.optim.accumulate} exceeds the ${train.n} training images`,
    );

  const loss: TrainLoss = opts.lossFn
    ? customLoss(opts.lossFn, opts.lossVariables)
    : c.loss.teachers.length
      ? teacherLoss(c, opts.resultsRoot, dataset.numClasses, train.channels, classCounts)
      : configLoss(c, dataset.numClasses);
  const model = modelFromConfig(c, dataset.numClasses, train.channels);
  const params = new Map<string, tf.Variable>(model.store.trainable);
  for (const [n, v] of loss.variables) params.set(`loss.${n}`, v);
  const sgd = new SGD(params, c.optim.momentum, c.optim.weightDecay);
  const stateTensors = () => {
    const m = new Map<string, tf.Tensor>(model.store.all());
    for (const [n, v] of loss.variables) m.set(`loss.${n}`, v);
    for (const [n, b] of sgd.buffers) m.set(`sgd.${n}`, b);
    return m;
  };
  const progress = new Progress(opts.progress ?? true, c.optim.epochs, stepsPerEpoch, opts.onProgress);
  let folder: RunFolder | null = null;
  let ok = false;
  try {
    const state: RunState = {
      configHash: hash,
      nextEpoch: 0,
      totalEpochs: c.optim.epochs,
      epochs: [],
      seconds: 0,
      images: 0,
      lossReference: null,
    };
    const ckptFile = outDir ? path.join(outDir, 'checkpoint.bin') : null;
    if (outDir) {
      folder = openRunFolder(outDir, c, opts);
      if (folder.checkpoint) {
        const loaded = folder.checkpoint;
        const named = new Map<string, tf.Variable>(model.store.all());
        for (const [n, v] of loss.variables) named.set(`loss.${n}`, v);
        restoreVariables(ckptFile!, loaded, named);
        for (const name of params.keys()) {
          const b = loaded.tensors.get(`sgd.${name}`);
          if (b) sgd.setBuffer(name, tf.tensor(b.data, b.shape));
        }
        Object.assign(state, loaded.state, { configHash: hash, totalEpochs: c.optim.epochs });
      }
      atomicWrite(path.join(outDir, 'config.json'), JSON.stringify(c, null, 2) + '\n');
      data.saveSubset(path.join(outDir, 'subset.json'), prep.subset);
    }
    const ended = await trainEpochs({
      config: c,
      train,
      batchOptions: batchOpts,
      stepsPerEpoch,
      // On webgpu the compiled plan (./compiled-step.ts), else (and for what it does not cover) the eager step.
      step: compiledStep(
        model,
        loss,
        sgd,
        classCounts,
        sgdStep(model, loss, sgd, [...params.values()], classCounts),
      ),
      stateTensors,
      evaluate: async () => {
        const r = await evaluateModel(model, test, classCounts, {
          batchSize: c.eval.batchSize,
          mean: dataset.mean,
          std: dataset.std,
        });
        return {
          top1: r.top1,
          many: r.many,
          medium: r.medium,
          few: r.few,
          experts: r.experts.map((e) => e.top1),
        };
      },
      save: ckptFile ? (s) => saveCheckpoint(ckptFile, stateTensors(), s) : null,
      state,
      progress,
      deadline: opts.deadline,
      signal: opts.signal,
      onStep: opts.onStep,
      onEpoch: opts.onEpoch,
    });
    progress.stop();
    if (ended === 'deadline') throw new TrainingStopped(state.nextEpoch, c.optim.epochs, ckptFile);
    if (ended === 'signal') throw new TrainingStopped(state.nextEpoch, c.optim.epochs, ckptFile, 'signal');
    const metrics = await finishRun({
      config: c,
      hash,
      model,
      prep,
      state,
      lossVariables: loss.variables,
      warnings,
      outDir,
      analysis: opts.analysis ?? true,
    });
    ok = true;
    return { metrics, model };
  } finally {
    progress.stop();
    folder?.release();
    sgd.dispose();
    loss.dispose();
    if (!ok) model.dispose();
  }
}
