/**
 * File-system failures as one line naming the path at fault: a full disk, a read-only mount, a file where a folder
 * should be. `makeFolder` creates a folder level by level, so that the level that fails is the one named (Node's
 * recursive mkdir reports a read-only parent as ENOENT on the child, and a file in the way as EEXIST).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a file, not a folder',
  EEXIST: 'a file, not a folder',
  EISDIR: 'a folder, not a file',
  EIO: 'input/output error',
  ENOENT: 'no such file or folder',
};

/** A file-system failure: `message` is `<path>: <reason>`, one line. */
export class IOError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`${path}: ${REASONS[code] ?? code}`);
    this.name = 'IOError';
  }
}

/**
 * `e` as an IOError naming the file at fault, when it is a file-system error with a code: the destination of a copy,
 * else `file`, else the path the error carries. Anything else is returned as it is.
 */
export function ioError(e: unknown, file?: string): unknown {
  if (e instanceof IOError) return e;
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (!(e instanceof Error) || typeof err.code !== 'string' || !/^E[A-Z]+$/.test(err.code)) return e;
  const where = err.dest ?? file ?? err.path;
  return where ? new IOError(where, err.code) : e;
}

/** Run `write`, turning a file-system error into an IOError naming `file`. */
export function writing<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (e) {
    throw ioError(e, file);
  }
}

/**
 * Make sure folder `dir` exists, creating the missing levels one by one. Writes nothing when it exists (a read-only
 * folder that exists is fine). Throws an IOError naming the level that cannot be created, or the file in the way.
 */
export function makeFolder(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p, { throwIfNoEntry: false });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw ioError(e, p); // else: a file above, found next
    }
    if (st && !st.isDirectory()) throw new IOError(p, 'ENOTDIR');
    if (st) break;
    missing.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      fs.mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(p).isDirectory()) continue; // raced
      throw ioError(e, p);
    }
  }
}
