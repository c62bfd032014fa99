/**
 * Writing a file so that it is either the old one or the new one, never part of one: the bytes go to
 * `<file>.tmp-<pid>`, every byte is checked written (a full disk writes fewer than asked, then fails), the temp file
 * is synced and renamed over `file`. On any failure (ENOSPC, EDQUOT, EROFS, EIO, ...) the temp file is removed, the
 * previous `file` is left as it was, and a `FileWriteError` names `file`. Every result file of a run and of
 * `ncl reproduce` is written this way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Why a file-system call failed, by error code, in a few words. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a folder',
  EEXIST: 'already exists',
  EISDIR: 'a folder, not a file',
  EIO: 'input/output error',
  ENOENT: 'no such file or folder',
};

/**
 * A file or folder that could not be written (or created): one line naming it and why (`code`, e.g. ENOSPC), and,
 * for a file, whether the previous one was kept. The one error of the lib for file-system failures.
 */
export class FileWriteError extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FileWriteError';
  }
}

/** The temp file `atomicWrite` writes `file` through, in this process. */
export function tempOf(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

/** Why a file-system call failed, in a few words: "ENOSPC: no space left on device". */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (!err.code) return err.message ?? String(e);
  const said = REASONS[err.code] ?? /^[A-Z]+: ([^,]+)/.exec(err.message ?? '')?.[1];
  return said ? `${err.code}: ${said}` : err.code;
}

/**
 * Write all of `buf` to `fd` from its current position: `fs.writeSync` may write fewer bytes than asked (a disk
 * filling up); the rest is written by further calls, and a call that writes nothing is an error.
 */
export function writeAll(fd: number, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done);
    if (!(n > 0)) throw Object.assign(new Error(`wrote ${done} of ${buf.length} bytes`), { code: 'EIO' });
    done += n;
  }
}

/** A `FileWriteError` for `file` from the error `e` of writing it. */
export function writeError(file: string, e: unknown, kept: boolean): FileWriteError {
  if (e instanceof FileWriteError) return e;
  return new FileWriteError(
    file,
    (e as NodeJS.ErrnoException).code ?? 'EIO',
    `${file}: cannot write (${errnoText(e)}); ${kept ? 'the previous file is kept' : 'nothing written'}`,
  );
}

/**
 * `e` as a FileWriteError naming the path at fault, when it is a file-system error with a code: the destination of a
 * copy, else `file`, else the path the error carries; `doing` says what failed ("cannot write"). Anything else is
 * returned as it is.
 */
export function ioError(e: unknown, file?: string, doing = 'cannot write'): unknown {
  if (e instanceof FileWriteError) return e;
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (!(e instanceof Error) || typeof err.code !== 'string' || !/^E[A-Z]+$/.test(err.code)) return e;
  const where = err.dest ?? file ?? err.path;
  return where ? new FileWriteError(where, err.code, `${where}: ${doing} (${errnoText(e)})`) : e;
}

/** Run `write`, turning a file-system error into a FileWriteError naming `file`. */
export function writing<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (e) {
    throw ioError(e, file);
  }
}

/** Write `bytes` to `file` atomically (see the file comment); its folder is created when missing. */
export function atomicWrite(file: string, bytes: string | Uint8Array): void {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const tmp = tempOf(file);
  const kept = fs.existsSync(file);
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, buf);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    throw writeError(file, e, kept);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Copy `from` to `to` atomically (read whole, then `atomicWrite`). */
export function atomicCopy(from: string, to: string): void {
  atomicWrite(to, fs.readFileSync(from));
}
