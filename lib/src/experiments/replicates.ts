/**
 * Replicates: finished runs that trained what another run trains. Two kinds, both found among the run folders of a
 * results folder:
 *   - the same training at the same seed under another key (e.g. Table 6's runs, keyed with `eval.trainAccuracy`,
 *     repeat Table 1's NCL++ runs; runs keyed by an older canonical form): their differences measure the noise
 *     floor of a result (`noiseFloor`), and a figure averages them into one value for that seed;
 *   - the same training at other seeds (e.g. the offline-distillation teachers are BSCE runs at seeds 1001 …):
 *     more samples of the same quantity, pooled into its mean ± std (they pair with no other method's run).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJSON, TrainConfig } from '../train/config';
import { readMetrics } from '../train/resume';
import type { Metrics } from '../train/types';
import { stat, type Stat } from './stats';
import { pairKey } from './spec';
import type { RunResult } from './runs';

/** The training a config describes, whatever it evaluates along the way: the canonical config without `eval`. */
export function trainingKey(c: TrainConfig): string {
  const { eval: _eval, ...training } = c;
  return canonicalJSON(training);
}

/** `trainingKey` at any seed (a subset seed equal to the run seed is the default, so it follows the seed). */
export function seedlessKey(c: TrainConfig): string {
  const { eval: _eval, ...training } = c;
  return canonicalJSON({ ...training, seed: null });
}

export interface IndexedRun {
  /** The run folder, relative to the results folder (as the manifest lists runs). */
  dir: string;
  config: TrainConfig;
  metrics: Metrics;
}

const cache = new Map<string, { stamp: string; runs: IndexedRun[] }>();

/**
 * Every finished run under `<resultsDir>/runs/<protocol>`, its config parsed again into today's canonical form
 * (runs keyed by an older form then compare equal to today's). Cached while the folder's listing is unchanged.
 */
export function runIndex(resultsDir: string, protocol: string): IndexedRun[] {
  const folder = path.join(resultsDir, 'runs', protocol);
  const names = fs.existsSync(folder) ? fs.readdirSync(folder).sort() : [];
  const stamp = names.filter((n) => fs.existsSync(path.join(folder, n, 'metrics.json'))).join('\n');
  const hit = cache.get(folder);
  if (hit && hit.stamp === stamp) return hit.runs;
  const runs: IndexedRun[] = [];
  for (const name of names) {
    const metrics = readMetrics(path.join(folder, name));
    if (!metrics) continue;
    const parsed = TrainConfig.safeParse(metrics.config);
    if (!parsed.success) continue; // a config of a schema that no longer parses replicates nothing of today's
    runs.push({ dir: path.join('runs', protocol, name), config: parsed.data, metrics });
  }
  cache.set(folder, { stamp, runs });
  return runs;
}

/** The runs of `index` that train what `c` trains, at any seed (the run of `c` itself included). */
export function replicatesOf(index: IndexedRun[], c: TrainConfig): IndexedRun[] {
  const key = seedlessKey(c);
  return index.filter((r) => seedlessKey(r.config) === key);
}

/**
 * The noise floor of a top-1 accuracy (expert 1, a fraction): the root mean square of the differences between runs
 * of one training at one seed, over every such pair in `index`. It is the std of one difference that no seed
 * explains (another code version, another backend), and the least std the paired rule allows
 * (`stats.pairedDiff`). 0 when `index` holds no such pair.
 */
export function noiseFloor(index: IndexedRun[]): { floor: number; pairs: number } {
  const groups = new Map<string, number[]>();
  for (const r of index) {
    const k = trainingKey(r.config);
    groups.set(k, [...(groups.get(k) ?? []), r.metrics.test.experts[0].top1]);
  }
  let sum = 0;
  let pairs = 0;
  for (const v of groups.values())
    for (let i = 0; i < v.length; i++)
      for (let j = i + 1; j < v.length; j++) {
        sum += (v[i] - v[j]) ** 2;
        pairs++;
      }
  return { floor: pairs ? Math.sqrt(sum / pairs) : 0, pairs };
}

/**
 * A quantity over runs with their replicates pooled in: one value per pairing key (`spec.pairKey`), the mean of the
 * runs at that key (replicates at one seed), so that other seeds add samples and a repeated seed does not count
 * twice. `keys` pair it with other quantities over the seeds they share.
 */
export function pooledStat(runs: RunResult[], f: (r: RunResult) => number): Stat {
  const at = new Map<string, number[]>();
  for (const r of runs) {
    const k = pairKey(r.config);
    at.set(k, [...(at.get(k) ?? []), f(r)]);
  }
  const keys = [...at.keys()];
  return stat(
    keys.map((k) => at.get(k)!.reduce((a, b) => a + b, 0) / at.get(k)!.length),
    keys,
  );
}
