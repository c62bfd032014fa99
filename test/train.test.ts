// The trainer, its schedules, optimizer, checkpoints and CLI, against hand-computed values and properties.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tf, initBackend, train, evaluate, data, models } from '../lib/src';
import type { TrainConfig } from '../lib/src/train';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-train-'));
const ROOT = path.resolve(__dirname, '..');

before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});

/** The smoke protocol, tiny and quiet. */
function smoke(
  method: 'ce' | 'bsce' | 'ncl' | 'nclpp',
  patch: (c: TrainConfig) => void = () => {},
): TrainConfig {
  const c = train.getProtocol('smoke', method, 3);
  patch(c);
  return train.TrainConfig.parse(c);
}

test('learning rate: warm-up per epoch, then ×γ at each milestone (the paper CIFAR schedule)', () => {
  const o = train.getProtocol('paper-cifar100-lt', 'nclpp').optim;
  assert.ok(Math.abs(train.learningRate(o, 0, 0.5) - 0.02) < 1e-12);
  assert.ok(Math.abs(train.learningRate(o, 4, 0.9) - 0.1) < 1e-12);
  assert.ok(Math.abs(train.learningRate(o, 100, 0) - 0.1) < 1e-12);
  assert.ok(Math.abs(train.learningRate(o, 320, 0) - 0.01) < 1e-12);
  assert.ok(Math.abs(train.learningRate(o, 399, 0.99) - 0.001) < 1e-12);
});

test('learning rate: cosine from lr to minLr after warm-up', () => {
  const o = { ...train.getProtocol('mini', 'ce').optim, lr: 0.2, warmupEpochs: 2, epochs: 12, minLr: 0.01 };
  assert.equal(train.learningRate(o, 2, 0), 0.2);
  assert.ok(Math.abs(train.learningRate(o, 7, 0) - (0.01 + 0.19 / 2)) < 1e-12); // half-way: cos(π/2) = 0
  assert.ok(Math.abs(train.learningRate(o, 11, 1) - 0.01) < 1e-12);
});

test('SGD follows PyTorch: buf = μ·buf + (g + wd·w); w −= lr·buf', () => {
  const w = tf.variable(tf.tensor1d([1, -2]), true, 'sgd-test-w');
  const sgd = new train.SGD(new Map([['w', w]]), 0.9, 0.1);
  // step 1: d = g + 0.1·w = [0.5+0.1, 0.5-0.2] = [0.6, 0.3]; buf = d; w = w - 0.5·d = [0.7, -2.15]
  sgd.step({ [w.name]: tf.tensor1d([0.5, 0.5]) }, 0.5);
  assert.deepEqual(
    Array.from(w.dataSync()).map((x) => +x.toFixed(6)),
    [0.7, -2.15],
  );
  // step 2: g = 0 → d = 0.1·w = [0.07, -0.215]; buf = 0.9·[0.6,0.3] + d = [0.61, 0.055]; w -= 0.5·buf
  sgd.step({ [w.name]: tf.tensor1d([0, 0]) }, 0.5);
  assert.deepEqual(
    Array.from(w.dataSync()).map((x) => +x.toFixed(6)),
    [0.395, -2.1775],
  );
  sgd.dispose();
  w.dispose();
});

test('checkpoint round-trip keeps every value bit for bit; a truncated file is a clear error', async () => {
  const a = tf.tensor2d([
    [1.5, -0],
    [Math.PI, 1e-30],
  ]);
  const file = path.join(tmp, 'ck.bin');
  await train.saveCheckpoint(file, new Map([['a', a]]), { epoch: 3 });
  const back = train.loadCheckpoint<{ epoch: number }>(file);
  assert.equal(back.state.epoch, 3);
  assert.deepEqual(Array.from(back.tensors.get('a')!.data), Array.from(a.dataSync()));
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 30));
  assert.throws(() => train.loadCheckpoint(file), /ck\.bin: truncated/);
  a.dispose();
});

test('the same seed gives bit-identical metrics; tensors do not leak across epochs', async () => {
  const c = smoke('nclpp', (c) => (c.optim.epochs = 3));
  const r1 = await train.trainRun(c, { progress: false });
  const r2 = await train.trainRun(c, { progress: false });
  assert.deepEqual(r1.metrics.test, r2.metrics.test);
  assert.deepEqual(
    r1.metrics.train.epochs.map((e) => e.losses),
    r2.metrics.train.epochs.map((e) => e.losses),
  );
  const counts = r1.metrics.train.epochs.map((e) => e.numTensors);
  assert.equal(new Set(counts).size, 1, `tensor count changed across epochs: ${counts}`);
  r1.model.dispose();
  r2.model.dispose();
});

test('a learning curve (eval.every) changes neither the key nor the training: same final metrics, curve recorded', async () => {
  const plain = smoke('nclpp', (c) => (c.optim.epochs = 3));
  const curve = smoke('nclpp', (c) => {
    c.optim.epochs = 3;
    c.eval.every = 1;
  });
  assert.equal(train.configHash(curve), train.configHash(plain));
  const a = await train.trainRun(plain, { progress: false });
  const b = await train.trainRun(curve, { progress: false });
  assert.deepEqual(b.metrics.test, a.metrics.test);
  assert.deepEqual(
    b.metrics.train.epochs.map((e) => e.losses),
    a.metrics.train.epochs.map((e) => e.losses),
  );
  // Epochs 1 and 2 carry the curve (the last epoch's accuracy is metrics.test), each expert's top-1 in [0, 1].
  assert.deepEqual(
    b.metrics.train.epochs.map((e) => e.test !== undefined),
    [true, true, false],
  );
  for (const e of b.metrics.train.epochs.slice(0, 2)) {
    assert.equal(e.test!.experts!.length, 2);
    for (const t of [e.test!.top1, ...e.test!.experts!]) assert.ok(t >= 0 && t <= 1);
  }
  assert.equal(a.metrics.trainSet, undefined);
  assert.ok(
    b.metrics.trainSet!.top1 >= 0 && b.metrics.trainSet!.top1 <= 1,
    'a curve run reports clean train accuracy',
  );
  const counts = b.metrics.train.epochs.map((e) => e.numTensors);
  assert.equal(new Set(counts).size, 1, `tensor count changed across epochs: ${counts}`);
  a.model.dispose();
  b.model.dispose();
});

/** One epoch of smoke NCL++ with learnable λ (Table 6) into `dir`: its metrics and recorded loss variables. */
async function trainLearnable(dir: string) {
  const c = smoke('nclpp', (c) => {
    c.optim.epochs = 1;
    (c.loss.options as { learnable: boolean }).learnable = true;
  });
  const { metrics, model } = await train.trainRun(c, { outDir: dir, progress: false });
  model.dispose();
  return { metrics, lv: metrics.lossVariables! };
}

test('a loss with trainable variables (Table 6: learnable λ) records their final values in metrics.json', async () => {
  const dir = path.join(tmp, 'learnable');
  const { lv } = await trainLearnable(dir);
  assert.deepEqual(Object.keys(lv).sort(), ['w_inter', 'w_intra']);
  // The same values as the checkpoint's, and as written to disk.
  const ck = train.loadCheckpoint(path.join(dir, 'checkpoint.bin'));
  for (const n of ['w_intra', 'w_inter'])
    assert.deepEqual(Array.from(ck.tensors.get(`loss.${n}`)!.data), lv[n]);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')).lossVariables, lv);
  assert.deepEqual(train.lossVariablesOf(ck), lv);
  // They trained: from w = (0, 0), softmax's gradients for w1 and w2 are opposite and weight decay is linear, so
  // w1 = −w2 (up to float32 rounding) and both have moved.
  assert.ok(Math.abs(lv.w_intra[0]) > 1e-6, String(lv.w_intra));
  assert.ok(
    Math.abs(lv.w_intra[0] + lv.w_inter[0]) < 1e-6 * Math.max(1, Math.abs(lv.w_intra[0])),
    JSON.stringify(lv),
  );
  // A loss without variables writes none.
  const plain = await train.trainRun(
    smoke('bsce', (c) => (c.optim.epochs = 1)),
    { progress: false },
  );
  plain.model.dispose();
  assert.equal(plain.metrics.lossVariables, undefined);
});

test('one inference pass serves accuracy and analysis: same numbers as evaluating twice', async () => {
  const c = smoke('nclpp', (c) => (c.optim.epochs = 1));
  const { model } = await train.trainRun(c, { progress: false });
  const p = await train.prepareData(c);
  const o = { batchSize: 50, mean: p.dataset.mean, std: p.dataset.std };
  const pred = await evaluate.predictAll(model, p.test, o);
  assert.deepEqual(
    evaluate.evaluatePredictions(pred, p.classCounts),
    await evaluate.evaluateModel(model, p.test, p.classCounts, o),
  );
  const a1 = await evaluate.analyzeModel(model, p.test, { ...o, seed: 1 });
  const a2 = await evaluate.analyzeModel(model, p.test, { ...o, seed: 1, predictions: pred });
  assert.deepEqual(a2, a1);
  assert.equal(a1.klExperts!.length, 10);
  model.dispose();
});

test('predictAll holds the activations of one expert at a time: peak memory with 4 experts ≈ with 1, and the same logits', async () => {
  const n = 64;
  const set = {
    images: Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 37) % 256),
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    n,
    height: 28,
    width: 28,
    channels: 1,
  };
  const o = { batchSize: 64, mean: [0.3], std: [0.3] };
  const peak = async (numExperts: number) => {
    const model = models.createModel(
      { name: 'resnet8', numClasses: 10, inChannels: 1, width: 8, numExperts },
      3,
    );
    const before = tf.memory().numBytes;
    let logits: Float32Array[] = [];
    const info = await tf.profile(async () => {
      logits = (await evaluate.predictAll(model, set, o)).logits;
    });
    model.dispose();
    return { bytes: info.peakBytes - before, logits };
  };
  const one = await peak(1);
  const four = await peak(4);
  // One expert's forward at batch 64 keeps ~26 MB alive (width 8, 28×28); all four in one scope were ~4× that.
  assert.ok(one.bytes > 1e6, String(one.bytes));
  assert.ok(four.bytes < 1.25 * one.bytes, `4 experts peak ${four.bytes} B vs 1 expert ${one.bytes} B`);
  // Expert 1 of the 4-expert model has the same seed stream as the 1-expert model: the same logits.
  assert.deepEqual(four.logits[0], one.logits[0]);
});

test('a run killed mid-training resumes from its last checkpoint to the same final metrics', async () => {
  const c = smoke('nclpp', (c) => (c.optim.epochs = 3));
  const whole = await train.trainRun(c, { outDir: path.join(tmp, 'whole'), progress: false });
  whole.model.dispose();
  const dir = path.join(tmp, 'killed');
  await assert.rejects(
    train.trainRun(c, {
      outDir: dir,
      progress: false,
      onStep: (s) => {
        if (s.epoch === 1 && s.step === 2) throw new Error('killed');
      },
    }),
    /killed/,
  );
  assert.ok(fs.existsSync(path.join(dir, 'checkpoint.bin')));
  assert.ok(!fs.existsSync(path.join(dir, 'metrics.json')), 'no metrics from an interrupted run');
  const resumed = await train.trainRun(c, { outDir: dir, resume: true, progress: false });
  resumed.model.dispose();
  assert.deepEqual(resumed.metrics.test, whole.metrics.test);
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
  assert.equal(saved.configHash, train.configHash(c));
  const csv = fs.readFileSync(path.join(dir, 'per_class.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 11); // header + 10 classes
  assert.match(csv[0], /class,name,train_count,split,accuracy,expert0,expert1/);
});

test('a deadline stops the run at an epoch boundary, with its checkpoint, no leaked tensors, and resume finishes it identically', async () => {
  const c = smoke('nclpp', (c) => (c.optim.epochs = 3));
  const whole = await train.trainRun(c, { progress: false });
  whole.model.dispose();
  const dir = path.join(tmp, 'deadline');
  const before = tf.memory().numTensors;
  // A deadline already past: one epoch is still trained (at least one per call), then it stops.
  const stopped = await train.trainRun(c, { outDir: dir, progress: false, deadline: Date.now() }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(stopped instanceof train.TrainingStopped, String(stopped));
  assert.equal(stopped.epochsDone, 1);
  assert.equal(stopped.epochs, 3);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind by the stopped run');
  assert.ok(fs.existsSync(path.join(dir, 'checkpoint.bin')));
  assert.ok(!fs.existsSync(path.join(dir, 'metrics.json')));
  // A deadline far away changes nothing: the resumed run trains epochs 2 and 3 and ends as the uninterrupted one.
  const resumed = await train.trainRun(c, {
    outDir: dir,
    resume: true,
    progress: false,
    deadline: Date.now() + 3_600_000,
  });
  resumed.model.dispose();
  assert.deepEqual(resumed.metrics.test, whole.metrics.test);
  assert.deepEqual(
    resumed.metrics.train.epochs.map((e) => e.losses),
    whole.metrics.train.epochs.map((e) => e.losses),
  );
  // Each epoch names the processor and backend that trained it.
  for (const e of resumed.metrics.train.epochs)
    assert.match(e.host ?? '', new RegExp(`\\(${tf.getBackend()}\\)$`));
});

test('a NaN loss stops the run with a message naming the step, and writes no metrics', async () => {
  const c = smoke('ce');
  const dir = path.join(tmp, 'nan');
  let calls = 0;
  const lossFn = (logits: tf.Tensor2D[]) => {
    calls++;
    const total = (calls >= 2 ? logits[0].mean().mul(NaN) : logits[0].mean()) as tf.Scalar;
    return { total, terms: {} };
  };
  await assert.rejects(
    train.trainRun(c, { outDir: dir, lossFn, progress: false }),
    /loss is NaN at epoch 1, step 2/,
  );
  assert.ok(!fs.existsSync(path.join(dir, 'metrics.json')));
});

test('a custom loss plugs in; accumulate = 2 feeds two micro-batches to each optimizer step', async () => {
  const base = (acc: number, bs: number) =>
    smoke('ce', (c) => {
      c.optim.accumulate = acc;
      c.data.batchSize = bs;
      c.data.augment = 'none';
      c.optim.momentum = 0;
      c.optim.weightDecay = 0;
      c.optim.epochs = 1;
      c.optim.maxStepsPerEpoch = 1;
    });
  const seen: number[] = [];
  const lossFn = (logits: tf.Tensor2D[], labels: tf.Tensor1D) => {
    seen.push(labels.shape[0]);
    return { total: tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), logits[0]) as tf.Scalar, terms: {} };
  };
  const r = await train.trainRun(base(2, 16), { lossFn, progress: false });
  assert.deepEqual(seen, [16, 16]);
  r.model.dispose();
});

test('every protocol, the paper ones included, trains a few steps (CIFAR fixtures in the real binary format)', async () => {
  const dir = path.join(tmp, 'cifar');
  const rnd = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7919) % 251);
  // CIFAR-10: 6 files of records [label, 3072 pixels]; 12 images per class in training, 2 per class in test.
  const c10 = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(c10, { recursive: true });
  const rec10 = (label: number) => Buffer.concat([Buffer.from([label]), Buffer.from(rnd(3072))]);
  for (let b = 1; b <= 5; b++) {
    fs.writeFileSync(
      path.join(c10, `data_batch_${b}.bin`),
      Buffer.concat(Array.from({ length: 24 }, (_, i) => rec10(i % 10))),
    );
  }
  fs.writeFileSync(
    path.join(c10, 'test_batch.bin'),
    Buffer.concat(Array.from({ length: 20 }, (_, i) => rec10(i % 10))),
  );
  // CIFAR-100: records [coarse, fine, 3072 pixels].
  const c100 = path.join(dir, 'cifar-100-binary');
  fs.mkdirSync(c100, { recursive: true });
  const rec100 = (fine: number) => Buffer.concat([Buffer.from([fine % 20, fine]), Buffer.from(rnd(3072))]);
  fs.writeFileSync(
    path.join(c100, 'train.bin'),
    Buffer.concat(Array.from({ length: 1000 }, (_, i) => rec100(i % 100))),
  );
  fs.writeFileSync(
    path.join(c100, 'test.bin'),
    Buffer.concat(Array.from({ length: 200 }, (_, i) => rec100(i % 100))),
  );
  const saved = process.env.NCL_DATA_DIR;
  process.env.NCL_DATA_DIR = dir;
  try {
    for (const protocol of train.PROTOCOL_NAMES) {
      const c = train.getProtocol(protocol, 'nclpp', 0);
      c.optim.epochs = 1;
      c.optim.maxStepsPerEpoch = 1;
      c.data.batchSize = 4;
      c.data.testPerClass = 1;
      c.data.imbalanceFactor = 10; // the fixtures hold 10 images per class: IF 100 would leave empty classes
      c.eval.batchSize = 100;
      const r = await train.trainRun(train.TrainConfig.parse(c), { progress: false });
      const e = r.metrics.train.epochs[0];
      assert.ok(Number.isFinite(e.losses.total), `${protocol}: loss ${e.losses.total}`);
      assert.equal(r.metrics.test.experts.length, c.model.numExperts);
      r.model.dispose();
    }
  } finally {
    if (saved === undefined) delete process.env.NCL_DATA_DIR;
    else process.env.NCL_DATA_DIR = saved;
  }
});

function ncl(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lib/src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, NCL_BACKEND: 'wasm' },
  });
}

test('CLI: invalid options give a one-line error naming the option, exit 1, and write nothing', () => {
  const out = path.join(tmp, 'cli-bad');
  for (const [args, re] of [
    [['--lambda', 'banana'], /--lambda: Expected number, received string/],
    [['--set', 'optim.lr=-1'], /--set optim.lr: Number must be greater than 0/],
    [['--set', 'optim.colour=red'], /--set optim\.colour: Unrecognized key\(s\) in object: 'colour'/],
    [['--seed', '1.5'], /--seed: expected a non-negative integer/],
  ] as const) {
    const r = ncl(['train', '--protocol', 'smoke', '--method', 'ce', '--out', out, ...args]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
    assert.ok(!fs.existsSync(out), `${args.join(' ')} wrote ${out}`);
  }
  const bad = ncl(['train', '--protocol', 'smoke', '--method', 'svm', '--out', out]);
  assert.equal(bad.status, 1);
  assert.match(
    bad.stderr.trim(),
    /^ncl: error: --method: unknown method 'svm'; registered: ce, bsce, ncl, nclpp/,
  );
  assert.ok(!fs.existsSync(out));
});

test('CLI: ncl train writes config, metrics, per-class CSV and a checkpoint; --resume of a finished run trains nothing', () => {
  const out = path.join(tmp, 'cli-ok');
  const trainArgs = [
    'train',
    '--protocol',
    'smoke',
    '--method',
    'bsce',
    '--seed',
    '1',
    '--out',
    out,
    '--epochs',
    '1',
  ];
  const r = ncl(trainArgs);
  assert.equal(r.status, 0, r.stderr);
  for (const f of ['config.json', 'metrics.json', 'per_class.csv', 'checkpoint.bin', 'analysis.json.gz'])
    assert.ok(fs.existsSync(path.join(out, f)), f);
  const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
  for (const k of ['top1', 'perClass', 'many', 'medium', 'few', 'experts', 'ensemble'])
    assert.ok(k in m.test, k);
  // metrics.json names the training subset by size and digest; both match the subset.json written beside it.
  const subset = JSON.parse(fs.readFileSync(path.join(out, 'subset.json'), 'utf8'));
  assert.deepEqual(m.subset, { images: subset.indices.length, sha256: data.subsetDigest(subset) });
  const again = ncl([...trainArgs, '--resume']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /already finished/);
  const ev = ncl(['eval', '--run', out, '--json']);
  assert.equal(ev.status, 0, ev.stderr);
  assert.deepEqual(JSON.parse(ev.stdout).perClass, m.test.perClass);
});

test('CLI: ncl train --time-limit stops at an epoch boundary with exit 0 and a checkpoint; a bad limit is a one-line error', () => {
  const out = path.join(tmp, 'cli-time-limit');
  const args = ['train', '--protocol', 'smoke', '--method', 'ce', '--out', out, '--epochs', '2'];
  for (const bad of ['0', '-1', 'soon']) {
    const r = ncl([...args, '--time-limit', bad]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--time-limit: expected a positive number of minutes/);
    assert.ok(!fs.existsSync(out), `--time-limit ${bad} wrote ${out}`);
  }
  const r = ncl([...args, '--time-limit', '0.00001']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /stopped after epoch 1\/2 \(time limit\)/);
  assert.ok(fs.existsSync(path.join(out, 'checkpoint.bin')));
  assert.ok(!fs.existsSync(path.join(out, 'metrics.json')));
  const rest = ncl([...args, '--resume']);
  assert.equal(rest.status, 0, rest.stderr);
  const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
  assert.equal(m.train.epochs.length, 2);
});

test('CLI: ncl start trains CE, BSCE and NCL++ in two workers, prints the comparison, and a re-run trains nothing', () => {
  const root = path.join(tmp, 'start');
  const args = ['start', '--protocol', 'smoke', '--seeds', '1', '--workers', '2', '--root', root];
  const r = ncl(args);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /3 runs needed, 0 cached, 3 to train \(2 workers\)/);
  assert.match(r.stderr, /^figure: .*start-smoke\.html/m);
  const rows = r.stdout.split('\n').filter((l) => /^\| (CE|BSCE|NCL\+\+) /.test(l));
  assert.deepEqual(
    rows.map((l) => l.split('|')[1].trim()),
    ['CE', 'BSCE', 'NCL++'],
    r.stdout,
  );
  assert.equal(fs.readdirSync(path.join(root, 'runs', 'smoke')).length, 3);
  const again = ncl(args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /nothing to train: every run is finished/);
  assert.doesNotMatch(again.stderr, /\[reproduce\] start/);
  assert.equal(again.stdout, r.stdout);
  const bad = ncl(['start', '--workers', '0', '--root', path.join(tmp, 'start-bad')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr.trim(), /^ncl: error: --workers: expected a positive integer, got '0'$/);
  assert.ok(!fs.existsSync(path.join(tmp, 'start-bad')));
});

test('ncl bench --method nclpp --copies T times the NCL++ step over batch × T rows; a bad --method is a usage error', () => {
  const cli = (args: string[]) => ncl(['bench', ...args]);
  const common = ['--model', 'resnet8', '--width', '4', '--classes', '10', '--batch', '4', '--steps', '1'];
  const r = cli([
    ...common,
    '--warmup',
    '0',
    '--experts',
    '2',
    '--method',
    'nclpp',
    '--copies',
    '2',
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const b = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.deepEqual([b.method, b.copies, b.experts, b.batch], ['nclpp', 2, 2, 4]);
  assert.ok(Number.isFinite(b.loss) && b.loss > 0, `loss ${b.loss}`);
  const bad = cli([...common, '--method', 'focal']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--method.*focal|focal.*--method/);
});
