/**
 * Finding a dataset on disk. Roots are searched in this order, the first holding every required file wins:
 *   1. `opts.dataDir`, when given (tests and callers that keep data elsewhere)
 *   2. `$NCL_DATA_DIR`
 *   3. the repository's `data/` (resolved from the package location, not the cwd: notebooks run in notebooks/)
 *   4. the system copy, `/usr/share/datasets` (Debian's `dataset-fashion-mnist` puts Fashion-MNIST there)
 * A dataset `d` under root `r` is the folder `r/<source dir>` (e.g. `data/fashion-mnist`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetSource } from './sources';

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
  if (env) roots.push({ dir: path.resolve(env), origin: 'NCL_DATA_DIR' });
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

/** The folder holding every required file of `source`, searching `roots` in order; null when none does. */
export function locateSource(
  source: DatasetSource,
  roots: SearchRoot[],
): { dir: string; root: SearchRoot } | null {
  for (const root of roots) {
    const dir = path.join(root.dir, source.dir);
    if (source.required.every((f) => findFile(dir, f, source.gzipOk) != null)) return { dir, root };
  }
  return null;
}
