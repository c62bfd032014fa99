// The runner (issue #41 item 6, #44 items 3, 8, 9): workers as a module entry with structured messages; one results
// folder shared by several `ncl reproduce` (manifest merged under a lock, runs of others awaited); failures listed in
// full and named by their path; a read-only results folder with everything cached; signals forwarded to workers.
import { test, before, mock } from 'node:test';
import assert from 'node:assert/strict';
// The real module (a namespace import is a copy whose methods cannot be mocked).
import fs = require('node:fs');
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, train, experiments } from '../lib/src';
import type { TrainConfig } from '../lib/src/train';
import { acquireRunLock, lockHolder, LOCK_FILE, RunLocked } from '../lib/src/train/lock';
import { makeFolder } from '../lib/src/train/folders';
import { FileWriteError } from '../lib/src/atomic';
import { findChromium } from '../lib/src/viz';
import { ncl, nclBackground, smokeFig8 } from './cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-runner-'));

before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});

const smoke = (method: string, seed = 0, patch: (c: TrainConfig) => void = () => {}) => {
  const c = train.getProtocol('smoke', method, seed);
  patch(c);
  return train.TrainConfig.parse(c);
};

/**
 * Until `restore()`, files whose path matches `victim` are on a full disk: they open, but every write to them fails
 * with ENOSPC (at fs.writeSync, where the lib's writers write).
 */
function fullDisk(victim: RegExp): { restore(): void } {
  const open = fs.openSync;
  const write = fs.writeSync;
  const full = new Set<number>();
  const o = mock.method(fs, 'openSync', (...args: Parameters<typeof fs.openSync>) => {
    const fd = open(...args);
    if (victim.test(String(args[0]))) full.add(fd);
    else full.delete(fd);
    return fd;
  });
  const w = mock.method(fs, 'writeSync', (fd: number, ...rest: unknown[]) => {
    if (full.has(fd))
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (write as (...a: unknown[]) => number)(fd, ...rest);
  });
  return {
    restore() {
      o.mock.restore();
      w.mock.restore();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); await sleep(20))
    if (Date.now() - t0 > ms) assert.fail(`timed out: ${what}`);
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The smoke runs of fig8 (1 seed), trained once into `dir` (in this process) and shared by the tests. */
const fig8Runs = experiments.FIGURES.find((f) => f.id === 'fig8')!.runs('smoke', [0]);
let trained: string | null = null;
async function fig8Results(name: string): Promise<string> {
  if (!trained) {
    trained = path.join(tmp, 'fig8-runs');
    await experiments.ensureRuns(trained, fig8Runs, { workers: 1, log: () => {} });
  }
  const dir = path.join(tmp, name);
  fs.cpSync(path.join(trained, 'runs'), path.join(dir, 'runs'), { recursive: true });
  return dir;
}

test('a worker is a module entry: progress, epoch lines and the end arrive as messages; a refused run says why', async () => {
  const c = smoke('bsce', 5);
  const dir = path.join(tmp, 'worker', 'bsce');
  const progress: { done: number; total: number; epoch: number }[] = [];
  const epochs: string[] = [];
  const w = experiments.startWorker(
    { config: c, outDir: dir, resultsRoot: tmp },
    { onProgress: (p) => progress.push(p), onEpoch: (l) => epochs.push(l) },
  );
  assert.deepEqual(await w.done, { ok: true });
  // Steps: the smoke protocol's epochs × maxStepsPerEpoch; the last report is the whole run.
  const total = c.optim.epochs * c.optim.maxStepsPerEpoch!;
  assert.equal(progress.at(-1)!.total, total);
  assert.equal(progress.at(-1)!.done, total);
  assert.ok(progress.every((p, i) => i === 0 || p.done >= progress[i - 1].done));
  assert.deepEqual(
    epochs.map((l) => l.split(' ')[1]),
    Array.from({ length: c.optim.epochs }, (_, i) => `${i + 1}/${c.optim.epochs}`),
  );
  const m = train.readMetrics(dir)!;
  assert.equal(m.configHash, train.configHash(c));
  // The same run again (as when another process finished it between the runner's check and the lock): not trained
  // twice; the worker says it was already finished, and the folder's files are byte for byte as they were.
  const files = () =>
    Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
  const before = files();
  const epochsAgain: string[] = [];
  const again = experiments.startWorker(
    { config: c, outDir: dir, resultsRoot: tmp },
    { onEpoch: (l) => epochsAgain.push(l) },
  );
  assert.deepEqual(await again.done, { ok: true, already: true });
  assert.deepEqual(epochsAgain, []);
  assert.deepEqual(files(), before);
  await assert.rejects(
    train.trainRun(c, { outDir: dir, resume: true, progress: false }),
    (e: Error) =>
      e instanceof train.RunFinished && e.message === `${dir}: already finished; nothing to train`,
  );
  assert.deepEqual(files(), before);
  // The same folder for another config: the trainer's refusal, as the worker's reason.
  const other = experiments.startWorker({ config: smoke('bsce', 6), outDir: dir, resultsRoot: tmp });
  const r = await other.done;
  assert.equal(r.ok, false);
  assert.ok(
    !r.ok && r.code === 'error' && r.reason.startsWith(`${dir}: holds a finished run of another config`),
    JSON.stringify(r),
  );
  // A folder another process holds: 'locked' (the runner waits for it instead of failing).
  const lockedDir = path.join(tmp, 'worker', 'held');
  const lock = acquireRunLock(lockedDir);
  try {
    const held = await experiments.startWorker({ config: c, outDir: lockedDir, resultsRoot: tmp }).done;
    assert.ok(!held.ok && held.code === 'locked', JSON.stringify(held));
  } finally {
    lock.release();
  }
});

test('one planner: start order, lanes and readiness agree with a schedule worked by hand', () => {
  // Costs 4, 1, 2 in rank 0 and 3 in rank 1 → order: 4, 2, 1 (rank 0, costliest first), then 3.
  const items = [
    { n: 'a', cost: 4, rank: 0 },
    { n: 'b', cost: 1, rank: 0 },
    { n: 'c', cost: 2, rank: 0 },
    { n: 'd', cost: 3, rank: 1 },
  ];
  const order = experiments.startOrder(
    items,
    (i) => i.cost,
    (i) => i.rank,
  );
  assert.deepEqual(
    order.map((i) => i.n),
    ['a', 'c', 'b', 'd'],
  );
  // On 2 lanes: a on lane 1 (ends 4), c on lane 2 (ends 2), b on lane 2 (ends 3), d on lane 2 (ends 6).
  assert.deepEqual(experiments.laneFinish([4, 2, 1, 3], 2), [4, 2, 3, 6]);
  assert.deepEqual(experiments.laneFinish([4, 2, 1, 3], 1), [4, 6, 7, 10]);
});

test('#44.3 an entry another process writes while this one renders is kept: the manifest is merged under its lock', async () => {
  // Folder A: table5 and fig8 built normally (the "other process" will have written A's table5 entry).
  const a = await fig8Results('merge-a');
  await experiments.reproduce({
    ids: ['table5', 'fig8'],
    protocol: 'smoke',
    seeds: 1,
    workers: 1,
    resultsDir: a,
    png: false,
    log: () => {},
  });
  const other = experiments.readManifest(a).figures.find((f) => f.id === 'table5')!;
  // Folder B: fig8 alone; while its plot is being written, table5's files and entry land in B as another
  // `ncl reproduce table5` would write them.
  const b = await fig8Results('merge-b');
  const rename = fs.renameSync;
  let injected = false;
  const spy = mock.method(fs, 'renameSync', (from: fs.PathLike, to: fs.PathLike) => {
    if (!injected && String(to) === path.join(b, 'fig8.html')) {
      injected = true;
      for (const f of ['table5.json', 'table5.html']) fs.copyFileSync(path.join(a, f), path.join(b, f));
      const m = experiments.readManifest(b);
      m.figures.push(other);
      fs.writeFileSync(path.join(b, 'manifest.json'), JSON.stringify(m, null, 1) + '\n');
    }
    return rename(from, to);
  });
  try {
    await experiments.reproduce({
      ids: ['fig8'],
      protocol: 'smoke',
      seeds: 1,
      workers: 1,
      resultsDir: b,
      png: false,
      log: () => {},
    });
  } finally {
    spy.mock.restore();
  }
  assert.ok(injected);
  const ids = experiments.readManifest(b).figures.map((f) => f.id);
  assert.deepEqual(ids, ['fig8', 'table5']); // in the registry's order
  const readme = fs.readFileSync(path.join(b, 'README.md'), 'utf8');
  assert.match(readme, /^\| \[table5\]/m);
  assert.match(readme, /^\| \[fig8\]/m);
  assert.ok(!fs.existsSync(path.join(b, experiments.MANIFEST_LOCK)), 'the lock is released');
});

test('#44.3 two `ncl reproduce` on one results folder at once: both entries are in the manifest and the README', async () => {
  const dir = await fig8Results('concurrent');
  // table5 needs no runs; fig8's are cached: both only write results, at the same time.
  const png = findChromium() ? [] : ['--no-png'];
  const a = nclBackground([
    'reproduce',
    'fig8',
    '--protocol',
    'smoke',
    '--seeds',
    '1',
    '--results',
    dir,
    ...png,
  ]);
  const b = nclBackground([
    'reproduce',
    'table5',
    '--protocol',
    'smoke',
    '--seeds',
    '1',
    '--results',
    dir,
    ...png,
  ]);
  assert.equal(await a.exit, 0, a.text());
  assert.equal(await b.exit, 0, b.text());
  assert.deepEqual(
    experiments.readManifest(dir).figures.map((f) => f.id),
    ['fig8', 'table5'],
  );
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.match(readme, /^\| \[table5\]/m);
  assert.match(readme, /^\| \[fig8\]/m);
});

test('#44.8 every failed run is listed with its reason, not cut off; exit 1', async () => {
  const dir = path.join(tmp, 'fail-all');
  // Each of fig8's three run folders holds a finished run of another config: the trainer refuses each.
  for (const c of fig8Runs) {
    const d = experiments.runDir(dir, c);
    fs.mkdirSync(d, { recursive: true });
    const foreign = { ...c, seed: 99 };
    // A finished run's metrics.json as the reader checks it (train/files.ts), with one class.
    const acc = { top1: 0.5, perClass: [0.5], many: 0.5, medium: null, few: null };
    fs.writeFileSync(
      path.join(d, 'metrics.json'),
      JSON.stringify({
        config: foreign,
        configHash: '0123456789abcdef',
        backend: 'wasm',
        classCounts: [10],
        test: { ...acc, experts: [acc], expertMean: acc, ensemble: acc },
        train: { seconds: 1, epochs: [], imgPerSec: 1 },
      }),
    );
  }
  const r = ncl(smokeFig8(dir));
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  const at = lines.indexOf('ncl: error: 3 run(s) failed:');
  assert.ok(at >= 0, r.stderr);
  for (const c of fig8Runs)
    assert.ok(
      lines
        .slice(at + 1)
        .some(
          (l) =>
            l.startsWith(`  ${experiments.runDir(dir, c)}: `) &&
            /holds a finished run of another config/.test(l),
        ),
      `${c.method} listed:\n${r.stderr}`,
    );
});

test('#44.8 a figure that cannot be written (disk full) is reported as such, naming the file; the runs are not failed', async () => {
  const dir = await fig8Results('enospc');
  // The disk fills up while plotly.js is written (at the write calls themselves: every write to it fails).
  const full = fullDisk(/plotly\.js/);
  try {
    await assert.rejects(
      experiments.reproduce({
        ids: ['fig8'],
        protocol: 'smoke',
        seeds: 1,
        workers: 1,
        resultsDir: dir,
        png: false,
        log: () => {},
      }),
      (e: unknown) => {
        assert.ok(e instanceof experiments.SweepFailed, String(e));
        assert.deepEqual(e.runs, []);
        assert.deepEqual(e.figures, [
          {
            id: 'fig8',
            reason: `${path.join(dir, 'plotly.js')}: cannot write (ENOSPC: no space left on device); nothing written`,
          },
        ]);
        assert.equal(
          e.message,
          `1 figure(s) not written:\n  fig8: ${path.join(dir, 'plotly.js')}: cannot write ` +
            '(ENOSPC: no space left on device); nothing written',
        );
        return true;
      },
    );
  } finally {
    full.restore();
  }
  assert.ok(!fs.readdirSync(dir).some((f) => f.startsWith('plotly.js')), 'no plotly.js, whole or part');
  assert.equal(experiments.readManifest(dir).figures.length, 0, 'no entry for a figure not written');
});

test('#44.8 a full disk, a read-only parent and a file in the way are one line naming the path; no empty lock is left', () => {
  // A file where a folder should be: for --out and --results alike.
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, 'x');
  assert.throws(
    () => makeFolder(path.join(file, 'sub')),
    (e: unknown) => e instanceof FileWriteError && e.message === `${file}: is a file, not a folder`,
  );
  const r = ncl([
    'reproduce',
    'table5',
    '--protocol',
    'smoke',
    '--seeds',
    '1',
    '--no-png',
    '--results',
    file,
  ]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), `ncl: error: --results ${file}: is a file, not a folder`);
  const t = ncl(['train', '--protocol', 'smoke', '--method', 'ce', '--out', file]);
  assert.equal(t.status, 1);
  assert.equal(t.stderr.trim().split('\n').pop(), `ncl: error: --out ${file}: is a file, not a folder`);
  // A read-only parent: the level that cannot be made is named (Node's recursive mkdir says ENOENT on the child).
  const ro = path.join(tmp, 'ro');
  fs.mkdirSync(ro);
  const mkdir = fs.mkdirSync;
  const spy = mock.method(fs, 'mkdirSync', (p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
    if (String(p).startsWith(ro + path.sep))
      throw Object.assign(new Error(`EROFS: read-only file system, mkdir '${String(p)}'`), {
        code: 'EROFS',
        path: String(p),
      });
    return mkdir(p, o);
  });
  try {
    assert.throws(
      () => makeFolder(path.join(ro, 'results', 'runs')),
      (e: unknown) =>
        e instanceof FileWriteError &&
        e.message === `${path.join(ro, 'results')}: cannot create folder (EROFS: read-only file system)`,
    );
  } finally {
    spy.mock.restore();
  }
  // A full disk while the lock's owner is written: the error names the lock file, and no empty lock is left.
  const dir = path.join(tmp, 'full');
  const full = fullDisk(new RegExp(`${LOCK_FILE}$`));
  try {
    assert.throws(
      () => acquireRunLock(dir),
      (e: unknown) =>
        e instanceof FileWriteError &&
        e.message ===
          `${path.join(dir, LOCK_FILE)}: cannot write (ENOSPC: no space left on device); nothing written`,
    );
  } finally {
    full.restore();
  }
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
});

test('#44.8 a read-only results folder whose figures are all up to date: reproduce succeeds and writes nothing', async () => {
  const dir = await fig8Results('readonly');
  const opts = {
    ids: ['table5', 'fig8'],
    protocol: 'smoke',
    seeds: 1,
    workers: 1,
    resultsDir: dir,
    png: false,
    log: () => {},
  };
  await experiments.reproduce(opts);
  // Now every write under the folder fails as on a read-only mount.
  const under = (p: unknown) => String(p).startsWith(dir);
  const erofs = (p: unknown) =>
    Object.assign(new Error(`EROFS: read-only file system, open '${String(p)}'`), {
      code: 'EROFS',
      path: String(p),
    });
  const spies = (
    ['openSync', 'writeFileSync', 'renameSync', 'mkdirSync', 'copyFileSync', 'rmSync'] as const
  ).map((name) => {
    const orig = fs[name] as (...a: unknown[]) => unknown;
    return mock.method(fs, name, (...a: unknown[]) => {
      const reading = name === 'openSync' && (a[1] === undefined || a[1] === 'r');
      if (!reading && (under(a[0]) || (name === 'renameSync' && under(a[1])))) throw erofs(a[0]);
      return orig(...a);
    });
  });
  try {
    const entries = await experiments.reproduce(opts);
    assert.deepEqual(
      entries.map((e) => e.id),
      ['table5', 'fig8'],
    );
  } finally {
    for (const s of spies) s.mock.restore();
  }
});

test('#42 a lock from another host is honoured while its SLURM job is queued, taken over once it is not; a requeued job takes its own', () => {
  // A fake squeue: job 111 is running, any other is gone.
  const bin = path.join(tmp, 'fake-squeue');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, 'squeue'),
    '#!/bin/sh\nfor a; do [ "$a" = 111 ] && echo RUNNING; done\nexit 0\n',
    { mode: 0o755 },
  );
  const PATH = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${PATH}`;
  const dir = path.join(tmp, 'foreign');
  const lockWith = (job?: string) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: 1, host: 'node7', since: 'x', ...(job ? { job } : {}) }),
    );
  };
  try {
    lockWith('111');
    assert.match(lockHolder(dir)!, /in use by process 1 on node7 \(SLURM job 111\)/);
    assert.throws(
      () => acquireRunLock(dir),
      (e: unknown) => e instanceof RunLocked && e.owner.job === '111',
    );
    lockWith('222'); // its job has left the queue: the lock is stale
    assert.equal(lockHolder(dir), null);
    const l = acquireRunLock(dir);
    assert.equal(JSON.parse(fs.readFileSync(l.file, 'utf8')).pid, process.pid);
    l.release();
    lockWith(); // no job: cannot be checked from here
    assert.throws(() => acquireRunLock(dir), RunLocked);
    // A requeued job (same SLURM_JOB_ID, started again on another node) takes over the lock of its earlier run.
    lockWith('111');
    process.env.SLURM_JOB_ID = '111';
    const again = acquireRunLock(dir);
    assert.equal(JSON.parse(fs.readFileSync(again.file, 'utf8')).job, '111');
    again.release();
  } finally {
    process.env.PATH = PATH;
    delete process.env.SLURM_JOB_ID;
    fs.rmSync(path.join(dir, LOCK_FILE), { force: true });
  }
});

test('#44.9 two `ncl reproduce --workers 1` on one folder wait for each other’s runs instead of failing', async () => {
  const dir = path.join(tmp, 'two');
  const args = smokeFig8(dir);
  const a = nclBackground(args);
  // B starts once A trains its first run (holds its lock).
  await until(
    'A takes a run',
    () =>
      fs.existsSync(path.join(dir, 'runs', 'smoke')) &&
      fs
        .readdirSync(path.join(dir, 'runs', 'smoke'))
        .some((d) => fs.existsSync(path.join(dir, 'runs', 'smoke', d, LOCK_FILE))),
  );
  const b = nclBackground(args);
  assert.equal(await a.exit, 0, a.text());
  assert.equal(await b.exit, 0, b.text());
  // B waited for the run A held, then read it as cached; every run was trained exactly once.
  assert.match(b.text(), new RegExp(`\\[reproduce\\] waiting: .*another training \\(process ${a.child.pid}`));
  assert.match(b.text(), /finished by another process/);
  const trainedBy = (out: string) => out.split('\n').filter((l) => /^\[reproduce\] done /.test(l)).length;
  assert.equal(trainedBy(a.text()) + trainedBy(b.text()), 3, `${a.text()}\n---\n${b.text()}`);
  assert.ok(fig8Runs.every((c) => experiments.isFinished(dir, c)));
  assert.equal(experiments.readManifest(dir).figures.filter((f) => f.id === 'fig8').length, 1);
});

test('#44.9 SIGTERM to `ncl reproduce` reaches its workers: they stop at their checkpoint and release their locks; a rerun continues', async () => {
  const dir = path.join(tmp, 'sigterm');
  const args = [
    'reproduce',
    'fig8',
    '--protocol',
    'smoke',
    '--seeds',
    '1',
    '--workers',
    '2',
    '--no-png',
    '--results',
    dir,
  ];
  const first = nclBackground(args);
  const runs = fig8Runs.map((c) => experiments.runDir(dir, c));
  // Kill the parent once a worker has finished its first epoch (a checkpoint, no metrics yet).
  let held: number[] = [];
  await until('a first checkpoint', () => {
    held = runs
      .map((d) => path.join(d, LOCK_FILE))
      .filter((f) => fs.existsSync(f))
      .map((f) => {
        try {
          return JSON.parse(fs.readFileSync(f, 'utf8')).pid as number;
        } catch {
          return 0;
        }
      })
      .filter(Boolean);
    return runs.some(
      (d) => fs.existsSync(path.join(d, 'checkpoint.bin')) && !fs.existsSync(path.join(d, 'metrics.json')),
    );
  });
  first.child.kill('SIGTERM');
  assert.equal(await first.exit, 143, first.text());
  assert.ok(held.length >= 1 && !held.includes(first.child.pid!), `workers held the runs: ${held}`);
  // When the parent has exited, its workers have stopped, and no lock is left behind.
  for (const pid of held) assert.ok(!alive(pid), `worker ${pid} still running:\n${first.text()}`);
  for (const d of runs) assert.ok(!fs.existsSync(path.join(d, LOCK_FILE)), `${d} still locked`);
  assert.match(first.text(), /stopped by SIGTERM: \d run\(s\) interrupted .*the same command continues them/);
  const resumable = runs.filter(
    (d) => fs.existsSync(path.join(d, 'checkpoint.bin')) && !fs.existsSync(path.join(d, 'metrics.json')),
  );
  assert.ok(resumable.length >= 1);
  // The same command right after: not refused on locks, resumes what was interrupted, and writes the figure.
  const again = nclBackground(args);
  assert.equal(await again.exit, 0, again.text());
  assert.match(again.text(), /\(resumes after epoch 1\)/);
  assert.ok(fig8Runs.every((c) => experiments.isFinished(dir, c)));
});
