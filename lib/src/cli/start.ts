/**
 * `ncl start` (= `npm start`), the main job: NCL++ against CE and BSCE on one protocol, over seeds, as one
 * comparison (experiments/method-comparison.ts, the job behind `ncl compare`):
 *
 *   1. says what it will train and how long that should take, and which identical finished runs it reuses: the
 *      committed ones under results/runs/ first, then the user's own under runs/ (`retrain` trains anyway);
 *   2. trains the rest in worker processes, one progress bar per run with its ETA (on a terminal), or, with
 *      `--executor slurm`, as a SLURM job array followed by a job that writes the figure;
 *   3. ends with the table (mean ± std over the seeds, the verdict of NCL++ against each) and the figure
 *      (runs/start-<protocol>.png, .html and .json), printing their paths.
 */
import * as path from 'node:path';
import * as cliProgress from 'cli-progress';
import type { TrainConfig } from '../train/config';
import { compare, type CompareOptions } from '../experiments/method-comparison';

/** The comparison `npm start` makes: NCL++ against CE and BSCE. */
export const START = { method: 'nclpp', against: ['ce', 'bsce'] };
export const START_METHODS = [...START.against, START.method];

export interface StartOptions extends Pick<
  CompareOptions,
  'executor' | 'slurm' | 'wait' | 'signal' | 'onSubmitted' | 'onSweepProgress'
> {
  protocol: string;
  /** Seeds 0 … seeds − 1. */
  seeds: number;
  workers: number;
  /** The workspace: runs it trains go to `<root>/runs/<protocol>/`, the figure to `<root>/runs/`. */
  root: string;
  /** Where committed runs are looked up (`<resultsDir>/runs/<protocol>/...`). */
  resultsDir: string;
  retrain: boolean;
  /** Only say what would be trained (the plan), and stop. */
  planOnly?: boolean;
  backend?: string;
  /** PNG next to the HTML (default: when a Chromium is found). */
  png?: boolean;
  log?: (line: string) => void;
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
 * with `planOnly` and on SLURM without `wait` (the jobs are submitted; the last one writes the figure).
 */
export async function start(
  o: StartOptions,
): Promise<{ table: string; html: string; png: string | null; verdict: string } | null> {
  const bars = progressBars(o.log ?? ((s: string) => process.stderr.write(s + '\n')));
  try {
    const r = await compare(START.method, {
      against: START.against,
      id: 'start',
      title: 'NCL++ vs CE, BSCE',
      protocol: o.protocol,
      seeds: o.seeds,
      workers: o.workers,
      root: o.root,
      resultsDir: o.resultsDir,
      retrain: o.retrain,
      plan: o.planOnly,
      out: path.join(o.root, 'runs', `start-${o.protocol}`),
      png: o.png,
      backend: o.backend,
      log: bars.log,
      onProgress: bars.onProgress,
      executor: o.executor,
      slurm: o.slurm,
      wait: o.wait,
      signal: o.signal,
      onSubmitted: o.onSubmitted,
      onSweepProgress: o.onSweepProgress,
    });
    return r && { table: r.table ?? '', html: r.files.html!, png: r.files.png, verdict: r.verdict };
  } finally {
    bars.stop();
  }
}
