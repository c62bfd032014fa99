/**
 * Writing a file so that it is either the old one or the new one, never part of one: the bytes go to
 * `<file>.tmp-<pid>`, every byte is checked written (a full disk writes fewer than asked, then fails), the temp file
 * is synced and renamed over `file`. On any failure (ENOSPC, EDQUOT, EROFS, EIO, ...) the temp file is removed, the
 * previous `file` is left as it was, and a `FileWriteError` names `file`. Every result file of a run and of
 * `ncl reproduce` is written this way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A file that could not be written: one line naming it, why, and that nothing half-written was left. */
export class FileWriteError extends Error {
  constructor(
    readonly file: string,
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

/** Why a file system call failed, in a few words: "ENOSPC: no space left on device". */
export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (!err.code) return err.message ?? String(e);
  const said = /^[A-Z]+: ([^,]+)/.exec(err.message ?? '')?.[1];
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
    `${file}: cannot write (${errnoText(e)}); ${kept ? 'the previous file is kept' : 'nothing written'}`,
  );
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
