/**
 * `ncl start` (= `npm start`), the main job: CE, BSCE and NCL++ on one protocol and seed, compared.
 *
 *   1. says what it will train and how long that should take (the `--plan` timing model, from finished runs);
 *   2. reuses identical finished runs, saying where they are: the committed ones under results/runs/ first, then the
 *      user's own under runs/ (`retrain` trains anyway, into runs/);
 *   3. trains the rest in worker processes, one progress bar per run with its ETA (on a terminal);
 *   4. ends with the comparison table and a figure (runs/start-<protocol>-seed<N>.png and .html), printing their
 *      paths.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cliProgress from 'cli-progress';
import { getProtocol } from '../train/protocols';
import type { Method, TrainConfig } from '../train/config';
import type { Metrics } from '../train/types';
import { isFinished, runDir } from '../experiments/runs';
import { ensureRuns } from '../experiments/runner';
import { figureReadiness, planConfigs } from '../experiments/plan';
import { readMetrics } from '../train/trainer';
import { meanStdBarsFigure, savePlot, findChromium, type Figure } from '../viz';
import { comparisonTable } from './table';

/** A path as the user would type it: relative when under the working directory. */
const rel = (f: string) =>
  path.resolve(f).startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), f) : f;

export const START_METHODS: Method[] = ['ce', 'bsce', 'nclpp'];
const METHOD_NAMES: Record<Method, string> = { ce: 'CE', bsce: 'BSCE', ncl: 'NCL', nclpp: 'NCL++' };

export interface StartOptions {
  protocol: string;
  seed: number;
  workers: number;
  /** The workspace: runs it trains go to `<root>/runs/<protocol>/`, the figure to `<root>/runs/`. */
  root: string;
  /** Where committed runs are looked up (`<resultsDir>/runs/<protocol>/...`). */
  resultsDir: string;
  retrain: boolean;
  /** Only say what would be trained (the plan), and stop. */
  planOnly?: boolean;
  backend?: string;
  log?: (line: string) => void;
}

/** A finished run `start` reuses: the results root it is under, and its folder. */
export interface FinishedRun {
  root: string;
  dir: string;
}

/** Where each config's finished run is (committed results first, then runs/), or null: what start will not train. */
export function findFinished(o: StartOptions, configs: TrainConfig[]): (FinishedRun | null)[] {
  if (o.retrain) return configs.map(() => null);
  return configs.map((c) => {
    for (const root of [o.resultsDir, o.root]) if (isFinished(root, c)) return { root, dir: runDir(root, c) };
    return null;
  });
}

/**
 * The plan as lines: what is reused, what trains, and the estimated CPU and wall time (the planner of every sweep,
 * experiments/plan.ts: estimates from the finished runs of the same model size, runs on the first free worker).
 */
export function startPlan(
  o: StartOptions,
  configs: TrainConfig[],
  finished: (FinishedRun | null)[],
): string[] {
  const rows = planConfigs([{ id: 'start', configs }], o.root, {
    cachedIn: [],
    estimateFrom: o.resultsDir,
  });
  const lines: string[] = [];
  configs.forEach((c, i) => {
    const f = finished[i];
    const m = rows[i].cpuMinutes;
    lines.push(
      f
        ? `  ${c.method.padEnd(6)} reusing the finished run ${rel(f.dir)} (same config; --retrain trains anyway)`
        : `  ${c.method.padEnd(6)} trains into ${rel(runDir(o.root, c))}: ` +
            (m == null
              ? 'no finished run of this model size to estimate from'
              : `~${m.toFixed(0)} CPU-minutes`),
    );
  });
  const todo = rows.filter((_, i) => !finished[i]);
  const known = todo.filter((r) => r.cpuMinutes != null);
  if (todo.length && !known.length) {
    lines.push(`  ${todo.length} run(s) to train: no estimate yet (no finished run of this model size)`);
  } else if (todo.length) {
    const [ready] = figureReadiness(todo, o.workers);
    lines.push(
      `  ${todo.length} run(s) to train: ~${known.reduce((a, r) => a + r.cpuMinutes!, 0).toFixed(0)} CPU-minutes, ` +
        `~${ready.minutes.toFixed(0)} minutes with ${o.workers} worker(s)` +
        (known.length < todo.length ? ` (for the ${known.length} with an estimate)` : '') +
        ' (estimated from the finished runs of the same model size)',
    );
  } else {
    lines.push('  nothing to train: every run is finished');
  }
  return lines;
}

/** The comparison figure: top-1 of expert 1, the ensemble and the many / medium / few splits, per method (%). */
export function startFigure(runs: Metrics[]): Figure {
  const splits: [string, (m: Metrics) => number | null | undefined][] = [
    ['expert 1', (m) => m.test.experts[0]?.top1],
    ['ensemble', (m) => m.test.ensemble.top1],
    ['many', (m) => m.test.many],
    ['medium', (m) => m.test.medium],
    ['few', (m) => m.test.few],
  ];
  const c = runs[0].config;
  return meanStdBarsFigure({
    title: `${c.protocol}: ${c.data.dataset}-LT IF ${c.data.imbalanceFactor}, seed ${c.seed}`,
    categories: splits.map(([name]) => name),
    series: runs.map((m) => ({
      name: METHOD_NAMES[m.config.method],
      mean: splits.map(([, f]) => 100 * (f(m) ?? NaN)),
      std: splits.map(() => 0),
    })),
    yTitle: 'top-1 (%)',
  });
}

/** One cli-progress bar per training run on a terminal; nothing otherwise (the epoch lines are logged). */
function progressBars(log: (s: string) => void) {
  if (!process.stderr.isTTY) return { onProgress: undefined, log, stop: () => {} };
  const multi = new cliProgress.MultiBar(
    {
      format: '{run} [{bar}] {percentage}% | epoch {epoch}/{epochs} | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    onProgress: (c: TrainConfig, p: { epoch: number; epochs: number; done: number; total: number }) => {
      const run = `${c.method} seed ${c.seed}`.padEnd(14);
      let bar = bars.get(run);
      if (!bar)
        bars.set(run, (bar = multi.create(p.total, p.done, { run, epoch: p.epoch, epochs: p.epochs })));
      bar.update(p.done, { epoch: p.epoch, epochs: p.epochs });
    },
    log: (s: string) => multi.log(s + '\n'),
    stop: () => multi.stop(),
  };
}

/**
 * The main job; resolves to the table and the paths of the figure (png null where no Chromium was found), or null
 * with `planOnly`.
 */
export async function start(
  o: StartOptions,
): Promise<{ table: string; html: string; png: string | null } | null> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const configs = START_METHODS.map((m) => getProtocol(o.protocol, m, o.seed));
  const finished = findFinished(o, configs);
  log(`[ncl-lab] main job: protocol ${o.protocol} (${configs[0].data.dataset}), seed ${o.seed}`);
  for (const line of startPlan(o, configs, finished)) log(line);
  if (o.planOnly) return null;
  const todo = configs.filter((_, i) => !finished[i]);
  if (todo.length) {
    if (o.retrain) for (const c of todo) fs.rmSync(runDir(o.root, c), { recursive: true, force: true });
    const bars = progressBars(log);
    try {
      await ensureRuns(o.root, todo, {
        workers: o.workers,
        backend: o.backend,
        log: bars.log,
        onProgress: bars.onProgress,
      });
    } finally {
      bars.stop();
    }
  }
  const metrics = configs.map((c, i) => readMetrics(runDir(finished[i]?.root ?? o.root, c))!);
  const table = comparisonTable(metrics);
  process.stdout.write('\n' + table + '\n');
  const base = path.join(o.root, 'runs', `start-${o.protocol}-seed${o.seed}`);
  const png = findChromium() !== null;
  savePlot(startFigure(metrics), base, { png });
  process.stdout.write(
    `figure: ${rel(base + '.html')}${png ? `, ${rel(base + '.png')}` : ' (no PNG: no Chromium found)'}\n`,
  );
  return { table, html: base + '.html', png: png ? base + '.png' : null };
}
