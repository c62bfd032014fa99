// Runs are never silently lost or misread (issue #25): locks, refusals, checksums, divergence, warnings, errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tf, initBackend, train, data } from '../lib/src';
import type { TrainConfig } from '../lib/src/train';
import { acquireRunLock, LOCK_FILE } from '../lib/src/train/lock';
import { checkFinite, EXPLODING_LOSS_FACTOR } from '../lib/src/train/guard';
import { finiteJSON } from '../lib/src/train/report';
import { configWarnings } from '../lib/src/train/trainer';
import { sameConfig } from '../lib/src/train/resume';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-safety-'));
const ROOT = path.resolve(__dirname, '..');
const EMBEDDED = path.join(ROOT, 'data', 'fashion-mnist');

before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});

function smoke(method: 'ce' | 'nclpp', patch: (c: TrainConfig) => void = () => {}): TrainConfig {
  const c = train.getProtocol('smoke', method, 3);
  patch(c);
  return train.TrainConfig.parse(c);
}

/** A pid that no process has: one that has just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

/** The offset of the float32 data in a checkpoint file (after magic, header length and header). */
function dataOffset(buf: Buffer): number {
  return 12 + buf.readUInt32LE(8);
}

/** A partial run (1 epoch of 2) in `dir`, stopped by a deadline already past. */
async function partialRun(dir: string, c: TrainConfig): Promise<void> {
  await assert.rejects(
    train.trainRun(c, { outDir: dir, progress: false, deadline: Date.now() }),
    (e: unknown) => e instanceof train.TrainingStopped && e.epochsDone === 1,
  );
}

test('#25.4 a checkpoint carries a SHA-256: flipped bytes or a NaN written into it are refused on --resume, naming the file', async () => {
  const c = smoke('ce');
  const dir = path.join(tmp, 'corrupt');
  await partialRun(dir, c);
  const file = path.join(dir, 'checkpoint.bin');
  const good = fs.readFileSync(file);
  // The header records the config, the epochs done and the run's epochs.
  const state = train.checkpointState<{ configHash: string; nextEpoch: number; totalEpochs: number }>(file);
  assert.deepEqual([state.configHash, state.nextEpoch, state.totalEpochs], [train.configHash(c), 1, 2]);
  const at = dataOffset(good) + 400;
  const flipped = Buffer.from(good);
  for (let i = 0; i < 16; i++) flipped[at + i] ^= 0xff;
  const nan = Buffer.from(good);
  nan.writeFloatLE(NaN, at);
  for (const bytes of [flipped, nan]) {
    fs.writeFileSync(file, bytes);
    await assert.rejects(
      train.trainRun(c, { outDir: dir, resume: true, progress: false }),
      (e: Error) =>
        e instanceof train.TrainingError && e.message.startsWith(`${file}: corrupt checkpoint (SHA-256 `),
    );
    assert.ok(!fs.existsSync(path.join(dir, 'metrics.json')));
    assert.deepEqual(
      fs.readFileSync(file),
      bytes,
      'the corrupt file is left for inspection, not overwritten',
    );
  }
  // A garbled header is a one-line error naming the file, not a bare SyntaxError.
  const garbled = Buffer.from(good);
  garbled.write('}{', 14, 'latin1');
  fs.writeFileSync(file, garbled);
  assert.throws(
    () => train.loadCheckpoint(file),
    (e: Error) =>
      e.name === 'CheckpointError' && e.message.startsWith(`${file}: corrupt checkpoint header (`),
  );
  // The intact file resumes.
  fs.writeFileSync(file, good);
  const r = await train.trainRun(c, { outDir: dir, resume: true, progress: false, analysis: false });
  r.model.dispose();
  assert.equal(r.metrics.train.epochs.length, 2);
});

test('#25.4 a checkpoint without a checksum (format 1) holding a NaN is refused, naming the tensor', () => {
  const file = path.join(tmp, 'v1.bin');
  const values = new Float32Array([1, 2, NaN, 4]);
  const header = Buffer.from(
    JSON.stringify({ state: { nextEpoch: 1 }, tensors: [{ name: 'w', shape: [4], offset: 0, length: 4 }] }),
  );
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  fs.writeFileSync(file, Buffer.concat([Buffer.from('NCLCKPT1'), len, header, Buffer.from(values.buffer)]));
  assert.throws(
    () => train.loadCheckpoint(file),
    (e: Error) => e.name === 'CheckpointError' && e.message === `${file}: w[2] is NaN (a non-finite value)`,
  );
  values[2] = 3;
  fs.writeFileSync(file, Buffer.concat([Buffer.from('NCLCKPT1'), len, header, Buffer.from(values.buffer)]));
  const ok = train.loadCheckpoint<{ nextEpoch: number }>(file);
  assert.deepEqual(Array.from(ok.tensors.get('w')!.data), [1, 2, 3, 4]);
  assert.equal(ok.format, 1);
});

test('#25.1 a recorded config hash names its run whether it was taken of the config as written or of its canonical form', () => {
  const raw = JSON.parse(JSON.stringify(train.protocolConfig('smoke', 'nclpp', 0)));
  raw.loss.numCopies = 1; // canonical form: IntraCL off, so the written config and the canonical one differ
  const c = train.TrainConfig.parse(raw);
  const asWritten = createHash('sha256').update(train.canonicalJSON(raw)).digest('hex').slice(0, 16);
  assert.ok(sameConfig(train.configHash(c), c));
  assert.ok(sameConfig(asWritten, c, raw));
  assert.ok(!sameConfig(asWritten, c), 'without the recorded config, only the canonical hash names it');
  const other = train.TrainConfig.parse({ ...raw, seed: 1 });
  assert.ok(!sameConfig(asWritten, other, raw), 'another seed is another run');
  assert.ok(!sameConfig(train.configHash(c), other, raw));
});

test('#25.3 a partial run is not retrained without --resume; --restart starts it over, to the uninterrupted result', async () => {
  const c = smoke('ce');
  const whole = await train.trainRun(c, { progress: false, analysis: false });
  whole.model.dispose();
  const dir = path.join(tmp, 'partial');
  await partialRun(dir, c);
  const file = path.join(dir, 'checkpoint.bin');
  const before = fs.readFileSync(file);
  await assert.rejects(
    train.trainRun(c, { outDir: dir, progress: false }),
    (e: Error) =>
      e instanceof train.TrainingError &&
      e.message ===
        `${dir}: holds a partial run (checkpoint.bin after epoch 1 of 2); --resume continues it, ` +
          `--restart starts it over, or choose another --out`,
  );
  assert.deepEqual(fs.readFileSync(file), before, 'the partial checkpoint is untouched');
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'the lock is released');
  await assert.rejects(train.trainRun(c, { outDir: dir, resume: true, restart: true, progress: false }));
  const seen: number[] = [];
  const again = await train.trainRun(c, {
    outDir: dir,
    restart: true,
    progress: false,
    analysis: false,
    onEpoch: (e) => seen.push(e.epoch),
  });
  again.model.dispose();
  assert.deepEqual(seen, [1, 2], 'started over from epoch 1');
  assert.deepEqual(again.metrics.test, whole.metrics.test);
  // Finished now: a plain run into it is refused too (nothing is overwritten without --restart).
  await assert.rejects(
    train.trainRun(c, { outDir: dir, progress: false }),
    /holds a finished run; --resume keeps it/,
  );
  // A finished run of another config is refused even with --resume.
  const other = smoke('ce', (x) => (x.seed = 4));
  await assert.rejects(
    train.trainRun(other, { outDir: dir, resume: true, progress: false }),
    /holds a finished run of another config/,
  );
});

test('#25.11 temp files of writers that died mid-write are removed when the folder is next used; a live one is kept', async () => {
  const c = smoke('ce');
  const dir = path.join(tmp, 'stale-tmp');
  await partialRun(dir, c);
  const dead = path.join(dir, `checkpoint.bin.tmp-${deadPid()}`);
  fs.writeFileSync(dead, 'half a checkpoint');
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  const live = path.join(dir, `metrics.json.tmp-${sleeper.pid}`);
  fs.writeFileSync(live, '{');
  try {
    const r = await train.trainRun(c, { outDir: dir, resume: true, progress: false, analysis: false });
    r.model.dispose();
    assert.ok(!fs.existsSync(dead), 'the dead writer’s temp file is gone');
    assert.ok(fs.existsSync(live), 'a live process’s temp file is left alone');
  } finally {
    sleeper.kill();
  }
});

test('#25.5 an exploding loss stops the run naming the step, with nothing written; non-finite weights are caught at epoch end', async () => {
  const dir = path.join(tmp, 'lr1000');
  const c = smoke('ce', (x) => (x.optim.lr = 1000));
  const steps: number[] = [];
  await assert.rejects(
    train.trainRun(c, { outDir: dir, progress: false, onStep: (s) => steps.push(s.total) }),
    (e: Error) =>
      e instanceof train.TrainingError &&
      /^loss exploded at epoch 1, step \d+ \(global step \d+\): \S+ > 100 × the first step's \S+; the run diverged/.test(
        e.message,
      ),
  );
  // The rule, checked against the losses the run reported: every step it let through was within the bound.
  for (const l of steps) assert.ok(l <= EXPLODING_LOSS_FACTOR * Math.max(1, steps[0]), String(steps));
  for (const f of ['checkpoint.bin', 'metrics.json', 'analysis.json.gz'])
    assert.ok(!fs.existsSync(path.join(dir, f)), f);
  // Epoch end: any non-finite weight or statistic is named.
  const vars = new Map<string, tf.Tensor>([
    ['expert0.conv.w', tf.tensor1d([1, -2, 3])],
    ['expert0.bn.runningVar', tf.tensor1d([1, Infinity, 3])],
    ['sgd.expert0.conv.w', tf.tensor1d([0, NaN, 0])],
  ]);
  await assert.rejects(
    checkFinite(vars, 3),
    (e: Error) =>
      e instanceof train.TrainingError &&
      e.message.startsWith('non-finite values after epoch 3 in expert0.bn.runningVar, sgd.expert0.conv.w; '),
  );
  vars.delete('expert0.bn.runningVar');
  vars.delete('sgd.expert0.conv.w');
  await checkFinite(vars, 3);
  tf.dispose([...vars.values()]);
  assert.throws(
    () => finiteJSON({ test: { top1: 0.5, kl: [0, NaN] } }, 'x.json'),
    (e: Error) => e instanceof train.TrainingError && e.message.startsWith("x.json: '1' is NaN"),
  );
  assert.equal(finiteJSON({ a: [1, null] }, 'x.json'), '{"a":[1,null]}');
});

test('#25.6 NCL++ without its terms trains with a warning, recorded in metrics.json', async () => {
  const cases: [string, (c: TrainConfig) => void, RegExp[]][] = [
    ['copies 1', (c) => (c.loss.numCopies = 1), [/IntraCL needs T ≥ 2 copies/]],
    ['experts 1', (c) => (c.model.numExperts = 1), [/InterCL needs K ≥ 2 experts/]],
    ['full', () => {}, []],
  ];
  for (const [name, patch, expected] of cases) {
    const c = smoke('nclpp', (x) => {
      x.optim.epochs = 1;
      patch(x);
    });
    assert.equal(c.method, 'nclpp', name);
    const printed: string[] = [];
    const dir = path.join(tmp, `warn-${name.replace(' ', '')}`);
    const r = await train.trainRun(c, {
      outDir: dir,
      progress: false,
      analysis: false,
      onWarning: (w) => printed.push(w),
    });
    r.model.dispose();
    assert.equal(printed.length, expected.length, `${name}: ${printed}`);
    expected.forEach((re, i) => assert.match(printed[i], re));
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
    assert.deepEqual(saved.warnings, expected.length ? printed : undefined, name);
  }
  assert.equal(configWarnings(smoke('ce')).length, 0);
});

test('#25.2 one trainer per folder: a second is refused naming the live one; a dead owner’s lock is taken over', () => {
  const dir = path.join(tmp, 'lock');
  const a = acquireRunLock(dir);
  assert.throws(
    () => acquireRunLock(dir),
    (e: Error) =>
      e instanceof train.TrainingError &&
      e.message.startsWith(`${dir}: another training (process ${process.pid}, since `),
  );
  a.release();
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
  // A lock left by a killed process (pid gone) is stale.
  fs.writeFileSync(
    path.join(dir, LOCK_FILE),
    JSON.stringify({ pid: deadPid(), host: os.hostname(), since: '2020-01-01T00:00:00.000Z' }),
  );
  const b = acquireRunLock(dir);
  assert.equal(JSON.parse(fs.readFileSync(b.file, 'utf8')).pid, process.pid);
  b.release();
  // One from another machine cannot be checked: refused, naming the file to remove.
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x' }));
  assert.throws(() => acquireRunLock(dir), /in use by process 1 on elsewhere .* remove .*train\.lock$/);
  fs.rmSync(path.join(dir, LOCK_FILE));
});

test('#25.9 a dataset folder missing a file is named, not skipped; a SHA256SUMS is verified; the folder used is logged and recorded', async () => {
  const src = data.SOURCES['fashion-mnist'];
  // Incomplete: one of the four files.
  const rootA = path.join(tmp, 'data-incomplete');
  fs.mkdirSync(path.join(rootA, 'fashion-mnist'), { recursive: true });
  fs.copyFileSync(
    path.join(EMBEDDED, 't10k-labels-idx1-ubyte.gz'),
    path.join(rootA, 'fashion-mnist', 't10k-labels-idx1-ubyte.gz'),
  );
  const roots = [
    { dir: rootA, origin: 'NCL_DATA_DIR' },
    { dir: path.join(ROOT, 'data'), origin: 'repo' },
  ];
  assert.throws(
    () => data.locateSource(src, roots),
    (e: Error) =>
      e instanceof data.DataError &&
      e.message ===
        `${data.displayPath(path.join(rootA, 'fashion-mnist'))}: incomplete fashion-mnist folder: missing ` +
          'train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz]; restore them or remove the folder',
  );
  // Complete, with a SHA256SUMS one line of which does not match.
  const rootB = path.join(tmp, 'data-sums');
  const dirB = path.join(rootB, 'fashion-mnist');
  fs.mkdirSync(dirB, { recursive: true });
  for (const f of fs.readdirSync(EMBEDDED).filter((f) => f.endsWith('.gz')))
    fs.symlinkSync(path.join(EMBEDDED, f), path.join(dirB, f));
  const sums = fs.readFileSync(path.join(EMBEDDED, 'SHA256SUMS'), 'utf8');
  fs.writeFileSync(path.join(dirB, 'SHA256SUMS'), sums);
  const found = data.locateSource(src, [{ dir: rootB, origin: 'dataDir' }]);
  assert.deepEqual(found && [found.dir, found.checksums], [dirB, path.join(dirB, 'SHA256SUMS')]);
  const wrong = sums.replace(/^[0-9a-f]{64}(?= {2}train-labels)/m, '0'.repeat(64));
  fs.writeFileSync(path.join(dirB, 'SHA256SUMS'), wrong);
  assert.throws(
    () => data.locateSource(src, [{ dir: rootB, origin: 'dataDir' }]),
    (e: Error) =>
      e instanceof data.DataError &&
      e.message.startsWith(
        `${data.displayPath(path.join(dirB, 'train-labels-idx1-ubyte.gz'))}: SHA-256 0ae29f65`,
      ),
  );
  fs.writeFileSync(path.join(dirB, 'SHA256SUMS'), sums + `${'1'.repeat(64)}  extra.bin\n`);
  assert.throws(
    () => data.locateSource(src, [{ dir: rootB, origin: 'dataDir' }]),
    /extra\.bin: missing \(listed in SHA256SUMS\)/,
  );
});

function ncl(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lib/src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, NCL_BACKEND: 'wasm', NCL_DATA_DIR: '' },
  });
}

/** One line on stderr, exit 1. */
function refused(r: ReturnType<typeof ncl>, re: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
  assert.doesNotMatch(lines[0], /ZodError|SyntaxError|Error: /);
}

test('#25.1 #25.3 #25.7 #25.9 CLI: eval refuses a foreign checkpoint and labels a partial one; train refuses a partial run without --resume; errors name their file', () => {
  const base = ['train', '--protocol', 'smoke', '--method', 'ce', '--epochs', '2'];
  const partial = path.join(tmp, 'cli-partial');
  const p = ncl([...base, '--seed', '0', '--out', partial, '--time-limit', '0.00001']);
  assert.equal(p.status, 0, p.stderr);
  const done = path.join(tmp, 'cli-done');
  const d = ncl([...base, '--seed', '1', '--out', done]);
  assert.equal(d.status, 0, d.stderr);
  // The data folder used, logged and recorded (the embedded copy, its SHA256SUMS verified).
  assert.match(d.stderr, /^data: fashion-mnist from data\/fashion-mnist \(repo, SHA256SUMS verified\)$/m);
  const m = JSON.parse(fs.readFileSync(path.join(done, 'metrics.json'), 'utf8'));
  // Recorded relative to the repository (committed runs name no machine's folders).
  assert.deepEqual(m.data, {
    dir: 'data/fashion-mnist',
    origin: 'repo',
    checksums: 'data/fashion-mnist/SHA256SUMS',
  });

  // A partial checkpoint: evaluated, and labelled so.
  const ev = ncl(['eval', '--run', partial]);
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout.split('\n')[0], /top1 .*\[PARTIAL: checkpoint after epoch 1 of 2\]$/);
  const evj = ncl(['eval', '--run', done, '--json']);
  assert.equal(evj.status, 0, evj.stderr);
  assert.deepEqual(JSON.parse(evj.stdout).checkpoint, { epoch: 2, epochs: 2, partial: false });
  assert.deepEqual(JSON.parse(evj.stdout).perClass, m.test.perClass);
  // Another seed's checkpoint under this run's config.json: refused.
  const foreign = path.join(tmp, 'cli-foreign');
  fs.cpSync(done, foreign, { recursive: true });
  fs.copyFileSync(path.join(partial, 'checkpoint.bin'), path.join(foreign, 'checkpoint.bin'));
  refused(
    ncl(['eval', '--run', foreign, '--json']),
    new RegExp(
      `^ncl: error: ${foreign}/checkpoint\\.bin: belongs to another run \\(config [0-9a-f]{16}\\), not to ${foreign}/config\\.json`,
    ),
  );
  // An invalid config.json: named.
  fs.writeFileSync(path.join(foreign, 'config.json'), '{"protocol": ');
  refused(
    ncl(['eval', '--run', foreign]),
    new RegExp(`^ncl: error: ${foreign}/config\\.json: not valid JSON \\(`),
  );

  // Training into the partial run without --resume: refused, naming both ways on.
  refused(
    ncl([...base, '--seed', '0', '--out', partial]),
    new RegExp(
      `^ncl: error: ${partial}: holds a partial run \\(checkpoint\\.bin after epoch 1 of 2\\); --resume continues it, --restart starts it over`,
    ),
  );
  // A truncated metrics.json on --resume: named.
  const trunc = path.join(tmp, 'cli-trunc');
  fs.cpSync(done, trunc, { recursive: true });
  const mf = path.join(trunc, 'metrics.json');
  fs.writeFileSync(mf, fs.readFileSync(mf).subarray(0, 200));
  refused(
    ncl([...base, '--seed', '1', '--out', trunc, '--resume']),
    new RegExp(`^ncl: error: ${mf}: not valid JSON \\(`),
  );
});

test('#25.7 #25.8 #25.10 CLI: unknown loss options, infinite values and C_hard > C are one line naming the option; nothing written', () => {
  const out = path.join(tmp, 'cli-invalid');
  const base = ['train', '--protocol', 'smoke', '--method', 'nclpp', '--out', out];
  refused(
    ncl([...base, '--set', 'loss.options={"typoSwitch":true}']),
    /^ncl: error: --set loss\.options: .*typoSwitch/,
  );
  refused(
    ncl([...base, '--imbalance', '1e999']),
    /^ncl: error: --imbalance: data\.imbalanceFactor must be a finite number, got Infinity$/,
  );
  refused(
    ncl([...base, '--lr', '1e999']),
    /^ncl: error: --lr: optim\.lr must be a finite number, got Infinity$/,
  );
  refused(ncl([...base, '--set', 'loss.numHard=20']), /^ncl: error: --set loss\.numHard: .*20.*10 classes/);
  assert.ok(!fs.existsSync(out), `${out} was written`);
});

test('#25.2 CLI: two trainings into one folder: the second is refused naming the first, which is not disturbed', async () => {
  const out = path.join(tmp, 'cli-two');
  const args = ['train', '--protocol', 'smoke', '--method', 'ce', '--out', out, '--epochs', '40'];
  const first = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'lib/src/cli/main.ts'), ...args, '--seed', '0'],
    { cwd: ROOT, env: { ...process.env, NCL_BACKEND: 'wasm', NCL_DATA_DIR: '' }, stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
  try {
    const lock = path.join(out, LOCK_FILE);
    for (let t = 0; t < 600 && !fs.existsSync(lock); t++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(fs.existsSync(lock), 'the first training took the folder');
    refused(
      ncl([...args, '--seed', '1']),
      new RegExp(
        `^ncl: error: ${out}: another training \\(process ${first.pid}, since [^)]+\\) is writing to this folder`,
      ),
    );
    assert.equal(JSON.parse(fs.readFileSync(lock, 'utf8')).pid, first.pid, 'the first still holds it');
  } finally {
    first.kill('SIGKILL');
    await exited;
  }
  // Killed: its lock stays, stale, and the next run takes it over.
  assert.ok(fs.existsSync(path.join(out, LOCK_FILE)));
  acquireRunLock(out).release();
});
