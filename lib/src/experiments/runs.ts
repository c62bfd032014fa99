/**
 * Runs as cached, content-addressed folders: a run's folder is `<root>/runs/<protocol>/<method>-<hash>`, where the
 * hash is of its full validated config. A finished run (metrics.json with that hash) is never trained again; an
 * interrupted one resumes from its checkpoint. Independent runs train in parallel worker processes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TrainConfig, configHash } from '../train/config';
import { readMetrics, trainRun, Metrics } from '../train/trainer';
import { parseProgressLine, type ProgressLine } from '../train/progress';
import type { Analysis } from '../eval/analysis';
import { readAnalysis as readAnalysisFile } from './files';

export interface RunResult {
  dir: string;
  config: TrainConfig;
  metrics: Metrics;
  analysis: Analysis | null;
}

export function runDir(root: string, c: TrainConfig): string {
  return path.join(root, 'runs', c.protocol, `${c.method}-${configHash(c)}`);
}

/** The finished runs under `folder` (e.g. results/runs/mini): run folder name and metrics, in name order. */
export function finishedRuns(folder: string): { name: string; metrics: Metrics }[] {
  const out: { name: string; metrics: Metrics }[] = [];
  for (const name of fs.existsSync(folder) ? fs.readdirSync(folder).sort() : []) {
    const metrics = readMetrics(path.join(folder, name));
    if (metrics) out.push({ name, metrics });
  }
  return out;
}

/** The finished run of `c` under `root`, or null. */
export function loadRun(root: string, c: TrainConfig): RunResult | null {
  const dir = runDir(root, c);
  const metrics = readMetrics(dir);
  if (!metrics || metrics.configHash !== configHash(c)) return null;
  return { dir, config: c, metrics, analysis: readAnalysis(dir) };
}

/** Whether `c` has a finished run under `root`: `loadRun`'s test, without reading the run's analysis. */
export function isFinished(root: string, c: TrainConfig): boolean {
  return readMetrics(runDir(root, c))?.configHash === configHash(c);
}

/**
 * A run folder's analysis (eval/analysis.ts): analysis.json.gz or a plain analysis.json, schema-checked
 * (./files.ts); null when the run has none.
 */
export function readAnalysis(dir: string): Analysis | null {
  return readAnalysisFile(dir);
}

/** The command that runs one training in a child process: this module's sibling CLI, same loader flags. */
function workerCommand(): { cmd: string; args: string[] } {
  const ext = path.extname(__filename); // .ts under tsx, .js when compiled
  const main = path.join(__dirname, '..', 'cli', `main${ext}`);
  return { cmd: process.execPath, args: [...process.execArgv, main] };
}

export interface EnsureOptions {
  /** Parallel worker processes; ≤ 1 trains in this process, one run after another. */
  workers: number;
  log?: (line: string) => void;
  /** Backend to force in the workers (default: whatever initBackend picks there). */
  backend?: string;
  /**
   * Priority of a run, lower first (default 0 for all); among equal ranks the costliest starts first. `reproduce`
   * ranks runs by the first figure that needs them, so figures finish one after another.
   */
  rank?: (c: TrainConfig) => number;
  /** Called as each run finishes (after its metrics are written), e.g. to build the figures it completes. */
  onFinished?: (c: TrainConfig) => void;
  /** Progress of each run a worker process trains (steps done of all its steps), about once a second. */
  onProgress?: (c: TrainConfig, p: ProgressLine) => void;
}

/** A run still to train, as the scheduler sees it: its folder and the folders of the teachers it learns from. */
export interface QueuedRun {
  dir: string;
  teachers: string[];
}

/**
 * The index in `queue` of the next run to start, or -1 when none can start yet: the first run none of whose
 * teachers is still `unfinished` (queued or training). A student thus starts as soon as its own teachers are done.
 */
export function nextRunnable(queue: QueuedRun[], unfinished: Set<string>): number {
  return queue.findIndex((r) => r.teachers.every((t) => !unfinished.has(t)));
}

/** Make sure every config has a finished run under `root`; returns them in input order. */
export async function ensureRuns(
  root: string,
  configs: TrainConfig[],
  o: EnsureOptions,
): Promise<RunResult[]> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const unique = new Map<string, TrainConfig>();
  for (const c of configs) unique.set(configHash(c), c);
  // Runs used as offline-distillation teachers need their checkpoint, not only their metrics.
  const teacherDirs = new Set(configs.flatMap((c) => c.loss.teachers.map((t) => path.resolve(root, t))));
  const cached = (c: TrainConfig) => {
    if (!isFinished(root, c)) return false;
    const dir = runDir(root, c);
    return !teacherDirs.has(path.resolve(dir)) || fs.existsSync(path.join(dir, 'checkpoint.bin'));
  };
  const todo = [...unique.values()].filter((c) => !cached(c));
  log(
    `[reproduce] ${unique.size} runs needed, ${unique.size - todo.length} cached, ${todo.length} to train (${o.workers} workers)`,
  );
  // The queue: by rank, then costliest first, so that the lanes end close together. A run that learns from teachers
  // waits until those teachers are trained (nextRunnable).
  const rank = o.rank ?? (() => 0);
  const queue = todo
    .map((c) => ({ c, rank: rank(c), cost: relativeCost(c) }))
    .sort((a, b) => a.rank - b.rank || b.cost - a.cost)
    .map(({ c }) => ({
      c,
      dir: path.resolve(runDir(root, c)),
      teachers: c.loss.teachers.map((t) => path.resolve(root, t)),
    }));
  const unfinished = new Set(queue.map((q) => q.dir));
  let done = 0;
  const one = async (c: TrainConfig) => {
    const dir = runDir(root, c);
    const tag = `${c.protocol}/${c.method}-${configHash(c)} seed ${c.seed}`;
    const t0 = Date.now();
    log(`[reproduce] start ${tag}`);
    if (teacherDirs.has(path.resolve(dir)) && !fs.existsSync(path.join(dir, 'checkpoint.bin'))) {
      fs.rmSync(path.join(dir, 'metrics.json'), { force: true }); // a teacher without weights: train it again
    }
    if (o.workers <= 1) {
      const { model } = await trainRun(c, { outDir: dir, resume: true, progress: false, resultsRoot: root });
      model.dispose();
    } else {
      await trainInWorker(c, dir, tag, log, o.backend, root, o.onProgress && ((p) => o.onProgress!(c, p)));
    }
    const seconds = (Date.now() - t0) / 1000;
    done++;
    // A resumed run's wall time misses its earlier sessions: its metrics hold the whole training time.
    const trained = readMetrics(dir)?.train.seconds ?? 0;
    secondsPerCost.push(Math.max(seconds, trained) / relativeCost(c));
    log(`[reproduce] done ${tag} in ${seconds.toFixed(0)} s (${done}/${todo.length}${timeLeft(c)})`);
  };
  // Time left: the runs not finished, at the median seconds per unit of relativeCost of this call's finished runs
  // (each run's wall time, or its recorded training time if longer: a resumed run), spread over the lanes.
  const secondsPerCost: number[] = [];
  const running = new Set<TrainConfig>();
  const timeLeft = (finished: TrainConfig) => {
    const rate = [...secondsPerCost].sort((a, b) => a - b)[secondsPerCost.length >> 1];
    const left = [...queue.map((q) => q.c), ...running].filter((c) => c !== finished);
    const cost = left.reduce((a, c) => a + relativeCost(c), 0);
    if (!cost || rate == null) return '';
    const h = (rate * cost) / Math.max(1, Math.min(o.workers, left.length)) / 3600;
    return h >= 1 ? `, ~${h.toFixed(1)} h left` : `, ~${Math.ceil(h * 60)} min left`;
  };
  // A failed run is retried once (a worker can die for reasons outside the run, e.g. a rebuild of lib/dist while it
  // starts); the others go on, and the failures are reported together at the end.
  const failed: string[] = [];
  const attempt = async (c: TrainConfig): Promise<boolean> => {
    for (let tries = 1; ; tries++) {
      try {
        await one(c);
        return true;
      } catch (e) {
        log(`[reproduce] ${(e as Error).message}${tries < 2 ? ' — retrying' : ''}`);
        if (tries >= 2) {
          failed.push(`${runDir(root, c)}: ${(e as Error).message}`);
          return false;
        }
      }
    }
  };
  // Lanes take the next runnable run; a lane with nothing runnable waits for any running run to finish.
  let wake: () => void = () => {};
  let changed = new Promise<void>((r) => (wake = r));
  const finish = (dir: string) => {
    unfinished.delete(dir);
    wake();
    changed = new Promise<void>((r) => (wake = r));
  };
  const lane = async () => {
    while (queue.length) {
      const i = nextRunnable(queue, unfinished);
      if (i < 0) {
        await changed;
        continue;
      }
      const [{ c, dir }] = queue.splice(i, 1);
      running.add(c);
      const ok = await attempt(c);
      running.delete(c);
      finish(dir);
      if (!ok || !o.onFinished) continue;
      try {
        o.onFinished(c); // not retried with the run: the run itself is finished and cached
      } catch (e) {
        failed.push(`${runDir(root, c)}: after the run: ${(e as Error).message}`);
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(o.workers, queue.length)) }, lane);
  await Promise.all(lanes);
  if (failed.length) throw new Error(`${failed.length} run(s) failed:\n${failed.join('\n')}`);
  return configs.map((c) => {
    const r = loadRun(root, c);
    if (!r) throw new Error(`run ${runDir(root, c)} did not finish`);
    return r;
  });
}

/**
 * Estimated training CPU-minutes of a config, from the finished runs under `<resultsDir>/runs/<protocol>` of the same
 * dataset, model and width (and batch size, where there are such runs): their median seconds per unit of
 * `relativeCost`, times the config's cost. null without such a run to calibrate on.
 */
export function cpuMinutesEstimator(resultsDir: string, protocol: string): (c: TrainConfig) => number | null {
  // Calibrated on runs of the same dataset, model and width, and the same batch size when there are such runs.
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

/**
 * A run's training cost up to a constant (for scheduling only): experts × copies × epochs × width² × data fraction;
 * the balanced set (IF 1) has about 4× the images of an IF 100 one.
 */
export function relativeCost(c: TrainConfig): number {
  const data = c.data.fraction * (c.data.imbalanceFactor <= 1 ? 4 : 1);
  return c.model.numExperts * c.loss.numCopies * c.optim.epochs * c.model.width ** 2 * data;
}

function trainInWorker(
  c: TrainConfig,
  dir: string,
  tag: string,
  log: (s: string) => void,
  backend: string | undefined,
  root: string,
  onProgress?: (p: ProgressLine) => void,
): Promise<void> {
  const cfgFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-run-')), 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(c));
  const { cmd, args } = workerCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(
      cmd,
      [...args, 'train', '--config', cfgFile, '--out', dir, '--resume', '--results', root],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          ...(backend ? { NCL_BACKEND: backend } : {}),
          ...(onProgress ? { NCL_PROGRESS: 'lines' } : {}),
        },
      },
    );
    let tail = '';
    const relay = (buf: Buffer) => {
      for (const line of buf.toString().split('\n')) {
        if (!line.trim() || line.includes('looks like you are running TensorFlow.js') || /^=+$/.test(line))
          continue;
        const p = parseProgressLine(line);
        if (p) {
          onProgress?.(p);
          continue;
        }
        tail = line;
        if (line.startsWith('epoch ')) log(`  [${tag}] ${line}`);
      }
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', reject);
    child.on('close', (code) => {
      fs.rmSync(path.dirname(cfgFile), { recursive: true, force: true });
      if (code === 0) resolve();
      else reject(new Error(`run ${tag} failed (exit ${code}): ${tail}`));
    });
  });
}
