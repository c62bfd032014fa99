/**
 * The local runner: make sure every config has a finished run under a results root, training the missing ones in
 * parallel worker processes (worker.ts) or in this process, in the planner's order (plan.ts). A run another process
 * is training (its folder's lock is held: on this machine, or by a SLURM job on another node) is waited for, then
 * read as cached. The runner can be stopped (`signal`): its workers get the signal, stop between two steps keeping
 * their last checkpoint, and release their locks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig, configHash } from '../train/config';
import { lockHolder, RunLocked } from '../train/lock';
import { readMetrics } from '../train/resume';
import { TrainingError, TrainingStopped } from '../train/errors';
import type { ProgressInfo } from '../train/progress';
import { isFinished, loadRun, runDir, RunResult } from './runs';
import { epochsInCheckpoint, laneFinish, relativeCost, startOrder } from './plan';
import { startWorker, type FailureCode, type Worker } from './worker';

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
  onFinished?: (c: TrainConfig) => unknown;
  /** Progress of each run a worker process trains (steps done of all its steps), about once a second. */
  onProgress?: (c: TrainConfig, p: ProgressInfo) => void;
  /**
   * Stop: no run is started any more, the runs in progress stop between two steps (workers receive the signal named
   * by the abort reason, 'SIGINT' or 'SIGTERM'), and `ensureRuns` rejects with a SweepStopped.
   */
  signal?: AbortSignal;
  /**
   * false: train nothing; wait for the runs other processes are training, and fail naming the runs nobody trains
   * (e.g. the figures job of a SLURM sweep). Default true.
   */
  train?: boolean;
  /** How often to look again at the runs other processes hold (ms, default 1000). */
  pollMs?: number;
}

/** What did not work in a sweep: runs that failed, and (reproduce) figures that could not be written. */
export class SweepFailed extends Error {
  constructor(
    readonly runs: { dir: string; reason: string }[],
    readonly figures: { id: string; reason: string }[] = [],
  ) {
    super(
      [
        ...(runs.length
          ? [`${runs.length} run(s) failed:`, ...runs.map((r) => `  ${r.dir}: ${r.reason}`)]
          : []),
        ...(figures.length
          ? [`${figures.length} figure(s) not written:`, ...figures.map((f) => `  ${f.id}: ${f.reason}`)]
          : []),
      ].join('\n'),
    );
    this.name = 'SweepFailed';
  }
}

/** A sweep stopped by a signal: `interrupted` runs keep their last checkpoint and continue when run again. */
export class SweepStopped extends Error {
  constructor(
    readonly signal: string,
    readonly interrupted: string[],
  ) {
    super(
      `stopped by ${signal}` +
        (interrupted.length
          ? `: ${interrupted.length} run(s) interrupted (${interrupted.join(', ')}); their checkpoints are kept, ` +
            'the same command continues them'
          : ''),
    );
    this.name = 'SweepStopped';
  }
}

/** A run still to train, as the scheduler sees it: its folder and the folders of the teachers it learns from. */
export interface QueuedRun {
  dir: string;
  teachers: string[];
}

/**
 * The index in `queue` of the next run to start, or -1 when none can start yet: the first run none of whose
 * teachers is still `unfinished` (queued or training) and that is not `busy` (held by another process). A student
 * thus starts as soon as its own teachers are done.
 */
export function nextRunnable<T extends QueuedRun>(
  queue: T[],
  unfinished: Set<string>,
  busy: (r: T) => boolean = () => false,
): number {
  return queue.findIndex((r) => r.teachers.every((t) => !unfinished.has(t)) && !busy(r));
}

type Outcome = { ok: true; elsewhere?: boolean } | { ok: false; code: FailureCode; reason: string };

/** Make sure every config has a finished run under `root`; returns them in input order. */
export async function ensureRuns(
  root: string,
  configs: TrainConfig[],
  o: EnsureOptions,
): Promise<RunResult[]> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const unique = new Map<string, TrainConfig>();
  for (const c of configs) unique.set(configHash(c), c);
  // Runs used as offline-distillation teachers of a student still to train need their checkpoint, not only their
  // metrics (a finished student needs nothing of its teachers any more; checkpoints are not committed).
  const teacherDirs = new Set(
    configs
      .filter((c) => !isFinished(root, c))
      .flatMap((c) => c.loss.teachers.map((t) => path.resolve(root, t))),
  );
  const cached = (c: TrainConfig) => {
    if (!isFinished(root, c)) return false;
    const dir = runDir(root, c);
    return !teacherDirs.has(path.resolve(dir)) || fs.existsSync(path.join(dir, 'checkpoint.bin'));
  };
  const todo = [...unique.values()].filter((c) => !cached(c));
  log(
    `[reproduce] ${unique.size} runs needed, ${unique.size - todo.length} cached, ${todo.length} to train (${o.workers} workers)`,
  );
  // The queue: the planner's order (by rank, then costliest first), so that the lanes end close together. A run that
  // learns from teachers waits until those teachers are trained; a run another process holds waits for it.
  const queue = startOrder(todo, relativeCost, o.rank).map((c) => ({
    c,
    dir: path.resolve(runDir(root, c)),
    teachers: c.loss.teachers.map((t) => path.resolve(root, t)),
  }));
  const unfinished = new Set(queue.map((q) => q.dir));
  const told = new Set<string>();
  const heldElsewhere = (q: { dir: string }) => {
    const holder = lockHolder(q.dir);
    if (holder && !told.has(q.dir)) {
      told.add(q.dir);
      log(`[reproduce] waiting: ${holder}`);
    }
    return holder != null;
  };
  const train = o.train ?? true;
  const workers = new Set<Worker>();
  const inProcess = new AbortController();
  let stoppedBy: string | null = null;
  const interrupted: string[] = [];
  const tagOf = (c: TrainConfig) => `${c.protocol}/${c.method}-${configHash(c)} seed ${c.seed}`;

  let done = 0;
  // Time left: the runs not finished, at the median seconds per unit of relativeCost of this call's finished runs
  // (each run's wall time, or its recorded training time if longer: a resumed run), on the lanes as the planner
  // schedules them.
  const secondsPerCost: number[] = [];
  const running = new Set<TrainConfig>();
  const timeLeft = (finished: TrainConfig) => {
    const rate = [...secondsPerCost].sort((a, b) => a - b)[secondsPerCost.length >> 1];
    const left = [...queue.map((q) => q.c), ...running].filter((c) => c !== finished);
    if (!left.length || rate == null) return '';
    const h = Math.max(
      ...laneFinish(
        left.map((c) => (rate * relativeCost(c)) / 3600),
        o.workers,
      ),
    );
    return h >= 1 ? `, ~${h.toFixed(1)} h left` : `, ~${Math.ceil(h * 60)} min left`;
  };

  const one = async (c: TrainConfig): Promise<Outcome> => {
    const dir = runDir(root, c);
    const tag = tagOf(c);
    if (cached(c)) {
      log(`[reproduce] ${tag}: finished by another process`);
      return { ok: true, elsewhere: true };
    }
    if (!train) return { ok: false, code: 'error', reason: 'not finished, and no process is training it' };
    const t0 = Date.now();
    const resumes = epochsInCheckpoint(dir, c);
    log(`[reproduce] start ${tag}${resumes ? ` (resumes after epoch ${resumes})` : ''}`);
    if (teacherDirs.has(path.resolve(dir)) && !fs.existsSync(path.join(dir, 'checkpoint.bin'))) {
      fs.rmSync(path.join(dir, 'metrics.json'), { force: true }); // a teacher without weights: train it again
    }
    let outcome: Outcome;
    if (o.workers <= 1) outcome = await trainHere(c, dir, root, inProcess.signal);
    else {
      const w = startWorker(
        { config: c, outDir: dir, resultsRoot: root, backend: o.backend },
        {
          onProgress: o.onProgress && ((p) => o.onProgress!(c, p)),
          onEpoch: (line) => log(`  [${tag}] ${line}`),
        },
      );
      workers.add(w);
      if (stoppedBy) w.kill(stoppedBy as NodeJS.Signals);
      outcome = await w.done;
      workers.delete(w);
    }
    if (!outcome.ok) return outcome;
    const seconds = (Date.now() - t0) / 1000;
    done++;
    // A resumed run's wall time misses its earlier sessions: its metrics hold the whole training time.
    const trained = readMetrics(dir)?.train.seconds ?? 0;
    secondsPerCost.push(Math.max(seconds, trained) / relativeCost(c));
    log(`[reproduce] done ${tag} in ${seconds.toFixed(0)} s (${done}/${todo.length}${timeLeft(c)})`);
    return outcome;
  };

  // A run that crashed is tried once more (a worker can die for reasons outside the run, e.g. a rebuild of lib/dist
  // while it starts); one that failed with a reason is not (it would fail again). The others go on, and the failures
  // are reported together at the end.
  const failed: { dir: string; reason: string }[] = [];
  const attempt = async (c: TrainConfig): Promise<Outcome> => {
    for (let tries = 1; ; tries++) {
      const r = await one(c);
      if (r.ok || r.code === 'locked' || r.code === 'stopped') return r;
      const again = r.code === 'crashed' && tries < 2 && !stoppedBy;
      log(`[reproduce] ${tagOf(c)}: ${r.reason}${again ? ' — retrying' : ''}`);
      if (!again) return r;
    }
  };

  // Lanes take the next runnable run; a lane with nothing runnable waits for a run to finish, or looks again at the
  // runs other processes hold.
  let wake: () => void = () => {};
  let changed = new Promise<void>((r) => (wake = r));
  const notify = () => {
    wake();
    changed = new Promise<void>((r) => (wake = r));
  };
  const stop = () => {
    stoppedBy = String(o.signal?.reason ?? 'SIGTERM');
    if (!/^SIG[A-Z]+$/.test(stoppedBy)) stoppedBy = 'SIGTERM';
    for (const w of workers) w.kill(stoppedBy as NodeJS.Signals);
    inProcess.abort();
    notify();
  };
  if (o.signal?.aborted) stop();
  o.signal?.addEventListener('abort', stop, { once: true });
  const lane = async () => {
    while (queue.length && !stoppedBy) {
      const i = nextRunnable(queue, unfinished, heldElsewhere);
      if (i < 0) {
        await Promise.race([changed, new Promise((r) => setTimeout(r, o.pollMs ?? 1000))]);
        continue;
      }
      const [item] = queue.splice(i, 1);
      const { c, dir } = item;
      running.add(c);
      const r = await attempt(c);
      running.delete(c);
      if (!r.ok && r.code === 'locked') {
        queue.splice(i, 0, item); // taken by another process meanwhile: wait for it like any held run
        continue;
      }
      if (!r.ok && r.code === 'stopped') {
        interrupted.push(path.relative(root, dir));
        continue;
      }
      unfinished.delete(dir);
      notify();
      if (!r.ok) {
        failed.push({ dir: runDir(root, c), reason: r.reason });
        continue;
      }
      if (!o.onFinished) continue;
      try {
        await o.onFinished(c); // not retried with the run: the run itself is finished and cached
      } catch (e) {
        failed.push({ dir: runDir(root, c), reason: `after the run: ${(e as Error).message}` });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.workers, queue.length)) }, lane));
  } finally {
    o.signal?.removeEventListener('abort', stop);
  }
  if (stoppedBy) throw new SweepStopped(stoppedBy, interrupted);
  if (failed.length) throw new SweepFailed(failed);
  return configs.map((c) => {
    const r = loadRun(root, c);
    if (!r) throw new Error(`run ${runDir(root, c)} did not finish`);
    return r;
  });
}

/** Train `c` in this process (workers ≤ 1), as a worker would, with the same outcomes. */
async function trainHere(c: TrainConfig, dir: string, root: string, signal: AbortSignal): Promise<Outcome> {
  const { trainRun } = await import('../train/trainer');
  try {
    const { model } = await trainRun(c, {
      outDir: dir,
      resume: true,
      progress: false,
      resultsRoot: root,
      signal,
    });
    model.dispose();
    return { ok: true };
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0];
    if (e instanceof RunLocked) return { ok: false, code: 'locked', reason };
    if (e instanceof TrainingStopped) return { ok: false, code: 'stopped', reason };
    if (e instanceof TrainingError) return { ok: false, code: 'error', reason };
    return { ok: false, code: 'crashed', reason: `${(e as Error).name}: ${reason}` };
  }
}
