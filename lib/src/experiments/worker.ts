/**
 * A training worker: a child process (`startWorker` forks this module) that trains one run and tells its parent how
 * it goes in structured messages over the IPC channel (`FromWorker`): progress, each epoch's line, then `finished`,
 * or `failed` with a code and a one-line reason. SIGINT or SIGTERM (which the parent forwards when it is stopped) and
 * the loss of the parent (the channel closes) stop the run between two steps: the last finished epoch's checkpoint
 * stays, the folder's lock is released, and the worker reports `failed` with code 'stopped'.
 */
import { fork } from 'node:child_process';
import type { TrainConfig } from '../train/config';
import type { ProgressInfo } from '../train/progress';

/** What the parent sends: the run to train (always resumed from its checkpoint when there is one). */
export interface TrainRequest {
  config: TrainConfig;
  outDir: string;
  /** The results root that `loss.teachers` folders are relative to. */
  resultsRoot: string;
  /** Force this tfjs backend (default: whatever initBackend picks). */
  backend?: string;
}

/**
 * Why a run did not finish: 'locked' (another process holds its folder), 'stopped' (a signal), 'error' (the run
 * failed: its reason is the trainer's one-line error), 'crashed' (the worker ended without saying why).
 */
export type FailureCode = 'locked' | 'stopped' | 'error' | 'crashed';

export type FromWorker =
  | { type: 'progress'; progress: ProgressInfo }
  | { type: 'epoch'; line: string }
  | { type: 'finished' }
  | { type: 'failed'; code: Exclude<FailureCode, 'crashed'>; reason: string };

export type WorkerOutcome = { ok: true } | { ok: false; code: FailureCode; reason: string };

export interface Worker {
  pid: number | undefined;
  /** Settles when the worker process has exited. */
  done: Promise<WorkerOutcome>;
  /** Send the worker a signal (it stops between two steps). */
  kill(signal: NodeJS.Signals): void;
}

/** Lines of a worker's own output that say nothing (tfjs's advice to install tfjs-node). */
const noise = (line: string) =>
  !line.trim() || line.includes('looks like you are running TensorFlow.js') || /^=+$/.test(line);

/** Train `req` in a new worker process. */
export function startWorker(
  req: TrainRequest,
  o: { onProgress?: (p: ProgressInfo) => void; onEpoch?: (line: string) => void } = {},
): Worker {
  const child = fork(__filename, [], {
    execArgv: process.execArgv,
    env: { ...process.env, ...(req.backend ? { NCL_BACKEND: req.backend } : {}) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let outcome: WorkerOutcome | null = null;
  let last = '';
  const keep = (buf: Buffer) => {
    for (const line of buf.toString().split('\n')) if (!noise(line)) last = line;
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('message', (m: FromWorker) => {
    if (m.type === 'progress') o.onProgress?.(m.progress);
    else if (m.type === 'epoch') o.onEpoch?.(m.line);
    else if (m.type === 'finished') outcome = { ok: true };
    else outcome = { ok: false, code: m.code, reason: m.reason };
  });
  const done = new Promise<WorkerOutcome>((resolve) => {
    child.on('error', (e) => resolve({ ok: false, code: 'crashed', reason: e.message }));
    child.on('exit', (code, signal) =>
      resolve(
        outcome ?? {
          ok: false,
          code: 'crashed',
          reason: `worker ended (${signal ?? `exit ${code}`}) without a result${last ? `: ${last}` : ''}`,
        },
      ),
    );
  });
  child.send(req);
  return {
    pid: child.pid,
    done,
    kill: (signal) => {
      if (child.exitCode == null && child.signalCode == null) child.kill(signal);
    },
  };
}

/** The worker's side: train the one run the parent sends, report, exit. */
function serve(): void {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  const send = (m: FromWorker) =>
    new Promise<void>((resolve) => (process.connected ? process.send!(m, () => resolve()) : resolve()));
  process.once('message', (req: TrainRequest) => {
    void train(req, controller.signal, (m) => void send(m)).then(async (result) => {
      await send(result);
      process.exit(result.type === 'finished' ? 0 : 1);
    });
  });
}

async function train(
  req: TrainRequest,
  signal: AbortSignal,
  send: (m: FromWorker) => void,
): Promise<Extract<FromWorker, { type: 'finished' | 'failed' }>> {
  try {
    const { initBackend } = await import('../backend');
    const { trainRun } = await import('../train/trainer');
    const { formatEpochLine } = await import('../train/progress');
    await initBackend({ quiet: true });
    const { model } = await trainRun(req.config, {
      outDir: req.outDir,
      resume: true,
      resultsRoot: req.resultsRoot,
      progress: false,
      signal,
      onProgress: (progress) => send({ type: 'progress', progress }),
      onEpoch: (e) => send({ type: 'epoch', line: formatEpochLine(e, req.config.optim.epochs) }),
    });
    model.dispose();
    return { type: 'finished' };
  } catch (e) {
    const { RunLocked } = await import('../train/lock');
    const { TrainingStopped, TrainingError } = await import('../train/errors');
    const err = e as Error;
    const known = e instanceof TrainingError || err.name === 'DataError' || err.name === 'IOError';
    if (!known && !(e instanceof TrainingStopped)) process.stderr.write(`${err.stack ?? err}\n`);
    return {
      type: 'failed',
      code: e instanceof RunLocked ? 'locked' : e instanceof TrainingStopped ? 'stopped' : 'error',
      reason: (known || e instanceof TrainingStopped ? err.message : `${err.name}: ${err.message}`).split(
        '\n',
      )[0],
    };
  }
}

if (require.main === module) serve();
