/**
 * The results of a finished run: test (and train-set) evaluation, metrics.json, the per-class CSV (danfojs) and
 * analysis.json.gz. Every file is written atomically, and none with a non-finite number in it.
 */
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tf } from '../tf';
import * as data from '../data';
import { splitOf } from '../data';
import type { MultiExpert } from '../models/experts';
import { evaluateModel, evaluatePredictions, predictAll, type EvalResult } from '../eval/metrics';
import { analyzeModel } from '../eval/analysis';
import { atomicWrite } from './checkpoint';
import type { TrainConfig } from './config';
import { recordedSource, type PreparedData } from './data';
import { TrainingError } from './errors';
import type { RunState } from './resume';
import type { Metrics } from './types';

type Danfo = {
  DataFrame: new (rows: Record<string, unknown>[]) => unknown;
  toCSV: (df: unknown, o?: { filePath?: string }) => string | void;
};
let danfo: Danfo | null = null;
/** danfojs-node, loaded on first use (it is heavy). */
export function dfd(): Danfo {
  danfo ??= require('danfojs-node') as Danfo;
  return danfo;
}

export function perClassRows(
  classNames: string[],
  classCounts: number[],
  r: EvalResult,
): Record<string, unknown>[] {
  return classCounts.map((n, j) => {
    const row: Record<string, unknown> = {
      class: j,
      name: classNames[j] ?? String(j),
      train_count: n,
      split: splitOf(n),
      accuracy: r.ensemble.perClass[j],
    };
    r.experts.forEach((e, k) => (row[`expert${k}`] = e.perClass[j]));
    return row;
  });
}

/** Write the per-class CSV atomically. */
export async function writePerClassCSV(
  file: string,
  classNames: string[],
  classCounts: number[],
  r: EvalResult,
): Promise<void> {
  const { DataFrame, toCSV } = dfd();
  atomicWrite(file, toCSV(new DataFrame(perClassRows(classNames, classCounts, r))) as string);
}

/** JSON of `value` (indented by `indent`); a TrainingError naming `file` and the key when a number is not finite. */
export function finiteJSON(value: unknown, file: string, indent?: number): string {
  return JSON.stringify(
    value,
    (key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v))
        throw new TrainingError(`${file}: '${key}' is ${v}; a result must be finite, not written`);
      return v;
    },
    indent,
  );
}

/**
 * Evaluate the trained `model` of config `c` and, with `outDir`, write per_class.csv, analysis.json.gz (unless
 * `analysis` is false) and metrics.json last (its presence marks a finished run).
 */
export async function finishRun(a: {
  config: TrainConfig;
  hash: string;
  model: MultiExpert;
  prep: PreparedData;
  state: RunState;
  lossVariables: Map<string, tf.Variable>;
  warnings: string[];
  outDir: string | null;
  analysis: boolean;
}): Promise<Metrics> {
  const { config: c, model, prep, state } = a;
  const { dataset, test, train, classCounts } = prep;
  const evalOpts = { batchSize: c.eval.batchSize, mean: dataset.mean, std: dataset.std };
  const predictions = await predictAll(model, test, evalOpts);
  const result = evaluatePredictions(predictions, classCounts);
  const trainSet =
    c.eval.trainAccuracy || c.eval.every > 0
      ? await evaluateModel(model, train, classCounts, evalOpts)
      : undefined;
  const lossVariables: Record<string, number[]> = {};
  for (const [n, v] of a.lossVariables) lossVariables[n] = Array.from(await v.data());
  const metrics: Metrics = {
    config: c,
    configHash: a.hash,
    backend: tf.getBackend(),
    classCounts,
    subset: { images: prep.subset.indices.length, sha256: data.subsetDigest(prep.subset) },
    ...(prep.source ? { data: recordedSource(prep.source, data.sourceOf(c.data.dataset).dir) } : {}),
    ...(a.warnings.length ? { warnings: a.warnings } : {}),
    ...(a.lossVariables.size ? { lossVariables } : {}),
    test: result,
    ...(trainSet ? { trainSet } : {}),
    train: {
      epochs: state.epochs,
      seconds: state.seconds,
      imgPerSec: state.images / Math.max(1e-9, state.seconds),
    },
  };
  if (!a.outDir) return metrics;
  const metricsFile = path.join(a.outDir, 'metrics.json');
  const metricsJSON = finiteJSON(metrics, metricsFile, 1) + '\n';
  await writePerClassCSV(path.join(a.outDir, 'per_class.csv'), dataset.classNames, classCounts, result);
  if (a.analysis) {
    const file = path.join(a.outDir, 'analysis.json.gz');
    const analysis = await analyzeModel(model, test, { ...evalOpts, seed: c.seed, predictions });
    atomicWrite(file, zlib.gzipSync(finiteJSON(analysis, file) + '\n'));
  }
  atomicWrite(metricsFile, metricsJSON);
  return metrics;
}
