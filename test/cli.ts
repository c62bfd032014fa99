/**
 * The `ncl` command line in child processes, for the tests that run it: `ncl` waits for it, `nclBackground` starts
 * it and collects its output. Both run the TypeScript sources through tsx's loader, named by its path so that any
 * working directory works, with the wasm backend and the repository's own data unless `env` says otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve(__dirname, '..');
export const CLI = path.join(ROOT, 'lib/src/cli/main.ts');
export const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
/** What a CLI under test runs with: the wasm backend, the data set of the repository. */
export const CLI_SETTINGS = { NCL_BACKEND: 'wasm', NCL_DATA_DIR: '' };
export const CLI_ENV: NodeJS.ProcessEnv = { ...process.env, ...CLI_SETTINGS };

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** `ncl args`, run to its end: exit status, stdout, stderr. */
export function ncl(
  args: string[],
  o: CliOptions = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: o.cwd ?? ROOT,
    env: o.env ?? CLI_ENV,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `ncl args` started in the background: its stdout (`out`), stderr (`err`), both as they came (`text`), and its
 * exit status (-1 when a signal ended it).
 */
export function nclBackground(
  args: string[],
  o: CliOptions = {},
): {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  text: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: o.cwd ?? ROOT,
    env: o.env ?? CLI_ENV,
  });
  let out = '';
  let err = '';
  let text = '';
  child.stdout!.on('data', (b) => ((out += b), (text += b)));
  child.stderr!.on('data', (b) => ((err += b), (text += b)));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))),
  );
  return { child, out: () => out, err: () => err, text: () => text, exit };
}

/** `ncl reproduce fig8` on the smoke protocol with one seed and one worker, no PNG, into `results`. */
export const smokeFig8 = (results: string): string[] => [
  ...['reproduce', 'fig8', '--protocol', 'smoke', '--seeds', '1'],
  ...['--workers', '1', '--no-png', '--results', results],
];
