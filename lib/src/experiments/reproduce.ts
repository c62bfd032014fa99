/**
 * `ncl reproduce <id ...|all>`: train exactly the runs the requested figures need (cached by config hash, resumed
 * when interrupted) with an executor (here in parallel workers, or as SLURM jobs), then write each figure:
 * `<results>/<id>.png` and `.html` (Plotly), `<results>/<id>.json` (the numbers plotted, per seed and mean ± std), an
 * entry in `<results>/manifest.json`, and the paper-vs-here table in `<results>/README.md`.
 *
 * The parts, one job each: the registry of figures (registry.ts), the plan and cost model (plan.ts), the runs
 * (runner.ts locally, slurm.ts on a cluster, chosen in executor.ts), the results written (results.ts) and the
 * manifest (manifest.ts).
 */
import * as path from 'node:path';
import { configHash } from '../train/config';
import { makeFolder } from '../train/folders';
import { removeStaleTemps } from '../train/checkpoint';
import { findChromium } from '../viz';
import type { ProgressInfo } from '../train/progress';
import type { TrainConfig } from '../train/config';
import { isFinished, runDir } from './runs';
import { FIGURE_IDS, resolveIds, type FigureRef } from './registry';
import { readManifest, type ManifestEntry } from './manifest';
import { figureWriter, gitCommit } from './results';
import { SweepFailed } from './runner';
import { executorNamed, type ExecutorName } from './executor';
import type { FollowProgress, SlurmOptionsInput, Submission } from './slurm';

export { FIGURES, FIGURE_IDS, registerFigure, resolveIds, type FigureRef } from './registry';
export {
  readManifest,
  settingsLabel,
  figureSettings,
  backendsOfRuns,
  settingsOfRuns,
  entryStatus,
  type Manifest,
  type ManifestEntry,
} from './manifest';
export { planRuns, formatPlan, figureReadiness, type PlanRow } from './plan';
export { buildFigure, writeResultsReadme } from './results';

export interface ReproduceOptions {
  /** Figure ids ('all': every figure of the lib) or specs of your own (`comparisonFigure`, `comparisonSpec`). */
  ids: FigureRef[];
  protocol: string;
  seeds: number;
  workers: number;
  /** Results folder (default `results/` of the workspace). */
  resultsDir: string;
  /** Skip PNG rendering (e.g. no Chromium). */
  png?: boolean;
  backend?: string;
  log?: (s: string) => void;
  /** Where the runs train: 'local' (default) or 'slurm'. */
  executor?: ExecutorName;
  /** slurm: the cluster's settings (slurm.ts, SlurmOptions). */
  slurm?: SlurmOptionsInput;
  /** slurm: follow the jobs until the figures are built (else return once submitted). */
  wait?: boolean;
  /** false: train nothing; wait for runs other processes train and fail naming the runs nobody trains. */
  train?: boolean;
  /** Stops the runs (local: at a checkpoint) or the waiting (slurm). */
  signal?: AbortSignal;
  /** slurm: the jobs, once submitted. */
  onSubmitted?: (s: Submission) => void;
  /** Progress: of each run training here, or (slurm, wait) of the whole sweep. */
  onProgress?: (c: TrainConfig, p: ProgressInfo) => void;
  onSweepProgress?: (p: FollowProgress) => void;
}

/**
 * Train what the figures `o.ids` need and write each figure as soon as its last run is finished (figures whose runs
 * are all cached are written before any training). Runs are queued figure by figure in the order of `o.ids`, so a
 * long `reproduce all` leaves finished figures behind it; an interruption loses only the epochs in progress, which
 * resume from their checkpoints. On SLURM, the missing runs are submitted with a job that builds the figures after
 * them (`ncl reproduce … --no-train`): resolves once submitted, or with `wait` once that job has ended.
 *
 * Resolves to the entries written (or kept) by this call; rejects with a SweepFailed listing every run that failed
 * and every figure that could not be written, after doing all the rest.
 */
export async function reproduce(o: ReproduceOptions): Promise<ManifestEntry[]> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const specs = resolveIds(o.ids);
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);
  const wantPng = o.png ?? true;
  const needs = specs.map((s) => s.runs(o.protocol, seeds));
  const all = needs.flat();
  const onCluster = o.executor === 'slurm' && !all.every((c) => isFinished(o.resultsDir, c));
  const own = specs.filter((s) => !FIGURE_IDS.includes(s.id)).map((s) => s.id);
  if (onCluster && own.length)
    throw new Error(
      `figure(s) ${own.join(', ')}: defined in this process, so the SLURM figures job cannot build them; ` +
        'train their runs with the local executor',
    );
  if (wantPng && !onCluster && !findChromium())
    throw new Error('no Chromium found for PNG export (apt-get install chromium), or pass --no-png');
  // A run's rank is the first figure that needs it.
  const firstFigure = new Map<string, number>();
  needs.forEach((cs, i) =>
    cs.forEach((c) => firstFigure.has(configHash(c)) || firstFigure.set(configHash(c), i)),
  );
  makeFolder(o.resultsDir);
  removeStaleTemps(o.resultsDir); // the temp files of a reproduce killed mid-write
  const writer = figureWriter(specs, needs, {
    protocol: o.protocol,
    seeds,
    resultsDir: o.resultsDir,
    png: wantPng,
    commit: gitCommit(),
    log,
  });
  if (!onCluster) await writer.writeReady();
  const executor = executorNamed(onCluster ? 'slurm' : 'local', o);
  const ids = specs.map((s) => s.id);
  let runFailures: SweepFailed['runs'] = [];
  const figureFailures = writer.failures;
  try {
    const outcome = await executor.run({
      resultsDir: o.resultsDir,
      configs: all,
      label: {
        command: `ncl reproduce ${ids.join(' ')} --protocol ${o.protocol} --seeds ${o.seeds}`,
        groups: specs.map((s, i) => ({
          id: s.id,
          runs: [...new Set(needs[i].map((c) => path.relative(o.resultsDir, runDir(o.resultsDir, c))))],
        })),
        reproduce: { ids, protocol: o.protocol, seeds: o.seeds },
      },
      rank: (c) => firstFigure.get(configHash(c)) ?? 0,
      onFinished: writer.writeReady,
      followUp: {
        name: 'figures',
        args: [
          'reproduce',
          ...ids,
          ...['--protocol', o.protocol, '--seeds', String(o.seeds), '--results', path.resolve(o.resultsDir)],
          ...['--no-train', '--workers', '1'],
          ...(wantPng ? [] : ['--no-png']),
          ...(o.backend ? ['--backend', o.backend] : []),
        ],
      },
      log,
      signal: o.signal,
    });
    if (onCluster && outcome.done) {
      // Built by the follow-up job: this call's entries are the manifest's.
      const m = readManifest(o.resultsDir);
      writer.entries.push(...m.figures.filter((f) => ids.includes(f.id) && f.protocol === o.protocol));
    }
  } catch (e) {
    if (!(e instanceof SweepFailed)) throw e;
    runFailures = e.runs;
    figureFailures.push(...e.figures);
  }
  if (runFailures.length || figureFailures.length) throw new SweepFailed(runFailures, figureFailures);
  return writer.entries;
}
