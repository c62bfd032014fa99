/**
 * Finding a dataset on disk. Roots are searched in this order, the first holding the dataset's folder wins:
 *   1. `opts.dataDir`, when given (tests and callers that keep data elsewhere)
 *   2. `$NCL_DATA_DIR`
 *   3. the repository's `data/` (resolved from the package location, not the cwd: notebooks run in notebooks/)
 *   4. the system copy, `/usr/share/datasets` (Debian's `dataset-fashion-mnist` puts Fashion-MNIST there)
 * A dataset `d` under root `r` is the folder `r/<source dir>` (e.g. `data/fashion-mnist`). A folder holding some of
 * the required files but not all is an error naming the missing ones (never a silent fall-through to the next
 * root); a folder holding none of them is skipped. When the folder found ships a `SHA256SUMS` (as the embedded
 * Fashion-MNIST does), it must list every data file of the folder (an empty or partial one vouches for nothing and is
 * refused), and every file it lists is checked against it. A `$NCL_DATA_DIR` that is not a folder is an error, not a
 * root skipped.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, fileError } from './errors';
import type { DatasetSource } from './sources';

/** The checksum file a dataset folder may ship (`sha256sum` format: `<hex>  <file>` per line). */
export const CHECKSUM_FILE = 'SHA256SUMS';

export const SYSTEM_DATA_DIR = '/usr/share/datasets';

export interface SearchRoot {
  dir: string;
  /** Where the root came from, for messages: 'dataDir', 'NCL_DATA_DIR', 'repo', 'system'. */
  origin: string;
}

let repoRoot: string | null | undefined;

/**
 * The workspace root: the parent of the `ncl-lab` package folder (lib/) this file belongs to, or null when the
 * package is not inside the workspace (installed elsewhere).
 */
export function workspaceRoot(): string | null {
  if (repoRoot !== undefined) return repoRoot;
  repoRoot = null;
  let dir = __dirname;
  for (let k = 0; k < 6; k++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'ncl-lab') {
          repoRoot = path.dirname(dir);
          break;
        }
      } catch {
        /* not ours */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return repoRoot;
}

/** The repository's `data/` folder (the download cache), or `<cwd>/data` when the package is not in a workspace. */
export function repoDataDir(): string {
  const root = workspaceRoot();
  return root ? path.join(root, 'data') : path.resolve('data');
}

/** The roots to search, in order, without duplicates. */
export function searchRoots(opts: { dataDir?: string } = {}): SearchRoot[] {
  const roots: SearchRoot[] = [];
  if (opts.dataDir) roots.push({ dir: path.resolve(opts.dataDir), origin: 'dataDir' });
  const env = process.env.NCL_DATA_DIR;
  if (env) {
    const dir = path.resolve(env);
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
      throw new DataError(
        `NCL_DATA_DIR=${env}: no such folder; set it to the folder that holds the datasets, or unset it`,
      );
    roots.push({ dir, origin: 'NCL_DATA_DIR' });
  }
  roots.push({ dir: repoDataDir(), origin: 'repo' });
  roots.push({ dir: SYSTEM_DATA_DIR, origin: 'system' });
  const seen = new Set<string>();
  return roots.filter((r) => (seen.has(r.dir) ? false : (seen.add(r.dir), true)));
}

/** `dir/name`, or `dir/name.gz` when gzip is allowed and only that exists; null when neither does. */
export function findFile(dir: string, name: string, gzipOk: boolean): string | null {
  const plain = path.join(dir, name);
  if (fs.existsSync(plain)) return plain;
  if (gzipOk && fs.existsSync(plain + '.gz')) return plain + '.gz';
  return null;
}

/**
 * The folder of `source` under the first of `roots` that has one, with every required file (and its SHA256SUMS
 * verified when present); null when no root has any of its files. Throws a `DataError` naming the missing files of
 * an incomplete folder, or the file failing its checksum.
 */
export function locateSource(
  source: DatasetSource,
  roots: SearchRoot[],
): { dir: string; root: SearchRoot; checksums: string | null } | null {
  for (const root of roots) {
    const dir = path.join(root.dir, source.dir);
    const missing = source.required.filter((f) => findFile(dir, f, source.gzipOk) == null);
    if (missing.length === source.required.length) continue;
    if (missing.length) {
      const names = missing.map((f) => (source.gzipOk ? `${f}[.gz]` : f)).join(', ');
      throw fileError(
        dir,
        `incomplete ${source.key} folder: missing ${names}; restore ${missing.length > 1 ? 'them' : 'it'} ` +
          `or remove the folder`,
      );
    }
    return { dir, root, checksums: verifyChecksums(dir, dataFiles(source, dir)) };
  }
  return null;
}

/** The data files of `source` in `dir` (each required file as found: plain, or gzipped where allowed). */
export function dataFiles(source: DatasetSource, dir: string): string[] {
  return source.required.flatMap((f) => {
    const found = findFile(dir, f, source.gzipOk);
    return found ? [path.basename(found)] : [];
  });
}

/** Files already verified in this process, by path, with the size and mtime they had then. */
const verified = new Map<string, string>();

/**
 * Check every file listed in `dir/SHA256SUMS` against it; returns that file's path, or null when `dir` has none.
 * Throws a `DataError` naming a listed file that is missing or differs, or SHA256SUMS itself when it lists nothing or
 * leaves out one of `covers` (the folder's data files, `dataFiles`): it vouches for all of them or is not trusted. A
 * file unchanged (size, mtime) since it was verified in this process is not read again.
 */
export function verifyChecksums(dir: string, covers: string[] = []): string | null {
  const sums = path.join(dir, CHECKSUM_FILE);
  if (!fs.existsSync(sums)) return null;
  const lines = fs
    .readFileSync(sums, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (!lines.length) throw fileError(sums, 'lists no file; restore it or remove it');
  const listed = new Set(lines.map((l) => /^[0-9a-fA-F]{64} [ *](?:\.\/)?(.+)$/.exec(l)?.[1]));
  const unlisted = covers.filter((f) => !listed.has(f));
  if (unlisted.length)
    throw fileError(
      sums,
      `does not list ${unlisted.join(', ')}; it must cover every data file, restore it or remove it`,
    );
  for (const line of lines) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw fileError(sums, `not a sha256sum line: '${line.slice(0, 80)}'`);
    const file = path.join(dir, m[2]);
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) throw fileError(file, `missing (listed in ${CHECKSUM_FILE})`);
    const stamp = `${st.size}:${st.mtimeMs}:${m[1].toLowerCase()}`;
    if (verified.get(file) === stamp) continue;
    const got = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (got !== m[1].toLowerCase())
      throw fileError(
        file,
        `SHA-256 ${got} differs from ${CHECKSUM_FILE}'s ${m[1].toLowerCase()} (corrupt or replaced)`,
      );
    verified.set(file, stamp);
  }
  return sums;
}
