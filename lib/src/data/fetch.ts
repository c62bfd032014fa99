/**
 * Downloading a dataset from its official address, with a progress bar and a checksum check, into a cache root.
 *
 * Nothing half-written is ever left in the cache: every file is first written to a staging folder
 * `<root>/.partial-<dir>-<pid>-<rand>/` beside the target, checked (size, MD5/SHA-256, archive extraction), and only
 * then renamed into `<root>/<dir>/`. The staging folder is removed on success, on failure and on Ctrl-C.
 * `NCL_OFFLINE=1` (or `offline: true`) forbids downloads. `NCL_DATA_MIRROR=<base url>` (or `mirror`) replaces the
 * official addresses with `<base url>/<file name>` (a local mirror; the official checksums still apply).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { DataError, displayPath, fileError } from './errors';
import type { DatasetSource, RemoteFile } from './sources';
import { extractTar } from './tar';

export interface DownloadOptions {
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Give up when no byte arrives for this long (ms, default 60000). */
  stallMs?: number;
}

/** Is downloading forbidden by the environment (`NCL_OFFLINE` set to anything but '', '0' or 'false')? */
export function offlineByEnv(): boolean {
  const v = process.env.NCL_OFFLINE;
  return v != null && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}

async function fetchOnce(url: string, dest: string, label: string, o: DownloadOptions): Promise<void> {
  const ctrl = new AbortController();
  const stallMs = o.stallMs ?? 60000;
  let timer = setTimeout(() => ctrl.abort(), stallMs);
  const poke = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctrl.abort(), stallMs);
  };
  let bar: SingleBar | null = null;
  const fd = fs.openSync(dest, 'w');
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: ctrl.signal, redirect: 'follow' });
    } catch (e) {
      throw new Error(ctrl.signal.aborted ? `no response in ${stallMs / 1000} s` : causeOf(e));
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    const total = Number(res.headers.get('content-length') ?? 0);
    const show = o.progress ?? Boolean(process.stderr.isTTY);
    if (show) {
      bar = new SingleBar({
        format: `${label} [{bar}] {percentage}% | {got}/{all} MB`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
      });
      bar.start(total || 1, 0, { got: '0.0', all: total ? mb(total) : '?' });
    }
    const reader = res.body.getReader();
    let got = 0;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new Error(
          ctrl.signal.aborted ? `stalled for ${stallMs / 1000} s` : `connection lost (${causeOf(e)})`,
        );
      }
      if (chunk.done) break;
      fs.writeSync(fd, chunk.value);
      got += chunk.value.length;
      poke();
      bar?.update(total ? got : 0, { got: mb(got) });
    }
    if (total && got !== total) throw new Error(`transfer cut short (${got} of ${total} bytes)`);
  } finally {
    clearTimeout(timer);
    bar?.stop();
    fs.closeSync(fd);
  }
}

function causeOf(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message;
}

/** Hex digest of `file`. */
export function fileDigest(file: string, algo: 'md5' | 'sha256'): string {
  const h = crypto.createHash(algo);
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Why `file` does not match `remote`'s published size and checksums, or null when it does. */
export function checksumProblem(file: string, remote: RemoteFile): string | null {
  const size = fs.statSync(file).size;
  if (remote.bytes != null && size !== remote.bytes) return `size ${size} bytes, expected ${remote.bytes}`;
  if (remote.sha256) {
    const got = fileDigest(file, 'sha256');
    if (got !== remote.sha256.toLowerCase())
      return `checksum mismatch (SHA-256 ${got}, expected ${remote.sha256})`;
  }
  if (remote.md5) {
    const got = fileDigest(file, 'md5');
    if (got !== remote.md5.toLowerCase()) return `checksum mismatch (MD5 ${got}, expected ${remote.md5})`;
  }
  return null;
}

/**
 * Downloads `remote` to `dest`, trying its addresses in order, verifying size and checksum. The file appears at
 * `dest` only once it is complete and verified; a failure leaves nothing at `dest` and throws a one-line
 * `DataError` naming the file, the address(es) and what went wrong.
 */
export async function downloadFile(remote: RemoteFile, dest: string, o: DownloadOptions = {}): Promise<void> {
  const problems: string[] = [];
  for (const url of remote.urls) {
    const part = `${dest}.part-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    try {
      await fetchOnce(url, part, path.basename(dest), o);
      const bad = checksumProblem(part, remote);
      if (bad) throw new Error(bad);
      fs.renameSync(part, dest);
      return;
    } catch (e) {
      problems.push(`${url}: ${(e as Error).message}`);
    } finally {
      fs.rmSync(part, { force: true });
    }
  }
  throw new DataError(
    `${displayPath(dest)}: download failed (${problems.join('; ')}); nothing was saved`,
    dest,
  );
}

/** Removes `dir` (recursively) if the process is interrupted while `work` runs. */
async function cleanOnSignal<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const onSignal = (sig: NodeJS.Signals) => {
    fs.rmSync(dir, { recursive: true, force: true });
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.kill(process.pid, sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work();
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export interface FetchOptions extends DownloadOptions {
  /** Base URL replacing the official addresses (default `$NCL_DATA_MIRROR`). */
  mirror?: string;
}

/**
 * Downloads `source` into `<cacheRoot>/<source.dir>/` (extracting its archive if it has one) and returns that
 * folder. Atomic as seen from the cache: on any failure nothing new is left under `cacheRoot`.
 */
export async function fetchSource(
  source: DatasetSource,
  cacheRoot: string,
  o: FetchOptions = {},
): Promise<string> {
  const mirror = o.mirror ?? process.env.NCL_DATA_MIRROR;
  fs.mkdirSync(cacheRoot, { recursive: true });
  const target = path.join(cacheRoot, source.dir);
  const stage = path.join(
    cacheRoot,
    `.partial-${source.dir}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`,
  );
  return cleanOnSignal(stage, async () => {
    try {
      fs.mkdirSync(stage);
      const files = path.join(stage, 'files');
      fs.mkdirSync(files);
      for (const r of source.remote) {
        const remote = mirror ? { ...r, urls: [`${mirror.replace(/\/+$/, '')}/${r.file}`] } : r;
        const dest = path.join(source.archive ? stage : files, r.file);
        try {
          await downloadFile(remote, dest, o);
        } catch (e) {
          // Name the file by where it would have gone, not the staging folder.
          const msg = (e as Error).message.replace(displayPath(dest), displayPath(path.join(target, r.file)));
          throw new DataError(msg, path.join(target, r.file));
        }
      }
      let ready = files;
      if (source.archive) {
        const archive = path.join(stage, source.remote[0].file);
        const unpacked = path.join(stage, 'unpacked');
        fs.mkdirSync(unpacked);
        extractTar(archive, unpacked);
        ready = path.join(unpacked, source.archive.member);
        const missing = source.required.filter((f) => !fs.existsSync(path.join(ready, f)));
        if (missing.length) {
          throw fileError(
            path.join(target, source.remote[0].file),
            `archive lacks ${source.archive.member}/${missing.join(', ')}`,
          );
        }
      }
      if (!fs.existsSync(target)) {
        fs.renameSync(ready, target);
      } else {
        for (const f of fs.readdirSync(ready)) fs.renameSync(path.join(ready, f), path.join(target, f));
      }
      return target;
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
  });
}
