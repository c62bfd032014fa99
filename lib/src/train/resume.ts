/**
 * The run folder: who may write to it and what it already holds. `openRunFolder` takes the folder's lock, removes
 * temp files of dead writers, and decides from what is there:
 *   - nothing (or only a config.json): a fresh run;
 *   - a checkpoint, or a finished run (metrics.json): refused unless `resume` (continue it; the checkpoint must be
 *     intact and of this config) or `restart` (remove the checkpoint and results, start over);
 *   - a finished run of another config: refused even with `resume`;
 *   - a finished run of this config with `resume`: a RunFinished (nothing to train, nothing is written: a run is
 *     never trained twice, e.g. when another process finished it between a caller's check and this lock).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJSON, configHash, TrainConfig } from './config';
import { checkpointState, loadCheckpoint, LoadedCheckpoint, removeStaleTemps } from './checkpoint';
import { RunFinished, TrainingError } from './errors';
import { readMetricsFile } from './files';
import { acquireRunLock, lockHolder } from './lock';
import type { EpochInfo, Metrics } from './types';

/** The trainer's state in a checkpoint. */
export interface RunState {
  configHash: string;
  /** Epochs done (the next epoch to train, 0-based). */
  nextEpoch: number;
  /** The run's number of epochs (`optim.epochs`). */
  totalEpochs?: number;
  epochs: EpochInfo[];
  seconds: number;
  images: number;
  /** The loss of the run's first step: the reference of the exploding-loss check (./guard.ts). */
  lossReference?: number | null;
}

/** The files a run writes in its folder, besides its lock. */
export const RUN_FILES = [
  'config.json',
  'subset.json',
  'checkpoint.bin',
  'metrics.json',
  'per_class.csv',
  'analysis.json.gz',
];

/** JSON from `file`, or a TrainingError naming it. */
export function readJSON(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrainingError(
      `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TrainingError(`${file}: not valid JSON (${(e as Error).message}); truncated or edited?`);
  }
}

/**
 * Read a finished run's metrics (null when the run has not finished), checked against their schema (./files.ts); a
 * TrainingError naming a corrupt or edited file.
 */
export function readMetrics(outDir: string): Metrics | null {
  const f = path.join(outDir, 'metrics.json');
  if (!fs.existsSync(f)) return null;
  return readMetricsFile(f);
}

/**
 * Whether `recordedHash` (from a checkpoint or a metrics.json) names config `c`. `recorded`, the config stored beside
 * that hash, lets a record hashed from the config as it was written (before canonicalisation) match too, when that
 * config parses to `c`.
 */
export function sameConfig(recordedHash: string, c: TrainConfig, recorded?: unknown): boolean {
  const hash = configHash(c);
  if (recordedHash === hash) return true;
  if (recorded === undefined) return false;
  const asWritten = createHash('sha256').update(canonicalJSON(recorded)).digest('hex').slice(0, 16);
  if (asWritten !== recordedHash) return false;
  const parsed = TrainConfig.safeParse(recorded);
  return parsed.success && configHash(parsed.data) === hash;
}

export interface RunFolder {
  /** The checkpoint to continue from (`resume`): verified intact and of this config. */
  checkpoint: LoadedCheckpoint<RunState> | null;
  release(): void;
}

/**
 * Whether a run of `c` may write to `outDir` as asked, without taking it: the same refusals as `openRunFolder`, for
 * a caller to fail fast (before loading data or a backend). Reads the checkpoint only when resuming.
 */
export function checkRunFolder(
  outDir: string,
  c: TrainConfig,
  opts: { resume?: boolean; restart?: boolean },
): void {
  const held = lockHolder(outDir);
  if (held) throw new TrainingError(held);
  if (!opts.restart) inspect(outDir, c, opts);
}

/** Take `outDir` for a run of `c` (see the file comment); throws a one-line TrainingError when refused. */
export function openRunFolder(
  outDir: string,
  c: TrainConfig,
  opts: { resume?: boolean; restart?: boolean },
): RunFolder {
  const lock = acquireRunLock(outDir);
  try {
    removeStaleTemps(outDir);
    if (opts.restart) {
      for (const f of RUN_FILES) fs.rmSync(path.join(outDir, f), { force: true });
      return { checkpoint: null, release: lock.release };
    }
    return { checkpoint: inspect(outDir, c, opts), release: lock.release };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** The refusals of the file comment; returns the checkpoint to resume from (verified), or null. */
function inspect(
  outDir: string,
  c: TrainConfig,
  opts: { resume?: boolean },
): LoadedCheckpoint<RunState> | null {
  const ckpt = path.join(outDir, 'checkpoint.bin');
  const finished = readMetrics(outDir);
  const cfgFile = path.join(outDir, 'config.json');
  const written = fs.existsSync(cfgFile) ? readJSON(cfgFile) : undefined;
  if (finished && !sameConfig(finished.configHash, c, finished.config))
    throw new TrainingError(
      `${outDir}: holds a finished run of another config (${finished.configHash}, this one ${configHash(c)}); ` +
        `choose another --out, or --restart to replace it`,
    );
  if (!opts.resume && finished)
    throw new TrainingError(`${outDir}: holds a finished run; --resume keeps it, --restart trains it again`);
  if (finished) throw new RunFinished(outDir);
  if (!fs.existsSync(ckpt)) return null;
  if (!opts.resume) {
    const s = checkpointState<Partial<RunState>>(ckpt);
    const of = s.totalEpochs ?? (s.configHash === configHash(c) ? c.optim.epochs : null);
    throw new TrainingError(
      `${outDir}: holds a partial run (checkpoint.bin after epoch ${s.nextEpoch}${of ? ` of ${of}` : ''}); ` +
        `--resume continues it, --restart starts it over, or choose another --out`,
    );
  }
  const loaded = loadCheckpoint<RunState>(ckpt);
  if (!sameConfig(loaded.state.configHash, c, written))
    throw new TrainingError(
      `${ckpt}: belongs to another config (${loaded.state.configHash}, this run ${configHash(c)}); ` +
        `--restart replaces it, or choose another --out`,
    );
  // config.json is rewritten when the run resumes: one edited by hand since is named rather than silently replaced.
  const edit = written === undefined ? null : editOf(written, c, loaded.state.configHash);
  if (edit)
    throw new TrainingError(
      `${cfgFile}: edited since the run started (${edit}); restore it, remove it (it is written again from this ` +
        `run's config), or --restart`,
    );
  return loaded;
}

/**
 * Where a run folder's config.json differs from the config `c` being resumed, as "path: value in the file, value of
 * the run"; null when it is `c`'s training (as this version writes it, or as an earlier one wrote it: its hash as
 * written is the checkpoint's `recordedHash`).
 */
export function editOf(written: unknown, c: TrainConfig, recordedHash: string): string | null {
  const parsed = TrainConfig.safeParse(written);
  if (parsed.success && configHash(parsed.data) === configHash(c)) return null;
  if (createHash('sha256').update(canonicalJSON(written)).digest('hex').slice(0, 16) === recordedHash)
    return null;
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));
  const first = (a: unknown, b: unknown, at: string[]): string | null => {
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const k of keys) {
        const d = first((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], [...at, k]);
        if (d) return d;
      }
      return null;
    }
    return canonicalJSON(a ?? null) === canonicalJSON(b ?? null) && (a === undefined) === (b === undefined)
      ? null
      : `${at.join('.') || 'the whole file'}: ${show(a)} in the file, ${show(b)} in this run`;
  };
  return first(written, JSON.parse(JSON.stringify(c)), []) ?? "not this run's config";
}
