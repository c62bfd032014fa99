/**
 * Temporary folders (a PNG render's page, Chromium profile and screenshot: several MB) that never outlive their
 * process for long. Each is `<tmpdir>/ncl-<kind>-<pid>-XXXXXX`; it is removed when its user is done (`withTempDir`'s
 * finally), at the process's exit (an uncaught error, `process.exit`, a signal the CLI handles), and, for a process
 * that could run nothing on its way out (SIGKILL, an unhandled SIGTERM), by the next process that makes one: the
 * folders of pids no longer running are removed then.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processAlive } from './train/lock';

const live = new Set<string>();
let hooked = false;

/** The pid a temp folder name `ncl-<kind>-<pid>-XXXXXX` records, or null for other names. */
export function tempDirPid(name: string): number | null {
  const m = /^ncl-[a-z]+-(\d+)-[A-Za-z0-9]{6}$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Remove the temp folders (in `root`, default the OS's) of processes no longer running; the names removed. */
export function removeStaleTempDirs(root = os.tmpdir()): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempDirPid(name);
    if (pid === null || pid === process.pid || processAlive(pid)) continue;
    try {
      fs.rmSync(path.join(root, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      /* another process's, or already gone */
    }
  }
  return removed;
}

/** A new temp folder of `kind` (letters), removed at the latest when this process exits; see the file comment. */
export function makeTempDir(kind: string, root = os.tmpdir()): string {
  removeStaleTempDirs(root);
  const dir = fs.mkdtempSync(path.join(root, `ncl-${kind}-${process.pid}-`));
  live.add(dir);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const d of live) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

/** Remove a folder made by `makeTempDir`. */
export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
}

/** `fn(dir)` with a fresh temp folder of `kind`, removed after it however `fn` ends. */
export function withTempDir<T>(kind: string, fn: (dir: string) => T): T {
  const dir = makeTempDir(kind);
  try {
    return fn(dir);
  } finally {
    removeTempDir(dir);
  }
}
