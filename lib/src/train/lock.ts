/**
 * One trainer per run folder: `<dir>/train.lock`, created exclusively (O_EXCL) and holding the owner's pid, host,
 * start time, (on Linux) the kernel's start tick of that process and, under SLURM, job id. A second trainer finds it
 * and refuses, naming the owner. A lock whose owner is gone is stale and taken over: on the same host, a pid no longer
 * running, a zombie (a killed process not yet reaped by its parent: `kill(pid, 0)` still succeeds on it), or a pid
 * now used by another process (its start tick differs from the one recorded); on another host (nodes sharing a file
 * system), the owner's SLURM job is no longer in `squeue`, or it is this very job (requeued: SLURM ends a job's
 * processes before starting it again). A lock from another host without a job, or when `squeue` cannot be asked,
 * cannot be checked from here: it is refused, and the message says which file to remove once that process is known
 * dead. A lock that cannot be written whole (full disk) is removed again, and the error names it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileWriteError, writeAll, writeError } from '../atomic';
import { TrainingError } from './errors';
import { ioError, makeFolder } from './folders';

export const LOCK_FILE = 'train.lock';

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /** The process's start tick (`/proc/<pid>/stat` field 22), when the owner's system has /proc. */
  start?: string;
  /** SLURM_JOB_ID of the owner, when it runs as a SLURM job (unchanged when the job is requeued). */
  job?: string;
}
type Owner = LockOwner;

/** A folder held by another live process: `owner` says which. */
export class RunLocked extends TrainingError {
  constructor(
    message: string,
    readonly owner: LockOwner,
  ) {
    super(message);
  }
}

/** Whether SLURM job `job` is still pending or running (true when `squeue` cannot be asked: unknown). */
function slurmJobAlive(job: string): boolean {
  try {
    return (
      execFileSync('squeue', ['-h', '-j', job, '-o', '%T'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 30_000,
      }).trim().length > 0
    );
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number | null };
    return err.code === 'ENOENT' || err.status == null; // no squeue here, or it timed out: cannot tell
  }
}

/** Whether the owner of a lock may still be writing: see the file comment. */
function ownerAlive(owner: Owner): boolean {
  if (owner.host === os.hostname()) return processAlive(owner.pid, owner.start);
  if (!owner.job) return true;
  if (owner.job === process.env.SLURM_JOB_ID) return false; // an earlier run of this requeued job
  return slurmJobAlive(owner.job);
}

/** State (R, S, D, Z, X, ...) and start tick of process `pid` from `/proc/<pid>/stat`; null when unreadable. */
export function procStat(pid: number): { state: string; start: string } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields.length > 19 ? { state: fields[0], start: fields[19] } : null;
}

const HAS_PROC = fs.existsSync('/proc/self/stat');

/**
 * Whether process `pid` runs on this machine: not a zombie (state Z) or dead (X), and, when `start` is given, the
 * same process that had that start tick (not another that got its pid since). Without /proc: signal 0 tests that
 * the pid exists.
 */
export function processAlive(pid: number, start?: string): boolean {
  if (!(Number.isInteger(pid) && pid > 0)) return false;
  if (HAS_PROC) {
    const s = procStat(pid);
    if (!s) return false;
    return s.state !== 'Z' && s.state !== 'X' && (start === undefined || s.start === start);
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function readOwner(file: string): Owner | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Owner;
    return Number.isInteger(o.pid) &&
      typeof o.host === 'string' &&
      (o.start === undefined || typeof o.start === 'string')
      ? o
      : null;
  } catch {
    return null; // vanished, or half-written by an owner that is still creating it
  }
}

/** The owner recorded in `dir`'s lock, alive or not (null without a readable lock). */
export function lockOwner(dir: string, name = LOCK_FILE): LockOwner | null {
  const file = path.join(dir, name);
  return fs.existsSync(file) ? readOwner(file) : null;
}

/** Why `dir` cannot be taken now (another live trainer, or one on another host holds it), or null. */
export function lockHolder(dir: string, name = LOCK_FILE): string | null {
  const file = path.join(dir, name);
  const owner = lockOwner(dir, name);
  if (!owner || !ownerAlive(owner)) return null;
  return owner.host !== os.hostname() ? foreignMessage(dir, file, owner) : liveMessage(dir, owner);
}

function foreignMessage(dir: string, file: string, owner: Owner): string {
  return (
    `${dir}: in use by process ${owner.pid} on ${owner.host}${owner.job ? ` (SLURM job ${owner.job})` : ''} ` +
    `(since ${owner.since}); if that process is gone, remove ${file}`
  );
}

function liveMessage(dir: string, owner: Owner): string {
  return (
    `${dir}: another training (process ${owner.pid}, since ${owner.since}) is writing to this folder; ` +
    `wait for it or choose another --out`
  );
}

export interface RunLock {
  file: string;
  release(): void;
}

/**
 * Take the lock `name` of folder `dir` (created if needed). Throws a RunLocked naming the live owner when another
 * process holds it, an IOError naming the file when it cannot be written (nothing is left behind).
 */
export function acquireRunLock(dir: string, name = LOCK_FILE): RunLock {
  makeFolder(dir);
  const file = path.join(dir, name);
  const start = procStat(process.pid)?.start;
  const me: Owner = {
    pid: process.pid,
    host: os.hostname(),
    since: new Date().toISOString(),
    ...(start ? { start } : {}),
  };
  if (process.env.SLURM_JOB_ID) me.job = process.env.SLURM_JOB_ID;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        writeAll(fd, Buffer.from(JSON.stringify(me) + '\n'));
      } catch (e) {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true }); // never leave an empty or half-written lock behind
        throw writeError(file, e, false);
      }
      fs.closeSync(fd);
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          if (readOwner(file)?.pid === me.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (e) {
      if (e instanceof FileWriteError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(e, file);
    }
    const owner = readOwner(file);
    if (owner && owner.host === me.host && owner.pid === process.pid)
      throw new RunLocked(liveMessage(dir, owner), owner);
    if (owner && ownerAlive(owner))
      throw new RunLocked(
        owner.host !== me.host ? foreignMessage(dir, file, owner) : liveMessage(dir, owner),
        owner,
      );
    if (!owner) {
      // Unreadable: being written right now, or garbage. Give a writer a moment, then treat it as stale.
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (age < 2000) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        continue;
      }
    }
    // Stale: its owner is dead. Remove it only if it is still the same file, then try again.
    const again = readOwner(file);
    if (again?.pid === owner?.pid && again?.since === owner?.since) fs.rmSync(file, { force: true });
  }
  throw new TrainingError(`${dir}: could not take ${file} (contended); try again`);
}
