/**
 * The manifest (`<results>/manifest.json`): one entry per figure built, with the protocol, settings, seeds, commit
 * and run folders it comes from. Several `ncl reproduce` may write one results folder at once (on one machine or on
 * the nodes of a cluster): every update of the manifest and the README happens under the folder's lock
 * (`manifest.lock`, held for the read-merge-write only), re-reading the manifest inside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig } from '../train/config';
import { getMethod } from '../losses/registry';
import { acquireRunLock, RunLocked, type RunLock } from '../train/lock';
import { readManifest as readManifestFile } from './files';
import { isFinished, runDir } from './runs';
import { resolveIds } from './registry';
import { runIndex, seedlessKey } from './replicates';
import { DEFAULT_SEEDS } from './spec';

export interface ManifestEntry {
  id: string;
  title: string;
  png: string | null;
  html: string;
  data: string;
  protocol: string;
  /** What the figure's runs trained: `settingsLabel` of their configs (`settingsOfRuns`). */
  settings: string;
  seeds: number[];
  commit: string;
  runs: string[];
  claim: string;
  measured: string;
  verdict: string;
  /** The verdict in plain words (absent in entries written before it was recorded). */
  reading?: string;
  generated: string;
}

export interface Manifest {
  description: string;
  figures: ManifestEntry[];
}

/** The lock file that serialises updates of a results folder's manifest and README. */
export const MANIFEST_LOCK = 'manifest.lock';

/** The manifest of a results folder, schema-checked (./files.ts); an empty one when there is none yet. */
export function readManifest(resultsDir: string): Manifest {
  return readManifestFile(resultsDir) as Manifest;
}

/**
 * Run `update` holding the results folder's lock: another process updating the same folder (its manifest.json and
 * README.md) waits for it, and `update` reads the manifest as the last writer left it. A lock whose owner is gone is
 * taken over (train/lock.ts).
 */
export async function withResultsLock<T>(
  resultsDir: string,
  update: () => T | Promise<T>,
  o: { log?: (s: string) => void; pollMs?: number } = {},
): Promise<T> {
  let lock: RunLock | null = null;
  let told = false;
  while (!lock) {
    try {
      lock = acquireRunLock(resultsDir, MANIFEST_LOCK);
    } catch (e) {
      if (!(e instanceof RunLocked)) throw e;
      if (!told) o.log?.(`[reproduce] waiting for the results folder: ${e.message}`);
      told = true;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
    }
  }
  try {
    return await update();
  } finally {
    lock.release();
  }
}

/**
 * One line naming what a set of runs trained, each setting once with every value the runs use (joined by ' + '):
 * dataset and imbalance factors (and the share of the data, when not all of it), model and width, epochs, batch,
 * weight decay, augmentation, experts K, and copies T of the runs with IntraCL.
 * E.g. "fashion-mnist IF 100 + 50, resnet8 w16, 20 ep, batch 64, wd 2e-4, simaug, K 2, T 2".
 */
export function settingsLabel(configs: TrainConfig[]): string {
  if (!configs.length) return 'no runs';
  const values = <T>(f: (c: TrainConfig) => T, order?: (a: T, b: T) => number) => {
    const v = [...new Set(configs.map(f))];
    return (order ? v.sort(order) : v).join(' + ');
  };
  const down = (a: number, b: number) => b - a;
  const up = (a: number, b: number) => a - b;
  const shares = [...new Set(configs.map((c) => c.data.fraction))];
  const share = (f: number) => `${+(100 * f).toPrecision(3)}%`;
  // T of the runs whose method trains on the protocol's copies (NCL++'s IntraCL), where they train more than one.
  const withIntraCL = configs.filter(
    (c) => getMethod(c.method).copies === 'protocol' && c.loss.numCopies > 1,
  );
  return [
    `${values((c) => c.data.dataset)} IF ${values((c) => c.data.imbalanceFactor, down)}` +
      (shares.length > 1 || shares[0] !== 1 ? ` (data ${shares.sort(down).map(share).join(' + ')})` : ''),
    values((c) => `${c.model.name} w${c.model.width}`),
    `${values((c) => c.optim.epochs, up)} ep`,
    `batch ${values((c) => c.data.batchSize, up)}`,
    `wd ${values((c) => (c.optim.weightDecay === 0 ? '0' : c.optim.weightDecay.toExponential()))}`,
    values((c) => (c.data.mixup > 0 ? `${c.data.augment}+mixup` : c.data.augment)),
    `K ${values((c) => c.model.numExperts, up)}`,
    ...(withIntraCL.length
      ? [`T ${[...new Set(withIntraCL.map((c) => c.loss.numCopies))].sort(up).join(' + ')}`]
      : []),
  ].join(', ');
}

/** What a figure's runs train under `protocol` (a figure without runs: what it describes), as `settingsLabel`. */
export function figureSettings(id: string, protocol: string, seeds = DEFAULT_SEEDS): string {
  const [spec] = resolveIds([id]);
  const seedList = Array.from({ length: seeds }, (_, i) => i);
  return settingsLabel(spec.describes?.(protocol) ?? spec.runs(protocol, seedList));
}

/**
 * Which tfjs backends trained the runs an entry lists, from each run's metrics.json: the backend of every epoch (the
 * "(name)" that ends `train.epochs[].host`; runs that predate it: `metrics.backend`), in order, a run resumed on
 * another backend as "webgpu → wasm". E.g. "wasm" when all ran there, else "webgpu (3 runs), webgpu → wasm (6 runs)".
 * Null when a run's metrics.json is missing or unreadable.
 */
export function backendsOfRuns(resultsDir: string, runs: string[]): string | null {
  if (!runs.length) return null;
  const counts = new Map<string, number>();
  try {
    for (const r of runs) {
      const m = JSON.parse(fs.readFileSync(path.join(resultsDir, r, 'metrics.json'), 'utf8')) as {
        backend: string;
        train: { epochs: { host?: string }[] };
      };
      const seq = m.train.epochs.map((e) => /\(([^()]+)\)$/.exec(e.host ?? '')?.[1] ?? m.backend);
      const label = seq.filter((b, i) => i === 0 || b !== seq[i - 1]).join(' → ') || m.backend;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
  } catch {
    return null;
  }
  if (counts.size === 1) return [...counts.keys()][0];
  return [...counts].map(([b, n]) => `${b} (${n} run${n === 1 ? '' : 's'})`).join(', ');
}

/**
 * `settingsLabel` of the runs an entry lists, read from each run's config.json as it was written (also runs of an
 * earlier schema); null when one is missing or unreadable.
 */
export function settingsOfRuns(resultsDir: string, runs: string[]): string | null {
  if (!runs.length) return null;
  try {
    const configs = runs.map(
      (r) => JSON.parse(fs.readFileSync(path.join(resultsDir, r, 'config.json'), 'utf8')) as TrainConfig,
    );
    return settingsLabel(configs);
  } catch {
    return null;
  }
}

/**
 * Whether an entry was built from the runs its figure trains under its protocol today. It is `stale` when the protocol
 * or the figure changed since (other runs, other keys); `finished` of the `needed` runs of today are then ready.
 */
export function entryStatus(
  resultsDir: string,
  f: ManifestEntry,
): { stale: false } | { stale: true; finished: number; needed: number } {
  let configs: TrainConfig[];
  try {
    configs = resolveIds([f.id])[0].runs(f.protocol, f.seeds);
  } catch {
    return { stale: true, finished: 0, needed: 0 };
  }
  const dirs = configs.map((c) => path.relative(resultsDir, runDir(resultsDir, c)));
  // The entry lists the runs its build read: all of today's, or fewer where some only feed others (the teachers of
  // a distillation figure).
  const today = new Set(dirs);
  // Runs pooled in as replicates of today's runs (other seeds or keys of the same training) are today's too.
  const trainings = new Set(configs.map(seedlessKey));
  const replicate = new Set(
    runIndex(resultsDir, f.protocol)
      .filter((r) => trainings.has(seedlessKey(r.config)))
      .map((r) => r.dir),
  );
  // Every run the build reads (all but the teachers) must be listed: a figure that gained a series is stale until
  // its new runs are finished and it is built again.
  const listed = new Set(f.runs);
  const teachers = new Set(configs.flatMap((c) => c.loss.teachers.map((t) => path.normalize(t))));
  const read = dirs.filter((d) => !teachers.has(path.normalize(d)));
  if (f.runs.every((r) => today.has(r) || replicate.has(r)) && read.every((d) => listed.has(d)))
    return { stale: false };
  return {
    stale: true,
    finished: configs.filter((c) => isFinished(resultsDir, c)).length,
    needed: configs.length,
  };
}
