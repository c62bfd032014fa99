/**
 * One trainer per run folder: `<dir>/train.lock`, created exclusively (O_EXCL) and holding the owner's pid, host,
 * start time and (on Linux) the kernel's start tick of that process. A second trainer finds it and refuses, naming
 * the owner. A lock whose owner is gone is stale and taken over: on this host, a pid no longer running, a zombie (a
 * killed process not yet reaped by its parent: `kill(pid, 0)` still succeeds on it), or a pid now used by another
 * process (its start tick differs from the one recorded). A lock from another host cannot be checked from here: it
 * is refused, and the message says which file to remove once that process is known dead. A lock that cannot be
 * written whole (full disk) is removed again, and the error names it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoText, FileWriteError, writeAll, writeError } from '../atomic';
import { TrainingError } from './errors';

export const LOCK_FILE = 'train.lock';

interface Owner {
  pid: number;
  host: string;
  since: string;
  /** The process's start tick (`/proc/<pid>/stat` field 22), when the owner's system has /proc. */
  start?: string;
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

/** Why `dir` cannot be taken now (another live trainer, or one on another host holds it), or null. */
export function lockHolder(dir: string): string | null {
  const file = path.join(dir, LOCK_FILE);
  const owner = fs.existsSync(file) ? readOwner(file) : null;
  if (!owner) return null;
  if (owner.host !== os.hostname()) return foreignMessage(dir, file, owner);
  return processAlive(owner.pid, owner.start) ? liveMessage(dir, owner) : null;
}

function foreignMessage(dir: string, file: string, owner: Owner): string {
  return (
    `${dir}: in use by process ${owner.pid} on ${owner.host} (since ${owner.since}); ` +
    `if that process is gone, remove ${file}`
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
 * Take the lock of run folder `dir` (created if needed). Throws a TrainingError naming the live owner when another
 * process holds it.
 */
export function acquireRunLock(dir: string): RunLock {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new FileWriteError(dir, `${dir}: cannot create the run folder (${errnoText(e)})`);
  }
  const file = path.join(dir, LOCK_FILE);
  const start = procStat(process.pid)?.start;
  const me: Owner = {
    pid: process.pid,
    host: os.hostname(),
    since: new Date().toISOString(),
    ...(start ? { start } : {}),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        writeAll(fd, Buffer.from(JSON.stringify(me) + '\n'));
      } catch (e) {
        fs.rmSync(file, { force: true }); // never leave an empty or half-written lock behind
        throw writeError(file, e, false);
      } finally {
        fs.closeSync(fd);
      }
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
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError(file, e, false);
    }
    const owner = readOwner(file);
    if (owner && owner.host !== me.host) throw new TrainingError(foreignMessage(dir, file, owner));
    if (owner && (owner.pid === process.pid || processAlive(owner.pid, owner.start)))
      throw new TrainingError(liveMessage(dir, owner));
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
