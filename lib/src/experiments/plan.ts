/**
 * The one planner and cost model of every sweep: `ncl reproduce --plan`, `ncl start`'s plan, the runner's queue and
 * its "time left", and `ncl status`. A run's cost is `relativeCost` (for ordering) and its CPU time is estimated from
 * the finished runs of the same model size (`cpuMinutesEstimator`); runs start by rank (the first figure that needs
 * them), costliest first within a rank (`startOrder`), each on the lane (worker) that frees first (`laneFinish`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configHash, TrainConfig } from '../train/config';
import { checkpointState } from '../train/checkpoint';
import { finishedRuns, isFinished, runDir } from './runs';
import { resolveIds, type FigureRef } from './registry';

/**
 * A run's training cost up to a constant (for scheduling only): experts × copies × epochs × width² × data fraction;
 * the balanced set (IF 1) has about 4× the images of an IF 100 one.
 */
export function relativeCost(c: TrainConfig): number {
  const data = c.data.fraction * (c.data.imbalanceFactor <= 1 ? 4 : 1);
  return c.model.numExperts * c.loss.numCopies * c.optim.epochs * c.model.width ** 2 * data;
}

/**
 * Estimated training CPU-minutes of a config, from the finished runs under `<resultsDir>/runs/<protocol>` of the same
 * dataset, model and width (and batch size, where there are such runs): their median seconds per unit of
 * `relativeCost`, times the config's cost. null without such a run to calibrate on.
 */
export function cpuMinutesEstimator(resultsDir: string, protocol: string): (c: TrainConfig) => number | null {
  const keys = (c: TrainConfig) => {
    const k = `${c.data.dataset}/${c.model.name}/${c.model.width}`;
    return [`${k}/${c.data.batchSize}`, k];
  };
  const rates = new Map<string, number[]>();
  for (const { metrics: m } of finishedRuns(path.join(resultsDir, 'runs', protocol))) {
    for (const k of keys(m.config))
      rates.set(k, [...(rates.get(k) ?? []), m.train.seconds / relativeCost(m.config)]);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return (c) => {
    const r = keys(c)
      .map((k) => rates.get(k))
      .find(Boolean);
    return r ? (median(r) * relativeCost(c)) / 60 : null;
  };
}

/** `items` in the order a sweep starts them: by rank (lower first), then costliest first (stable otherwise). */
export function startOrder<T>(items: T[], cost: (t: T) => number, rank: (t: T) => number = () => 0): T[] {
  return items
    .map((t, i) => ({ t, i, rank: rank(t), cost: cost(t) }))
    .sort((a, b) => a.rank - b.rank || b.cost - a.cost || a.i - b.i)
    .map(({ t }) => t);
}

/** List scheduling: each duration, in order, on the first of `lanes` lanes to free up; when each one ends. */
export function laneFinish(durations: number[], lanes: number): number[] {
  const free = new Array<number>(Math.max(1, lanes)).fill(0);
  return durations.map((d) => {
    const k = free.indexOf(Math.min(...free));
    free[k] += d;
    return free[k];
  });
}

export interface PlanRow {
  id: string;
  method: string;
  seed: number;
  dir: string;
  cached: boolean;
  /** The results root the finished run was found under (one of `cachedIn`), when cached. */
  cachedIn?: string;
  /** relativeCost of the run's config. */
  cost: number;
  /**
   * Estimated training CPU-minutes still to spend (null without a finished run of the same model size to calibrate
   * on): the whole run's, less the share of epochs its checkpoint already holds.
   */
  cpuMinutes: number | null;
  /** Epochs in the run's checkpoint when it is not finished (a resumed run starts after them). */
  epochsDone?: number;
  /** Every requested figure (or group) that needs this run (`id` is the first). */
  neededBy: string[];
  /** The run's config. */
  config: TrainConfig;
}

/**
 * The plan of any list of runs, grouped (e.g. by the figure that needs them): every run once, under the first group
 * that needs it; whether it is finished (under `resultsDir`, or the first of `o.cachedIn`); its estimated CPU time
 * (from the finished runs under `o.estimateFrom`, default `resultsDir`), less the share of epochs its checkpoint
 * under `resultsDir` holds.
 */
export function planConfigs(
  groups: { id: string; configs: TrainConfig[] }[],
  resultsDir: string,
  o: { cachedIn?: string[]; estimateFrom?: string } = {},
): PlanRow[] {
  const seen = new Map<string, { neededBy: string[] }>();
  const rows: { id: string; c: TrainConfig; neededBy: string[] }[] = [];
  for (const g of groups) {
    for (const c of g.configs) {
      const h = configHash(c);
      const known = seen.get(h);
      if (known) {
        if (!known.neededBy.includes(g.id)) known.neededBy.push(g.id);
        continue;
      }
      const row = { id: g.id, c, neededBy: [g.id] };
      seen.set(h, row);
      rows.push(row);
    }
  }
  const estimators = new Map<string, (c: TrainConfig) => number | null>();
  const estimate = (c: TrainConfig) => {
    if (!estimators.has(c.protocol))
      estimators.set(c.protocol, cpuMinutesEstimator(o.estimateFrom ?? resultsDir, c.protocol));
    return estimators.get(c.protocol)!(c);
  };
  return rows.map(({ id, c, neededBy }) => {
    const cachedIn = (o.cachedIn ?? [resultsDir]).find((root) => isFinished(root, c));
    const minutes = estimate(c);
    const done = cachedIn ? 0 : epochsInCheckpoint(runDir(resultsDir, c), c);
    return {
      ...(done ? { epochsDone: done } : {}),
      id,
      method: c.method,
      seed: c.seed,
      dir: path.relative(resultsDir, runDir(resultsDir, c)),
      cached: cachedIn != null,
      ...(cachedIn ? { cachedIn } : {}),
      cost: relativeCost(c),
      cpuMinutes: minutes == null ? null : minutes * (1 - done / c.optim.epochs),
      neededBy,
      config: c,
    };
  });
}

/**
 * What `reproduce` would train, without training: every run the figures need (each once, under the first figure
 * that needs it), whether it is cached, and an estimate of its CPU time from the finished runs under `resultsDir`
 * (`cpuMinutesEstimator`), less the share of epochs its checkpoint holds.
 */
export function planRuns(o: {
  ids: FigureRef[];
  protocol: string;
  seeds: number;
  resultsDir: string;
}): PlanRow[] {
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);
  return planConfigs(
    resolveIds(o.ids).map((spec) => ({ id: spec.id, configs: spec.runs(o.protocol, seeds) })),
    o.resultsDir,
  );
}

/** Epochs held by the checkpoint of an unfinished run of `c` in `dir` (0 without one, or one of another config). */
export function epochsInCheckpoint(dir: string, c: TrainConfig): number {
  const file = path.join(dir, 'checkpoint.bin');
  if (!fs.existsSync(file)) return 0;
  try {
    const s = checkpointState<{ configHash: string; nextEpoch: number }>(file);
    return s.configHash === configHash(c) ? Math.min(s.nextEpoch, c.optim.epochs) : 0;
  } catch {
    return 0; // unreadable: the run will start over (the trainer says why)
  }
}

/**
 * When each figure (group) would be ready, in wall-clock minutes from the start, if the runs to train were scheduled
 * as the runner does: group by group in the order of `ids` (default: the order of the rows' first groups),
 * costliest first within a group, each run on the first free lane of `workers` (`startOrder`, `laneFinish`). A group
 * is ready when the last run it needs is finished (0 when none is left to train). Runs without a CPU-time estimate
 * count as 0 and make `estimated` false for the groups that wait on them. Distillation students are scheduled like
 * any run (the runner also makes them wait for their teachers).
 */
export function figureReadiness(
  rows: PlanRow[],
  workers: number,
  ids: string[] = [...new Set(rows.map((r) => r.id))],
): { id: string; toTrain: number; minutes: number; estimated: boolean }[] {
  const queue = startOrder(
    rows.filter((r) => !r.cached),
    (r) => r.cost,
    (r) => ids.indexOf(r.id),
  );
  const ends = laneFinish(
    queue.map((r) => r.cpuMinutes ?? 0),
    workers,
  );
  const finish = new Map(queue.map((r, i) => [r, ends[i]]));
  return ids.map((id) => {
    const mine = queue.filter((r) => r.neededBy.includes(id));
    return {
      id,
      toTrain: mine.length,
      minutes: Math.max(0, ...mine.map((r) => finish.get(r)!)),
      estimated: mine.every((r) => r.cpuMinutes != null),
    };
  });
}

/** The plan as text: one line per run to train, the totals, then when each of `ids` would be ready. */
export function formatPlan(rows: PlanRow[], workers: number, ids?: string[]): string {
  const todo = rows.filter((r) => !r.cached);
  const est = todo.map((r) => r.cpuMinutes);
  const known = est.filter((x): x is number => x != null);
  const total = known.reduce((a, b) => a + b, 0);
  const fmt = (m: number | null) => (m == null ? '?' : `${m.toFixed(0)} min`);
  return [
    ...todo.map(
      (r) =>
        `${r.id.padEnd(7)} ${r.dir}  seed ${r.seed}  ~${fmt(r.cpuMinutes)}` +
        (r.epochsDone ? `  (resumes after epoch ${r.epochsDone})` : ''),
    ),
    `${rows.length} runs needed, ${rows.length - todo.length} cached, ${todo.length} to train: ` +
      `~${(total / 60).toFixed(1)} CPU-hours` +
      (known.length < todo.length ? ` for the ${known.length} with an estimate` : '') +
      `, ~${(total / 60 / Math.max(1, workers)).toFixed(1)} h of wall time with ${workers} worker(s)` +
      ' (estimates: training time of the finished runs of the same model size, per unit of relativeCost)',
    `each figure is written when its last run finishes; ready after (wall time, ${workers} worker(s), this order):`,
    ...figureReadiness(rows, workers, ids).map((f) =>
      f.toTrain
        ? `  ${f.id.padEnd(7)} ${`${f.toTrain} run(s) to train`.padEnd(22)} ~${(f.minutes / 60).toFixed(1)} h` +
          (f.estimated ? '' : ' (some runs without an estimate)')
        : `  ${f.id.padEnd(7)} all runs cached`,
    ),
  ].join('\n');
}
