/**
 * One trainer per run folder: `<dir>/train.lock`, created exclusively (O_EXCL) and holding the owner's pid, host
 * and start time. A second trainer finds it and refuses, naming the owner. A lock whose owner is gone (same host,
 * pid no longer running: killed, crashed, machine rebooted) is stale and taken over. A lock from another host cannot
 * be checked from here: it is refused, and the message says which file to remove once that process is known dead.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TrainingError } from './errors';

export const LOCK_FILE = 'train.lock';

interface Owner {
  pid: number;
  host: string;
  since: string;
}

/** Whether process `pid` runs on this machine (signal 0 tests for existence without sending anything). */
export function processAlive(pid: number): boolean {
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
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : null;
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
  return processAlive(owner.pid) ? liveMessage(dir, owner) : null;
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
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const me: Owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(me) + '\n');
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
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readOwner(file);
    if (owner && owner.host !== me.host) throw new TrainingError(foreignMessage(dir, file, owner));
    if (owner && (owner.pid === process.pid || processAlive(owner.pid)))
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
