/**
 * Executors: where a sweep's runs train. `local` trains them here, in worker processes (runner.ts), calling
 * `onFinished` as each run finishes; `slurm` submits the missing ones to a SLURM cluster as a job array with a
 * follow-up job (slurm.ts) and, with `wait`, follows them until the follow-up job has ended. Any list of configs can be
 * handed to either (`ncl reproduce`, `ncl compare`, `ncl start` choose one with `--executor local|slurm`).
 */
import * as path from 'node:path';
import type { TrainConfig } from '../train/config';
import type { ProgressInfo } from '../train/progress';
import { ensureRuns, SweepFailed } from './runner';
import {
  followSubmission,
  submitRuns,
  SlurmOptions,
  type FollowProgress,
  type SlurmOptionsInput,
  type Submission,
  type SweepLabel,
} from './slurm';
import { runStatuses } from './status';

export const EXECUTORS = ['local', 'slurm'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

/** A sweep: runs to have finished under `resultsDir`, and what to do once they are. */
export interface Sweep {
  resultsDir: string;
  configs: TrainConfig[];
  /** What the sweep is (recorded with a SLURM submission, for `ncl status`). */
  label: SweepLabel;
  /** local: priority of a run, lower first (ensureRuns). */
  rank?: (c: TrainConfig) => number;
  /** local: called as each run finishes. */
  onFinished?: (c: TrainConfig) => unknown;
  /** slurm: the `ncl` arguments of the job that runs once every run has finished (e.g. building the figures). */
  followUp?: { args: string[]; name: string };
  log?: (s: string) => void;
  /** Stops the sweep (local: the workers stop at a checkpoint) or the waiting (slurm: the jobs go on). */
  signal?: AbortSignal;
}

/** `done`: every run finished (and, on SLURM, the follow-up job succeeded); else submitted and left running. */
export type SweepOutcome = { done: true; submission?: Submission } | { done: false; submission: Submission };

export interface Executor {
  name: ExecutorName;
  run(s: Sweep): Promise<SweepOutcome>;
}

/** Train here: `workers` processes (≤ 1: in this process). */
export function localExecutor(o: {
  workers: number;
  backend?: string;
  /** false: train nothing, wait for runs other processes train (see EnsureOptions.train). */
  train?: boolean;
  onProgress?: (c: TrainConfig, p: ProgressInfo) => void;
  pollMs?: number;
}): Executor {
  return {
    name: 'local',
    run: async (s) => {
      await ensureRuns(s.resultsDir, s.configs, {
        workers: o.workers,
        backend: o.backend,
        train: o.train,
        onProgress: o.onProgress,
        pollMs: o.pollMs,
        rank: s.rank,
        onFinished: s.onFinished,
        log: s.log,
        signal: s.signal,
      });
      return { done: true };
    },
  };
}

/**
 * Submit to SLURM (`submitRuns`); `onSubmitted` hears of the jobs. With `wait`, follow them (`onProgress` about
 * every `pollSeconds`) and reject with a SweepFailed naming each failed run (its one-line reason, its log) when the
 * follow-up job did not succeed.
 */
export function slurmExecutor(o: {
  slurm?: SlurmOptionsInput;
  wait?: boolean;
  backend?: string;
  onSubmitted?: (s: Submission) => void;
  onProgress?: (p: FollowProgress) => void;
}): Executor {
  const opts = SlurmOptions.parse(o.slurm ?? {});
  return {
    name: 'slurm',
    run: async (s) => {
      const sub = submitRuns(s.configs, {
        resultsDir: s.resultsDir,
        slurm: opts,
        sweep: s.label,
        followUp: s.followUp,
      });
      if (!sub.followUp) return { done: true, submission: sub }; // nothing missing: the caller goes on here
      o.onSubmitted?.(sub);
      if (!o.wait) return { done: false, submission: sub };
      const end = await followSubmission(sub, s.configs, {
        pollSeconds: opts.pollSeconds,
        onProgress: o.onProgress,
        signal: s.signal,
      });
      if (end.state === 'COMPLETED') return { done: true, submission: sub };
      if (end.state === 'WATCHING_STOPPED') return { done: false, submission: sub };
      const dirs = [
        ...new Set(sub.arrays.flatMap((a) => a.runs).concat(sub.skipped.inFlight.map((r) => r.run))),
      ];
      const failed = runStatuses(sub.resultsDir, dirs, null)
        .filter((r) => r.state !== 'finished')
        .map((r) => ({
          dir: path.join(sub.resultsDir, r.run),
          reason: `${r.state === 'failed' ? r.reason : r.state}${r.log ? ` (log: ${r.log})` : ''}`,
        }));
      throw new SweepFailed(failed, [
        {
          id: `${sub.followUp.name} job ${sub.followUp.job}`,
          reason: `${end.state}${end.reason !== 'None' ? ` (${end.reason})` : ''}; log: ${sub.followUp.log}`,
        },
      ]);
    },
  };
}

/** The executor `name` names ('local' by default), from the settings of both kinds (each takes its own). */
export function executorNamed(
  name: ExecutorName | undefined,
  o: Parameters<typeof localExecutor>[0] &
    Omit<Parameters<typeof slurmExecutor>[0], 'onProgress'> & {
      /** slurm, wait: progress of the sweep. */
      onSweepProgress?: (p: FollowProgress) => void;
    },
): Executor {
  if (name !== 'slurm')
    return localExecutor({
      workers: o.workers,
      backend: o.backend,
      train: o.train,
      onProgress: o.onProgress,
      pollMs: o.pollMs,
    });
  return slurmExecutor({
    slurm: o.slurm,
    wait: o.wait,
    backend: o.backend,
    onSubmitted: o.onSubmitted,
    onProgress: o.onSweepProgress,
  });
}
