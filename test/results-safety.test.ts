// Runs and results survive full disks, empty paths, zombies, bad numbers and misread files (issue #44).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { initBackend, train, experiments, data } from '../lib/src';
import type { Metrics, TrainConfig } from '../lib/src/train';
import { acquireRunLock, LOCK_FILE } from '../lib/src/train/lock';
import { removeStaleTemps } from '../lib/src/train/checkpoint';
import { buildProgram, errorLine } from '../lib/src/cli/main';
import { CLI, CLI_ENV, ncl, ROOT, smokeFig8, TSX } from './cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-44-'));

before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function smoke(method: 'ce' | 'nclpp', patch: (c: TrainConfig) => void = () => {}): TrainConfig {
  const c = train.getProtocol('smoke', method, 3);
  patch(c);
  return train.TrainConfig.parse(c);
}

const ENV = CLI_ENV;

/** The one-line error `ncl args` ends with when run in this process from `cwd` ('' when it succeeds). */
async function errorOf(args: string[], cwd: string): Promise<string> {
  const back = process.cwd();
  process.chdir(cwd);
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'ncl', ...args]);
    return '';
  } catch (e) {
    return errorLine(e);
  } finally {
    process.chdir(back);
  }
}

/** Exit 1, the last line of stderr (after progress lines) matching `re`. */
function failedWith(r: ReturnType<typeof ncl>, re: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr.trim().split('\n').pop()!, re);
}

/** Every file under `dir`, relative, with its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out.set(f, fs.readFileSync(p));
  }
  return out;
}

/**
 * While `fn` runs, writes to files whose path matches `victim` behave as on a disk that fills up: the first write
 * puts half its bytes and returns that count (as write(2) does), every later one fails with ENOSPC.
 */
async function withFullDisk<T>(victim: RegExp, fn: () => Promise<T> | T): Promise<T> {
  const open = fs.openSync;
  const write = fs.writeSync;
  const paths = new Map<number, string>();
  const wrote = new Set<number>();
  // The module object itself (what the lib's `fs.writeSync` reads), not this file's read-only namespace.
  const f = createRequire(__filename)('node:fs') as Record<string, unknown>;
  f.openSync = (p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (open as (...a: unknown[]) => number)(p, ...rest);
    paths.set(fd, String(p));
    wrote.delete(fd);
    return fd;
  };
  f.writeSync = (fd: number, buf: unknown, ...rest: unknown[]) => {
    if (!victim.test(paths.get(fd) ?? '')) return (write as (...a: unknown[]) => number)(fd, buf, ...rest);
    if (wrote.has(fd))
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    wrote.add(fd);
    const bytes = typeof buf === 'string' ? Buffer.from(buf) : (buf as Uint8Array);
    const offset = typeof rest[0] === 'number' ? rest[0] : 0;
    const length = typeof rest[1] === 'number' ? rest[1] : bytes.length - offset;
    return write(fd, bytes, offset, Math.max(1, length >> 1));
  };
  try {
    return await fn();
  } finally {
    f.openSync = open;
    f.writeSync = write;
  }
}

test('#44.1 a full disk never replaces a good file: the checkpoint of a resumed run is kept, the error names it', async () => {
  const c = smoke('ce', (c) => (c.optim.epochs = 3));
  const dir = path.join(tmp, 'full-ckpt');
  await assert.rejects(
    train.trainRun(c, { outDir: dir, progress: false, deadline: Date.now() }),
    train.TrainingStopped,
  );
  const ckpt = path.join(dir, 'checkpoint.bin');
  const good = fs.readFileSync(ckpt);
  await withFullDisk(/checkpoint\.bin/, () =>
    assert.rejects(
      train.trainRun(c, { outDir: dir, resume: true, progress: false }),
      (e: Error) =>
        e.message === `${ckpt}: cannot write (ENOSPC: no space left on device); the previous file is kept`,
    ),
  );
  assert.deepEqual(fs.readFileSync(ckpt), good, 'the epoch-1 checkpoint is intact');
  assert.equal(train.loadCheckpoint<{ nextEpoch: number }>(ckpt).state.nextEpoch, 1);
  assert.deepEqual(
    fs.readdirSync(dir).sort(),
    ['checkpoint.bin', 'config.json', 'subset.json'],
    'no temp file, no lock, no result',
  );
  // Any results file: a short write is an error naming it, the old bytes stay.
  const file = path.join(dir, 'config.json');
  const before = fs.readFileSync(file);
  await withFullDisk(/config\.json/, () =>
    assert.throws(
      () => train.atomicWrite(file, 'x'.repeat(5000)),
      new RegExp(
        `^FileWriteError: ${file}: cannot write \\(ENOSPC: no space left on device\\); the previous file is kept$`,
      ),
    ),
  );
  assert.deepEqual(fs.readFileSync(file), before);
  // And the run still resumes to the end once there is room.
  const { model } = await train.trainRun(c, { outDir: dir, resume: true, progress: false });
  model.dispose();
  assert.ok(fs.existsSync(path.join(dir, 'metrics.json')));
});

test('#44.1 a lock that cannot be written whole is removed again, naming it', async () => {
  const dir = path.join(tmp, 'full-lock');
  fs.mkdirSync(dir);
  const file = path.join(dir, LOCK_FILE);
  await withFullDisk(/train\.lock/, () =>
    assert.throws(
      () => acquireRunLock(dir),
      (e: Error) => e.message === `${file}: cannot write (ENOSPC: no space left on device); nothing written`,
    ),
  );
  assert.deepEqual(fs.readdirSync(dir), [], 'no empty train.lock left behind');
  acquireRunLock(dir).release();
});

/** A small tmpfs at `dir` (root with mount rights only); false where it cannot be mounted. */
function mountTmpfs(dir: string, size: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0;
}

/** Fill the file system of `dir` until `free` bytes are left. */
function fillUntil(dir: string, free: number): void {
  const st = fs.statfsSync(dir);
  const avail = st.bavail * st.bsize;
  if (avail > free) fs.writeFileSync(path.join(dir, 'filler'), Buffer.alloc(avail - free));
}

test('#44.1 CLI on a real full disk (3 MiB tmpfs): resume and a fresh run exit 1 naming the file; the good checkpoint stays', (t) => {
  const mnt = path.join(tmp, 'tmpfs');
  if (!mountTmpfs(mnt, '3m')) {
    t.skip(
      'cannot mount a tmpfs here (not root, or no mount rights); the injected short writes above cover it',
    );
    return;
  }
  try {
    const part = path.join(mnt, 'part');
    const args = ['train', '--protocol', 'smoke', '--method', 'nclpp', '--set', 'optim.epochs=4'];
    const first = ncl([...args, '--out', part, '--time-limit', '0.00001']);
    assert.equal(first.status, 0, first.stderr);
    const ckpt = path.join(part, 'checkpoint.bin');
    const good = fs.readFileSync(ckpt);
    fillUntil(mnt, good.length >> 1);
    const r = ncl([...args, '--resume', '--out', part]);
    failedWith(
      r,
      new RegExp(
        `^ncl: error: ${ckpt}: cannot write \\(ENOSPC: no space left on device\\); the previous file is kept$`,
      ),
    );
    assert.deepEqual(fs.readFileSync(ckpt), good);
    assert.deepEqual(fs.readdirSync(part).sort(), ['checkpoint.bin', 'config.json', 'subset.json']);
    // A fresh run with about a checkpoint's room: it stops at the first file that does not fit; every file there is
    // whole (config.json parses, subset.json loads), nothing half-written, no lock.
    fs.rmSync(path.join(mnt, 'filler'));
    const fresh = path.join(mnt, 'fresh');
    fillUntil(mnt, good.length + (good.length >> 1));
    const f = ncl([...args, '--out', fresh]);
    assert.equal(f.status, 1, f.stderr);
    assert.match(
      f.stderr.trim().split('\n').pop()!,
      new RegExp(`^ncl: error: ${fresh}/[a-z_.]+: cannot write \\(ENOSPC`),
    );
    const left = fs.readdirSync(fresh).sort();
    assert.ok(!left.includes(LOCK_FILE) && !left.some((n) => n.includes('.tmp-')), left.join(' '));
    for (const n of left) {
      if (n.endsWith('.json')) JSON.parse(fs.readFileSync(path.join(fresh, n), 'utf8'));
      if (n === 'checkpoint.bin') train.loadCheckpoint(path.join(fresh, n));
    }
  } finally {
    spawnSync('umount', [mnt]);
  }
});

/** A zombie: a process that has exited while its parent (a `sleep`) never reaps it. Returns its pid and the parent. */
async function zombie(): Promise<{ pid: number; parent: ReturnType<typeof spawn> }> {
  // The child outlives the shell's exec: a child that exits first may be reaped by the shell before it becomes `sleep`.
  const parent = spawn('/bin/sh', ['-c', '/bin/sh -c "sleep 0.3; exit 0" & echo $!; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const pid = await new Promise<number>((resolve) =>
    parent.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))),
  );
  for (let t = 0; t < 100 && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); t++)
    await new Promise((r) => setTimeout(r, 50));
  return { pid, parent };
}

test('#44.4 a zombie owner counts as dead: its lock is taken over and its temp files removed', async (t) => {
  if (process.platform !== 'linux') return t.skip('zombies are read from /proc');
  const { pid, parent } = await zombie();
  try {
    assert.match(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), /\) Z /, 'a real zombie');
    assert.doesNotThrow(() => process.kill(pid, 0), 'signal 0 still reaches it');
    const dir = path.join(tmp, 'zombie');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid, host: os.hostname(), since: '2024-01-01T00:00:00.000Z' }),
    );
    fs.writeFileSync(path.join(dir, `checkpoint.bin.tmp-${pid}`), 'half');
    const lock = acquireRunLock(dir);
    assert.equal(JSON.parse(fs.readFileSync(lock.file, 'utf8')).pid, process.pid);
    assert.deepEqual(removeStaleTemps(dir), [`checkpoint.bin.tmp-${pid}`]);
    lock.release();
  } finally {
    parent.kill('SIGKILL');
  }
});

test('#44.4 a pid used by another process since (start tick differs) is not the owner; the owner itself is', async (t) => {
  if (process.platform !== 'linux') return t.skip('start ticks are read from /proc');
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const start = fs.readFileSync(`/proc/${other.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    const dir = path.join(tmp, 'recycled');
    fs.mkdirSync(dir);
    const write = (s: string) =>
      fs.writeFileSync(
        path.join(dir, LOCK_FILE),
        JSON.stringify({ pid: other.pid, host: os.hostname(), since: 'x', start: s }),
      );
    write(start);
    assert.throws(() => acquireRunLock(dir), /another training \(process \d+/);
    write(String(Number(start) - 1));
    const lock = acquireRunLock(dir);
    const mine = JSON.parse(fs.readFileSync(lock.file, 'utf8'));
    assert.equal(mine.pid, process.pid);
    assert.equal(mine.start, fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[19]);
    lock.release();
  } finally {
    other.kill('SIGKILL');
  }
});

test('#44.4 CLI: a trainer killed but not reaped (a zombie) does not block --resume', async (t) => {
  if (process.platform !== 'linux') return t.skip('zombies are read from /proc');
  const out = path.join(tmp, 'cli-zombie');
  const args = ['train', '--protocol', 'smoke', '--method', 'ce', '--out', out, '--epochs', '300'];
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, '--import', TSX, CLI, ...args].map(q).join(' ');
  // The trainer's parent is `sleep` after exec: it never reaps the trainer once it is killed.
  const parent = spawn('/bin/sh', ['-c', `${cmd} >/dev/null 2>&1 & echo $!; exec sleep 120`], {
    cwd: ROOT,
    env: ENV,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const pid = await new Promise<number>((resolve) =>
      parent.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))),
    );
    const lock = path.join(out, LOCK_FILE);
    for (let i = 0; i < 600 && !fs.existsSync(lock); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(JSON.parse(fs.readFileSync(lock, 'utf8')).pid, pid);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), /\) Z /);
    const r = ncl([...args, '--resume', '--time-limit', '0.00001']); // takes the folder, trains an epoch, stops
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /stopped after epoch \d+\/300 \(time limit\)/);
  } finally {
    parent.kill('SIGKILL');
  }
});

test('#44.2 empty paths, and files where a folder is expected, are refused before anything is written, naming the option', async () => {
  const cwd = path.join(tmp, 'cwd'); // '' would be this folder
  fs.mkdirSync(cwd);
  const file = path.join(tmp, 'a-file.txt');
  fs.writeFileSync(file, 'keep\n');
  const tr = ['train', '--protocol', 'smoke', '--method', 'ce'];
  const rp = ['reproduce', 'fig8', '--protocol', 'smoke', '--seeds', '1', '--no-png', '--workers', '1'];
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const cases: [string[], string][] = [
    [[...tr, '--out', ''], "--out: expected a path, got ''"],
    [[...tr, '--out', '  '], "--out: expected a path, got '  '"],
    [[...tr, '--out', file], `--out ${file}: is a file, not a folder`],
    [[...tr, '--out', path.join(file, 'run')], `--out ${file}/run: ${file} is a file, not a folder`],
    [[...tr, '--results', ''], "--results: expected a path, got ''"],
    [['train', '--config', ''], "--config: expected a path, got ''"],
    [['eval', '--run', ''], "--run: expected a path, got ''"],
    [[...rp, '--results', ''], "--results: expected a path, got ''"],
    [[...rp, '--results', file], `--results ${file}: is a file, not a folder`],
    [[...rp, '--results', '', '--plan'], "--results: expected a path, got ''"],
    [['start', '--protocol', 'smoke', '--root', ''], "--root: expected a path, got ''"],
    [['start', '--protocol', 'smoke', '--results', file], `--results ${file}: is a file, not a folder`],
    [['data', 'fetch', 'fashion-mnist', '--data-dir', ''], "--data-dir: expected a folder, got ''"],
    [['data', 'info', 'fashion-mnist', '--data-dir', file], `--data-dir ${file}: is a file, not a folder`],
    [['data', 'subset', 'fashion-mnist', '-o', ''], "--out: expected a file, got ''"],
  ];
  for (const [args, line] of cases) assert.match(await errorOf(args, cwd), new RegExp(`^${esc(line)}$`));
  assert.deepEqual(fs.readdirSync(cwd), [], 'nothing written to the working directory');
  assert.equal(fs.readFileSync(file, 'utf8'), 'keep\n');
});

test('#44.10 numbers are decimal and bounded before anything is allocated or written, one line naming the option', async () => {
  const cwd = path.join(tmp, 'numbers');
  fs.mkdirSync(cwd);
  const tr = ['train', '--protocol', 'smoke', '--method', 'ce', '--out', path.join(cwd, 'run')];
  const rp = ['reproduce', 'fig8', '--protocol', 'smoke', '--plan', '--results', path.join(cwd, 'results')];
  const cases: [string[], string | RegExp][] = [
    [[...tr, '--seed', '0x10'], "--seed: expected a non-negative integer, got '0x10'"],
    [[...tr, '--seed', ''], "--seed: expected a non-negative integer, got ''"],
    [[...tr, '--seed', '1e3'], "--seed: expected a non-negative integer, got '1e3'"],
    [[...tr, '--seed', '2147483648'], '--seed: at most 2147483647, got 2147483648'],
    [
      [...tr, '--imbalance', '1e9'],
      '--imbalance: 1000000000 leaves the tail classes of fashion-mnist without an image (its head class has 6000); at most 6000',
    ],
    [[...tr, '--experts', '100000'], /^--experts: Number must be less than or equal to 64$/],
    [[...tr, '--width', '100000'], /^--width: Number must be less than or equal to 256$/],
    [[...tr, '--copies', '1e9'], /^--copies: Number must be less than or equal to 64$/],
    [[...tr, '--batch', '1e9'], /^--batch: Number must be less than or equal to 65536$/],
    [[...tr, '--epochs', '0x10'], /^--epochs: Expected number, received string$/],
    [[...rp, '--seeds', '0x10'], "--seeds: expected a positive integer, got '0x10'"],
    [[...rp, '--seeds', '1e9'], "--seeds: expected a positive integer, got '1e9'"],
    [[...rp, '--seeds', '1e300'], "--seeds: expected a positive integer, got '1e300'"],
    [[...rp, '--seeds', '100000'], '--seeds: at most 100, got 100000'],
    [[...rp, '--workers', '1e9'], "--workers: expected a positive integer, got '1e9'"],
    [[...rp, '--workers', '100000'], '--workers: at most 256, got 100000'],
    [
      ['start', '--protocol', 'smoke', '--seeds', '0x10', '--root', cwd],
      "--seeds: expected a positive integer, got '0x10'",
    ],
    [['bench', '--width', '100000'], '--width: at most 256, got 100000'],
    [['bench', '--experts', '1e9'], "--experts: expected a positive integer, got '1e9'"],
    [
      ['data', 'subset', 'fashion-mnist', '-o', path.join(cwd, 's.json'), '--if', '1e9'],
      "--if: expected a number from 1 to 6000, got '1e9'",
    ],
    [
      ['data', 'subset', 'fashion-mnist', '-o', path.join(cwd, 's.json'), '--seed', '0x10'],
      "--seed: expected an integer from 0 to 2147483647, got '0x10'",
    ],
  ];
  for (const [args, want] of cases) {
    const got = await errorOf(args, cwd);
    if (typeof want === 'string') assert.equal(got, want, args.join(' '));
    else assert.match(got, want, args.join(' '));
  }
  assert.deepEqual(
    fs.readdirSync(cwd),
    [],
    'nothing written: no config.json or subset.json of a refused run',
  );
  // The bounds keep every committed run valid (their keys do not move): the largest values any of them uses.
  const c = smoke('nclpp', (c) => {
    c.seed = 1023;
    c.model.numExperts = 4;
    c.loss.numCopies = 4;
    c.data.batchSize = 128;
    c.eval.batchSize = 1000;
  });
  assert.equal(train.TrainConfig.parse(c).seed, 1023);
});

test('#44.11 --set refuses __proto__, constructor and prototype; nothing reaches Object.prototype', async () => {
  const cwd = path.join(tmp, 'proto');
  fs.mkdirSync(cwd);
  const tr = ['train', '--protocol', 'smoke', '--method', 'ce', '--out', path.join(cwd, 'run')];
  const cases: [string, string][] = [
    ['__proto__.x=1', "--set __proto__.x: '__proto__' in '__proto__.x' is not a config key"],
    [
      'constructor.prototype.x=1',
      "--set constructor.prototype.x: 'constructor' in 'constructor.prototype.x' is not a config key",
    ],
    ['data.__proto__.x=1', "--set data.__proto__.x: '__proto__' in 'data.__proto__.x' is not a config key"],
    ['prototype=1', "--set prototype: 'prototype' in 'prototype' is not a config key"],
    ['loss.options={"__proto__":{"x":1}}', "--set loss.options: '__proto__' is not a config key"],
  ];
  for (const [set, want] of cases) assert.equal(await errorOf([...tr, '--set', set], cwd), want);
  assert.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype untouched');
  // An unknown section: one line naming the flag and the key, not every section of the config.
  assert.equal(
    await errorOf([...tr, '--set', 'foo.x=1'], cwd),
    "--set foo.x: (config): Unrecognized key(s) in object: 'foo'",
  );
  assert.deepEqual(fs.readdirSync(cwd), []);
});

/** A results folder with fig8's three smoke runs and the fig8 and table5 entries (trained once, then copied). */
let builtResults: string | null = null;
async function resultsCopy(name: string): Promise<string> {
  if (!builtResults) {
    builtResults = path.join(tmp, 'results-built');
    await experiments.reproduce({
      ids: ['fig8', 'table5'],
      protocol: 'smoke',
      seeds: 1,
      workers: 1,
      resultsDir: builtResults,
      png: false,
      log: () => {},
    });
  }
  const dir = path.join(tmp, name);
  fs.cpSync(builtResults, dir, { recursive: true });
  return dir;
}

const reproduceOpts = (resultsDir: string, ids: string[]) => ({
  ids,
  protocol: 'smoke',
  seeds: 1,
  workers: 1,
  resultsDir,
  png: false,
  log: () => {},
});

/** A figure `id` that `reproduce` could not write because of `line`, as its failure list reports it (runner.ts). */
const notWritten = (id: string, line: string) => `1 figure(s) not written:\n  ${id}: ${line}`;

/** Rejects with exactly `message`, printed by the CLI as that text. */
async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.equal(e.message, message);
    assert.equal(errorLine(e), message);
    return true;
  });
}

test('#44.5 metrics.json of a cached run is schema-checked: an edited value is refused naming the file and field, nothing written', async () => {
  const results = await resultsCopy('results-metrics');
  const entry = experiments.readManifest(results).figures.find((f) => f.id === 'fig8')!;
  const file = path.join(results, entry.runs[0], 'metrics.json');
  const good = JSON.parse(fs.readFileSync(file, 'utf8')) as Metrics;
  const before = snapshot(results);
  /** A value of a type other than the schema's, as a hand edit leaves it. */
  const edited = <T>(v: unknown) => v as T;
  const edits: [(m: Metrics) => void, string][] = [
    [(m) => (m.test.perClass[3] = edited('0.5')), 'test.perClass.3: Expected number, received string'],
    [(m) => (m.test = edited({ top1: 0.5 })), 'test.perClass: Required (and 6 more)'],
    [(m) => m.test.perClass.pop(), 'test.perClass: 9 values for 10 classes (classCounts)'],
    [
      (m) => (m.train.epochs[0].seconds = edited(null)),
      'train.epochs.0.seconds: Expected number, received null',
    ],
    [(m) => (m.configHash = 'abc'), 'configHash: expected 16 hex digits'],
  ];
  for (const [edit, field] of edits) {
    const m = structuredClone(good);
    edit(m);
    fs.writeFileSync(file, JSON.stringify(m));
    await rejectsWith(
      experiments.reproduce(reproduceOpts(results, ['fig8'])),
      `${file}: not a run's metrics: ${field}`,
    );
  }
  // The CLI: exit 1, that one line on stderr.
  const cli = structuredClone(good);
  cli.test.perClass[3] = edited('0.5');
  fs.writeFileSync(file, JSON.stringify(cli));
  const r = ncl(smokeFig8(results));
  assert.equal(r.status, 1, r.stderr);
  assert.equal(
    r.stderr.trim().split('\n').pop(),
    `ncl: error: ${file}: not a run's metrics: test.perClass.3: Expected number, received string`,
  );
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 100));
  await rejectsWith(
    experiments.reproduce(reproduceOpts(results, ['fig8'])),
    `${file}: not valid JSON (Unterminated string in JSON at position 100); truncated or edited?`,
  );
  fs.writeFileSync(file, JSON.stringify(good, null, 1) + '\n');
  const after = snapshot(results);
  after.delete(path.relative(results, file));
  before.delete(path.relative(results, file));
  assert.deepEqual(after, before, 'no figure, manifest or README written from a misread run');
});

test('#44.7 manifest.json, figure JSON and analysis.json.gz are schema-checked: one line naming the file; README and manifest stay in step', async () => {
  const results = await resultsCopy('results-files');
  const manifestFile = path.join(results, 'manifest.json');
  const fig8 = path.join(results, 'fig8.json');
  // A truncated fig8.json while table5 is rebuilt: named before table5's files, the manifest or the README change.
  fs.rmSync(path.join(results, 'table5.json'));
  const good8 = fs.readFileSync(fig8);
  fs.writeFileSync(fig8, good8.subarray(0, 100));
  const before = snapshot(results);
  await rejectsWith(
    experiments.reproduce(reproduceOpts(results, ['table5'])),
    notWritten(
      'table5',
      `${fig8}: not valid JSON (${jsonError(good8.subarray(0, 100))}); truncated or edited?`,
    ),
  );
  assert.deepEqual(snapshot(results), before);
  fs.writeFileSync(fig8, '{}');
  await rejectsWith(
    experiments.reproduce(reproduceOpts(results, ['table5'])),
    notWritten('table5', `${fig8}: not a figure's data: id: Required (and 6 more)`),
  );
  assert.deepEqual(snapshot(results).get('manifest.json'), before.get('manifest.json'));
  fs.writeFileSync(fig8, good8);
  // A truncated or empty manifest.
  const goodManifest = fs.readFileSync(manifestFile);
  fs.writeFileSync(manifestFile, '{}');
  await rejectsWith(
    experiments.reproduce(reproduceOpts(results, ['table5'])),
    notWritten('table5', `${manifestFile}: not a results manifest: description: Required (and 1 more)`),
  );
  fs.writeFileSync(manifestFile, goodManifest.subarray(0, 50));
  await assert.rejects(experiments.reproduce(reproduceOpts(results, ['table5'])), (e: Error) => {
    const m = e.message.split('\n');
    assert.deepEqual(m.slice(0, 1), ['1 figure(s) not written:']);
    assert.match(
      m[1],
      new RegExp(`^  table5: ${manifestFile}: not valid JSON \\(.*\\); truncated or edited\\?$`),
    );
    return m.length === 2;
  });
  fs.writeFileSync(manifestFile, goodManifest);
  // A truncated analysis.json.gz, and one that is gzip but not an analysis.
  const entry = experiments.readManifest(results).figures.find((f) => f.id === 'fig8')!;
  const runDir = path.join(results, entry.runs[0]);
  const gz = path.join(runDir, 'analysis.json.gz');
  const goodGz = fs.readFileSync(gz);
  fs.writeFileSync(gz, goodGz.subarray(0, goodGz.length >> 1));
  assert.throws(
    () => experiments.readAnalysis(runDir),
    (e: Error) => e.message === `${gz}: not valid gzip (unexpected end of file); truncated or edited?`,
  );
  fs.writeFileSync(gz, zlib.gzipSync('{"klCopies": [0.1, "x"]}'));
  assert.throws(
    () => experiments.readAnalysis(runDir),
    (e: Error) => e.message.startsWith(`${gz}: not a run's analysis: klExperts: Required`),
  );
  fs.writeFileSync(gz, goodGz);
  assert.ok(experiments.readAnalysis(runDir)!.klCopies.length === 10);
});

/** The message JSON.parse gives for `bytes`. */
function jsonError(bytes: Buffer): string {
  try {
    JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

/** `s` as a regular expression matching it literally. */
const literally = (s: string) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

test('#44.6 SHA256SUMS must cover every data file: an empty or partial one is refused naming it, nothing written', () => {
  const embedded = path.join(ROOT, 'data', 'fashion-mnist');
  const root = path.join(tmp, 'data-44-6');
  const dir = path.join(root, 'fashion-mnist');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(embedded).filter((f) => f.endsWith('.gz')))
    fs.symlinkSync(path.join(embedded, f), path.join(dir, f));
  const sumsFile = path.join(dir, 'SHA256SUMS');
  const sums = fs.readFileSync(path.join(embedded, 'SHA256SUMS'), 'utf8');
  const src = data.SOURCES['fashion-mnist'];
  const roots = [{ dir: root, origin: 'NCL_DATA_DIR' }];
  // The committed one lists all four files.
  assert.equal(sums.trim().split('\n').length, 4);
  fs.writeFileSync(sumsFile, sums);
  assert.equal(data.locateSource(src, roots)?.checksums, sumsFile);
  const cases: [string, string][] = [
    ['', `${sumsFile}: lists no file; restore it or remove it`],
    ['\n  \n', `${sumsFile}: lists no file; restore it or remove it`],
    [
      sums.replace(/^.*train-labels.*\n/m, ''),
      `${sumsFile}: does not list train-labels-idx1-ubyte.gz; it must cover every data file, restore it or remove it`,
    ],
    [
      sums.split('\n')[0] + '\n',
      `${sumsFile}: does not list train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-labels-idx1-ubyte.gz; it must cover every data file, restore it or remove it`,
    ],
  ];
  for (const [text, message] of cases) {
    fs.writeFileSync(sumsFile, text);
    assert.throws(
      () => data.locateSource(src, roots),
      (e: Error) => e instanceof data.DataError && e.message === message,
    );
  }
  // The CLI: exit 1, that one line, no run folder.
  fs.writeFileSync(sumsFile, '');
  const out = path.join(tmp, 'run-44-6');
  const r = ncl(['train', '--protocol', 'smoke', '--method', 'ce', '--out', out], {
    env: { ...ENV, NCL_DATA_DIR: root },
  });
  failedWith(r, literally(`ncl: error: ${sumsFile}: lists no file; restore it or remove it`));
  assert.equal(fs.existsSync(out), false);
});

test('#44.12 a $NCL_DATA_DIR that is not a folder is refused naming it, not skipped for the repo data', () => {
  const missing = path.join(tmp, 'no-such-data');
  const saved = process.env.NCL_DATA_DIR;
  process.env.NCL_DATA_DIR = missing;
  try {
    assert.throws(
      () => data.searchRoots(),
      (e: Error) =>
        e instanceof data.DataError &&
        e.message ===
          `NCL_DATA_DIR=${missing}: no such folder; set it to the folder that holds the datasets, or unset it`,
    );
  } finally {
    if (saved === undefined) delete process.env.NCL_DATA_DIR;
    else process.env.NCL_DATA_DIR = saved;
  }
  const out = path.join(tmp, 'run-44-12');
  const r = ncl(['train', '--protocol', 'smoke', '--method', 'ce', '--out', out], {
    env: { ...ENV, NCL_DATA_DIR: missing },
  });
  failedWith(
    r,
    literally(
      `ncl: error: NCL_DATA_DIR=${missing}: no such folder; set it to the folder that holds the datasets, or unset it`,
    ),
  );
  assert.equal(fs.existsSync(out), false);
});

/** A pid that ran and is gone (reaped). */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}

test('#44.12 a PNG render killed mid-way leaves its temp folder only until the next render; one that fails removes it', async (t) => {
  const root = fs.mkdtempSync(path.join(tmp, 'tmpdir-'));
  const chromium = path.join(tmp, 'fake-chromium');
  const render = (behaviour: string) => {
    fs.writeFileSync(chromium, `#!/bin/sh\n${behaviour}\n`, { mode: 0o755 });
    const code =
      "const v = require('./lib/src/viz');" +
      'v.renderPNG({ data: [], layout: {} }, process.argv[1], { width: 10, height: 10 });';
    return spawnSync(process.execPath, ['--import', TSX, '-e', code, path.join(tmp, 'never.png')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...ENV, TMPDIR: root, CHROMIUM: chromium },
    });
  };
  // Ours (tsx keeps its cache in TMPDIR too).
  const ours = () => fs.readdirSync(root).filter((n) => n.startsWith('ncl-'));
  // Chromium fails: the error names the PNG, the temp folder is gone.
  const failed = render('exit 3');
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /cannot write .*never\.png: .*fake-chromium failed/);
  assert.deepEqual(ours(), []);
  // The renderer is killed (SIGKILL) while Chromium runs: nothing of it can run, its folder (page, profile) stays ...
  const killed = render('kill -9 $PPID; sleep 0.2');
  assert.equal(killed.signal, 'SIGKILL');
  const left = ours();
  assert.equal(left.length, 1);
  assert.match(left[0], new RegExp(`^ncl-plot-${killed.pid}-[A-Za-z0-9]{6}$`));
  assert.ok(fs.existsSync(path.join(root, left[0], 'figure.html')));
  // ... until the next process that makes one: folders of dead pids go, those of live processes (and other names) stay.
  const sleeper = spawn('sleep', ['30']);
  t.after(() => sleeper.kill());
  const liveDir = path.join(root, `ncl-plot-${sleeper.pid}-abcdef`);
  const deadDir = path.join(root, `ncl-png-${deadPid()}-ABC123`);
  const other = path.join(root, 'ncl-something-else');
  for (const d of [liveDir, deadDir, other]) fs.mkdirSync(d);
  const { removeStaleTempDirs } = await import('../lib/src/temp');
  assert.deepEqual(removeStaleTempDirs(root).sort(), [left[0], path.basename(deadDir)].sort());
  assert.deepEqual(ours().sort(), [path.basename(liveDir), path.basename(other)].sort());
});

test("#44.12 reproduce removes the temp files a killed reproduce left in the results folder; the commit is the lib's, wherever the folder is", async (t) => {
  const results = await resultsCopy('results-temps');
  const sleeper = spawn('sleep', ['30']);
  t.after(() => sleeper.kill());
  const dead = deadPid();
  const stale = [`manifest.json.tmp-${dead}`, `plotly.js.tmp-${dead}`, `fig8.json.tmp-${dead}`];
  const live = `README.md.tmp-${sleeper.pid}`;
  for (const f of [...stale, live]) fs.writeFileSync(path.join(results, f), 'partial');
  await experiments.reproduce(reproduceOpts(results, ['fig8']));
  for (const f of stale) assert.equal(fs.existsSync(path.join(results, f)), false, f);
  assert.ok(fs.existsSync(path.join(results, live)), 'a live writer keeps its temp file');
  // Built in a folder outside the repository: the commit recorded is the repository's HEAD, not 'unknown'.
  const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.trim();
  assert.match(head, /^[0-9a-f]{12}$/);
  for (const f of experiments.readManifest(results).figures)
    assert.match(f.commit, new RegExp(`^${head}(\\+dirty)?$`), f.id);
});

test('#44.12 --resume refuses a config.json edited since the run started, naming the field; nothing rewritten', async () => {
  const c = smoke('ce', (c) => (c.optim.epochs = 3));
  const dir = path.join(tmp, 'edited-config');
  await assert.rejects(
    train.trainRun(c, { outDir: dir, progress: false, deadline: Date.now() }),
    train.TrainingStopped,
  );
  const cfgFile = path.join(dir, 'config.json');
  const original = fs.readFileSync(cfgFile, 'utf8');
  const edits: [(j: Record<string, Record<string, unknown>>) => void, string][] = [
    [(j) => (j.optim.epochs = 8), 'optim.epochs: 8 in the file, 3 in this run'],
    [(j) => (j.optim.lr = '0.1'), `optim.lr: "0.1" in the file, ${JSON.stringify(c.optim.lr)} in this run`],
    [(j) => delete j.loss, `loss: absent in the file, ${JSON.stringify(c.loss)} in this run`],
  ];
  for (const [edit, where] of edits) {
    const j = JSON.parse(original);
    edit(j);
    fs.writeFileSync(cfgFile, JSON.stringify(j, null, 2));
    const before = snapshot(dir);
    await assert.rejects(
      train.trainRun(c, { outDir: dir, resume: true, progress: false }),
      (e: Error) =>
        e.message ===
        `${cfgFile}: edited since the run started (${where}); restore it, remove it (it is written again from this run's config), or --restart`,
    );
    assert.deepEqual(snapshot(dir), before, 'config.json, the checkpoint and the rest as they were');
  }
  // Reformatted but the same config, or an evaluation-only setting (not in the run's key): resumed, rewritten.
  const j = JSON.parse(original);
  j.eval.every = 1;
  fs.writeFileSync(cfgFile, JSON.stringify(j));
  const { model } = await train.trainRun(c, { outDir: dir, resume: true, progress: false });
  model.dispose();
  assert.equal(fs.readFileSync(cfgFile, 'utf8'), original);
});

test("#44.13 runs record their data folder relative to where it was found; committed runs name no machine's folders", async () => {
  const { recordedSource } = await import('../lib/src/train/data');
  const sums = (d: string) => ({ dir: d, checksums: `${d}/SHA256SUMS` });
  // What earlier versions recorded, as found in results/runs, and what they become.
  const cases: [{ dir: string; origin: string; checksums: string | null }, object][] = [
    [
      { origin: 'repo', ...sums('/work/run-snap/data/fashion-mnist') },
      { origin: 'repo', ...sums('data/fashion-mnist') },
    ],
    [
      { origin: 'NCL_DATA_DIR', ...sums('/work/main/data/fashion-mnist') },
      { origin: 'NCL_DATA_DIR', ...sums('$NCL_DATA_DIR/fashion-mnist') },
    ],
    [
      { origin: 'repo', dir: '/home/u/ncl-lab/data/fashion-mnist/', checksums: null },
      { origin: 'repo', dir: 'data/fashion-mnist', checksums: null },
    ],
    // The system copy and an explicit folder keep their paths; so does a path already relative.
    [
      { origin: 'system', ...sums('/usr/share/datasets/fashion-mnist') },
      { origin: 'system', ...sums('/usr/share/datasets/fashion-mnist') },
    ],
    [
      { origin: 'dataDir', ...sums('/data/x/fashion-mnist') },
      { origin: 'dataDir', ...sums('/data/x/fashion-mnist') },
    ],
    [
      { origin: 'repo', ...sums('data/fashion-mnist') },
      { origin: 'repo', ...sums('data/fashion-mnist') },
    ],
  ];
  for (const [recorded, now] of cases) assert.deepEqual(recordedSource(recorded, 'fashion-mnist'), now);

  // A run trained now, from the repository's data and from $NCL_DATA_DIR.
  const saved = process.env.NCL_DATA_DIR;
  const dataRoot = path.join(tmp, 'data-44-13');
  fs.mkdirSync(path.join(dataRoot, 'fashion-mnist'), { recursive: true });
  const embedded = path.join(ROOT, 'data', 'fashion-mnist');
  for (const f of fs.readdirSync(embedded))
    fs.symlinkSync(path.join(embedded, f), path.join(dataRoot, 'fashion-mnist', f));
  const c = smoke('ce', (c) => (c.optim.epochs = 1));
  try {
    for (const [env, dir, origin] of [
      [undefined, 'data/fashion-mnist', 'repo'],
      [dataRoot, '$NCL_DATA_DIR/fashion-mnist', 'NCL_DATA_DIR'],
    ] as const) {
      if (env === undefined) delete process.env.NCL_DATA_DIR;
      else process.env.NCL_DATA_DIR = env;
      const out = path.join(tmp, `run-44-13-${origin}`);
      const { model } = await train.trainRun(c, { outDir: out, progress: false });
      model.dispose();
      const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
      assert.deepEqual(m.data, { dir, origin, checksums: `${dir}/SHA256SUMS` });
    }
  } finally {
    if (saved === undefined) delete process.env.NCL_DATA_DIR;
    else process.env.NCL_DATA_DIR = saved;
  }

  // scripts/relative-data-paths.ts rewrites the two values of an earlier run and nothing else, once.
  const old = path.join(tmp, 'old-run');
  fs.mkdirSync(old);
  const metricsFile = path.join(old, 'metrics.json');
  const fresh = fs.readFileSync(path.join(tmp, 'run-44-13-repo', 'metrics.json'), 'utf8');
  const absolute = fresh
    .replace('"dir": "data/fashion-mnist"', '"dir": "/work/run-snap/data/fashion-mnist"')
    .replace(
      '"checksums": "data/fashion-mnist/SHA256SUMS"',
      '"checksums": "/work/run-snap/data/fashion-mnist/SHA256SUMS"',
    );
  assert.notEqual(absolute, fresh);
  fs.writeFileSync(metricsFile, absolute);
  const script = path.join(ROOT, 'scripts', 'relative-data-paths.ts');
  const run = () =>
    spawnSync(process.execPath, ['--import', TSX, script, old], { cwd: old, encoding: 'utf8', env: ENV });
  const first = run();
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout, 'rewritten: metrics.json\n1 of 1 metrics.json rewritten\n');
  assert.equal(fs.readFileSync(metricsFile, 'utf8'), fresh);
  assert.equal(run().stdout, '0 of 1 metrics.json rewritten\n');

  // Every committed run (git's list, not what a training in progress leaves): no absolute path but the system copy's.
  const listed = spawnSync('git', ['ls-files', '-z', '--', 'results'], { cwd: ROOT, encoding: 'utf8' });
  const committed =
    listed.status === 0 ? listed.stdout.split('\0').filter((f) => f.endsWith('metrics.json')) : [];
  const absolutePaths = committed.filter((f) => {
    const d = JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8')).data;
    return (
      d &&
      [d.dir, d.checksums].some(
        (p) => typeof p === 'string' && p.startsWith('/') && !p.startsWith('/usr/share/datasets/'),
      )
    );
  });
  assert.deepEqual(absolutePaths, [], 'run `npx tsx scripts/relative-data-paths.ts` and commit the result');
});

test('#44.12 plotly.js is copied atomically: a cut-short copy is replaced, a full disk leaves none and names it', async () => {
  const { viz } = await import('../lib/src');
  const fig = { data: [{ type: 'bar', x: ['a'], y: [1] }], layout: {} } as Parameters<typeof viz.savePlot>[0];
  const bundle = fs.readFileSync(viz.plotlyBundlePath());
  const dir = path.join(tmp, 'plotly-copy');
  fs.mkdirSync(dir);
  const lib = path.join(dir, 'plotly.js');
  fs.writeFileSync(lib, bundle.subarray(0, 1000));
  viz.savePlot(fig, path.join(dir, 'a'), { png: false, plotlySrc: 'plotly.js' });
  assert.ok(fs.readFileSync(lib).equals(bundle), 'the cut-short copy is replaced by the whole bundle');
  fs.rmSync(lib);
  await withFullDisk(/plotly\.js/, () =>
    assert.throws(
      () => viz.savePlot(fig, path.join(dir, 'b'), { png: false, plotlySrc: 'plotly.js' }),
      (e: Error) => e.message === `${lib}: cannot write (ENOSPC: no space left on device); nothing written`,
    ),
  );
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.html'], 'no plotly.js, no temp file, no b.html');
});
