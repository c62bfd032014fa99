// Data (issue 3): readers, search order, the LT protocol, subsets, the embedded Fashion-MNIST, errors and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { data, train } from '../lib/src';
import {
  cifarPixel,
  idxBytes,
  idxPixel,
  tmpDir,
  writeCifar10,
  writeCifar100,
  writeIdx,
  writeIdxDataset,
} from './fixtures/data-fixtures';

const REPO = path.resolve(__dirname, '..');
const EMBEDDED = path.join(REPO, 'data', 'fashion-mnist');

function withoutEnv<T>(names: string[], f: () => T): T {
  const saved = names.map((n) => process.env[n]);
  names.forEach((n) => delete process.env[n]);
  const restore = () =>
    names.forEach((n, k) => (saved[k] === undefined ? delete process.env[n] : (process.env[n] = saved[k])));
  try {
    const r = f();
    if (r instanceof Promise) return r.finally(restore) as T;
    restore();
    return r;
  } catch (e) {
    restore();
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------- LT protocol

test('longTailCounts reproduces the CIFAR-LT and Fashion-MNIST-LT sizes', () => {
  const total = (a: number[]) => a.reduce((s, v) => s + v, 0);
  assert.equal(total(data.longTailCounts(10, 5000, 100)), 12406);
  assert.equal(total(data.longTailCounts(10, 5000, 50)), 13996);
  assert.equal(total(data.longTailCounts(100, 500, 100)), 10847);
  assert.equal(total(data.longTailCounts(100, 500, 50)), 12608);
  assert.equal(total(data.longTailCounts(10, 6000, 100)), 14886);
  // head = nMax, tail = nMax / IF, non-increasing; hand-computed CIFAR-10-LT IF 100 profile
  assert.deepEqual(data.longTailCounts(10, 5000, 100), [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
  const c100 = data.longTailCounts(100, 500, 100);
  assert.equal(c100[0], 500);
  assert.equal(c100[99], 5);
  for (let i = 1; i < 100; i++) assert.ok(c100[i] <= c100[i - 1]);
  assert.deepEqual(data.longTailCounts(3, 7, 1), [7, 7, 7]);
  assert.throws(() => data.longTailCounts(10, 5000, 0.5), /imbalanceFactor/);
});

test('splitOf uses the paper boundaries: many > 100, medium 20..100, few < 20', () => {
  assert.equal(data.splitOf(101), 'many');
  assert.equal(data.splitOf(100), 'medium');
  assert.equal(data.splitOf(20), 'medium');
  assert.equal(data.splitOf(19), 'few');
  assert.equal(data.splitOf(1), 'few');
  // CIFAR-100-LT IF 100: the usual 35 / 35 / 30 classes
  const counts = data.longTailCounts(100, 500, 100);
  const n = (s: string) => counts.filter((c) => data.splitOf(c) === s).length;
  assert.deepEqual([n('many'), n('medium'), n('few')], [35, 35, 30]);
});

// --------------------------------------------------------------------------------------------------- readers

test('IDX reader: plain and gzip files give the same NHWC uint8 images and int32 labels', () => {
  const root = tmpDir('idx');
  for (const gzip of [true, false]) {
    const dir = writeIdxDataset(root, { dir: gzip ? 'gz' : 'plain', gzip, nTrain: 7, H: 6, W: 5 });
    const ext = gzip ? '.gz' : '';
    const set = data.readIdxImageSet(
      path.join(dir, `train-images-idx3-ubyte${ext}`),
      path.join(dir, `train-labels-idx1-ubyte${ext}`),
      10,
    );
    assert.deepEqual([set.n, set.height, set.width, set.channels], [7, 6, 5, 1]);
    assert.ok(set.images instanceof Uint8Array && set.labels instanceof Int32Array);
    assert.equal(set.images[(3 * 6 + 2) * 5 + 4], idxPixel(3, 2, 4));
    assert.equal(set.images[(6 * 6 + 5) * 5 + 0], idxPixel(6, 5, 0));
    assert.deepEqual(Array.from(set.labels), [0, 1, 2, 3, 4, 5, 6]);
  }
});

test('CIFAR-10 reader: planar records become NHWC; batches concatenate in order; class names from meta', async () => {
  const root = tmpDir('c10');
  writeCifar10(root, 3);
  data.clearDatasetCache();
  const ds = await data.loadDataset('cifar10', { dataDir: root, offline: true });
  assert.deepEqual([ds.train.n, ds.train.height, ds.train.width, ds.train.channels], [15, 32, 32, 3]);
  assert.equal(ds.test.n, 3);
  // image 4 = data_batch_2 record 1; pixel (y 7, x 30, blue)
  assert.equal(ds.train.images[((4 * 32 + 7) * 32 + 30) * 3 + 2], cifarPixel(2, 1, 2, 7, 30));
  assert.equal(ds.train.images[((0 * 32 + 0) * 32 + 1) * 3 + 0], cifarPixel(1, 0, 0, 0, 1));
  assert.equal(ds.train.labels[4], (2 + 1) % 10);
  assert.equal(ds.classNames[9], 'truck');
  assert.deepEqual(ds.mean, [0.4914, 0.4822, 0.4465]);
});

test('CIFAR-100 reader: fine and coarse labels of the same images', async () => {
  const root = tmpDir('c100');
  writeCifar100(root, 6);
  const fine = await data.loadDataset('cifar100', { dataDir: root, offline: true });
  const coarse = await data.loadDataset('cifar100-coarse', { dataDir: root, offline: true });
  assert.deepEqual(Array.from(fine.train.labels), [1, 4, 7, 10, 13, 16]);
  assert.deepEqual(Array.from(coarse.train.labels), [0, 1, 2, 3, 4, 5]);
  assert.equal(fine.numClasses, 100);
  assert.equal(coarse.numClasses, 20);
  assert.equal(fine.classNames.length, 100);
  assert.equal(fine.classNames[1], 'aquarium_fish');
  assert.equal(coarse.classNames[19], 'vehicles_2');
  assert.equal(fine.train.images[((5 * 32 + 31) * 32 + 0) * 3 + 1], cifarPixel(1, 5, 1, 31, 0));
  assert.deepEqual(coarse.train.images, fine.train.images);
});

// ---------------------------------------------------------------------------------------------------- errors

test('a truncated IDX file is a one-line error naming the file and the missing bytes', () => {
  const root = tmpDir('trunc');
  const file = path.join(root, 'train-images-idx3-ubyte');
  const full = idxBytes([5, 4, 3], new Uint8Array(60));
  fs.writeFileSync(file, full.subarray(0, 16 + 10));
  assert.throws(
    () => data.readIdx(file, 'pixels'),
    (e: Error) =>
      e instanceof data.DataError &&
      e.message === `${data.displayPath(file)}: truncated IDX file (expected 60 bytes of pixels, got 10)`,
  );
  // the same, cut inside a gzip stream
  const big = idxBytes([50, 28, 28], crypto.randomBytes(50 * 784));
  const gz = zlib.gzipSync(big);
  fs.writeFileSync(file + '.gz', gz.subarray(0, Math.floor(gz.length / 2)));
  assert.throws(
    () => data.readIdx(file + '.gz', 'pixels'),
    /train-images-idx3-ubyte\.gz: truncated IDX file \(expected 39200 bytes of pixels, got \d+, gzip stream cut short\)$/,
  );
  // corrupt gzip, not an IDX file, trailing bytes
  const bad = Buffer.from(gz);
  bad[3] = 0xff; // reserved flag bits
  fs.writeFileSync(file + '.bad.gz', bad);
  assert.throws(() => data.readIdx(file + '.bad.gz'), /\.bad\.gz: corrupt gzip data \(/);
  fs.writeFileSync(file, Buffer.from('PK\x03\x04 this is a zip'));
  assert.throws(() => data.readIdx(file), /train-images-idx3-ubyte: not an IDX file \(magic 0x504b0304/);
  fs.writeFileSync(file, Buffer.concat([full, Buffer.alloc(3)]));
  assert.throws(() => data.readIdx(file, 'pixels'), /has 3 bytes after the 60 bytes of pixels/);
  for (const msg of ['x']) assert.ok(!msg.includes('\n'));
});

test('mismatched label file and out-of-range labels are named errors', () => {
  const root = tmpDir('labels');
  const im = path.join(root, 'im');
  const lb = path.join(root, 'lb');
  writeIdx(im, [4, 2, 2], new Uint8Array(16));
  writeIdx(lb, [3], new Uint8Array([0, 1, 2]));
  assert.throws(() => data.readIdxImageSet(im, lb, 10), /lb: has 3 labels but .*im has 4 images/);
  writeIdx(lb, [4], new Uint8Array([0, 1, 12, 2]));
  assert.throws(() => data.readIdxImageSet(im, lb, 10), /lb: label 12 at index 2 is not below 10/);
});

test('a truncated CIFAR batch is a one-line error naming the file', async () => {
  const root = tmpDir('c10bad');
  const dir = writeCifar10(root, 2);
  const f = path.join(dir, 'data_batch_3.bin');
  fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 3073 + 1000));
  data.clearDatasetCache();
  await assert.rejects(
    data.loadDataset('cifar10', { dataDir: root, offline: true }),
    (e: Error) =>
      e instanceof data.DataError &&
      /data_batch_3\.bin: truncated CIFAR file \(4073 bytes is not a whole number of 3073-byte records: 1 records and 1000 bytes over\)$/.test(
        e.message,
      ),
  );
});

test('the data CLI prints the one-line error and exits 1 on a corrupt file', () => {
  const root = tmpDir('cli');
  const dir = writeIdxDataset(root, { nTrain: 10, nTest: 5 });
  const f = path.join(dir, 'train-images-idx3-ubyte.gz');
  fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 40));
  const cli = path.join(REPO, 'lib', 'src', 'data', 'cli.ts');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', cli, 'info', 'mnist', '--data-dir', root, '--offline'],
    {
      encoding: 'utf8',
      env: { ...process.env, NCL_DATA_DIR: '' },
    },
  );
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: .*mnist\/train-images-idx3-ubyte\.gz: (truncated IDX file|corrupt gzip)/);
  const ok = spawnSync(
    process.execPath,
    ['--import', 'tsx', cli, 'info', 'mnist', '--data-dir', root, '--offline'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(ok.status, 1); // still corrupt; now make it whole again
  writeIdxDataset(root, { nTrain: 10, nTest: 5 });
  const good = spawnSync(
    process.execPath,
    ['--import', 'tsx', cli, 'info', 'mnist', '--data-dir', root, '--offline'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /mnist: 10 classes; train \[10, 6, 5, 1\], test \[5, 6, 5, 1\]/);
});

// ------------------------------------------------------------------------------------------------ search order

test('search order: dataDir, then $NCL_DATA_DIR, then the repo data/, then the system copy', async () => {
  const a = tmpDir('rootA');
  const b = tmpDir('rootB');
  writeIdxDataset(a, { nTrain: 11 });
  writeIdxDataset(b, { nTrain: 12, gzip: false });
  const saved = process.env.NCL_DATA_DIR;
  process.env.NCL_DATA_DIR = b;
  try {
    const roots = data.searchRoots({ dataDir: a });
    assert.deepEqual(
      roots.map((r) => r.origin),
      ['dataDir', 'NCL_DATA_DIR', 'repo', 'system'],
    );
    assert.equal(roots[2].dir, path.join(REPO, 'data'));
    assert.equal(roots[3].dir, '/usr/share/datasets');
    data.clearDatasetCache();
    assert.equal((await data.loadDataset('mnist', { dataDir: a, offline: true })).train.n, 11);
    assert.equal((await data.loadDataset('mnist', { offline: true })).train.n, 12);
    // Fashion-MNIST is not in b: the repo's embedded copy is next
    assert.equal(await data.ensureDataset('fashion-mnist', { offline: true }), EMBEDDED);
  } finally {
    if (saved === undefined) delete process.env.NCL_DATA_DIR;
    else process.env.NCL_DATA_DIR = saved;
  }
  // With no other copy the system one is found (Debian's dataset-fashion-mnist), when installed.
  const sys = '/usr/share/datasets/fashion-mnist';
  if (fs.existsSync(sys)) {
    const found = data.locateSource(data.SOURCES['fashion-mnist'], [
      { dir: a, origin: 'dataDir' },
      { dir: '/usr/share/datasets', origin: 'system' },
    ]);
    assert.equal(found?.dir, sys);
  }
});

test('absent dataset with downloads off: one line listing where it looked', async () => {
  const root = tmpDir('absent');
  await withoutEnv(['NCL_DATA_DIR'], async () => {
    await assert.rejects(
      data.loadDataset('cifar100', { dataDir: root, offline: true }),
      (e: Error) =>
        e instanceof data.DataError &&
        !e.message.includes('\n') &&
        e.message.startsWith(`cifar100: not found (looked in ${path.join(root, 'cifar-100-binary')}, `) &&
        e.message.includes('downloads are off'),
    );
    const saved = process.env.NCL_OFFLINE;
    process.env.NCL_OFFLINE = '1';
    try {
      await assert.rejects(
        data.loadDataset('cifar10', { dataDir: root }),
        /cifar10: not found .*downloads are off/,
      );
    } finally {
      if (saved === undefined) delete process.env.NCL_OFFLINE;
      else process.env.NCL_OFFLINE = saved;
    }
  });
  assert.deepEqual(fs.readdirSync(root), []);
});

// ---------------------------------------------------------------------------------------- embedded Fashion-MNIST

test('the embedded Fashion-MNIST: gzip IDX files matching SHA256SUMS, 60000 / 10000 images, 6000 per class', async () => {
  const sums = fs
    .readFileSync(path.join(EMBEDDED, 'SHA256SUMS'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));
  assert.equal(sums.length, 4);
  for (const [sum, name] of sums) {
    const file = path.join(EMBEDDED, name);
    const head = fs.readFileSync(file).subarray(0, 2);
    assert.deepEqual(Array.from(head), [0x1f, 0x8b], `${name} is gzip`);
    assert.equal(data.fileDigest(file, 'sha256'), sum, name);
  }
  assert.ok(fs.existsSync(path.join(EMBEDDED, 'LICENSE')));
  const ds = await withoutEnv(['NCL_DATA_DIR'], () => data.loadDataset('fashion-mnist', { offline: true }));
  assert.deepEqual([ds.train.n, ds.train.height, ds.train.width, ds.train.channels], [60000, 28, 28, 1]);
  assert.equal(ds.test.n, 10000);
  assert.deepEqual(data.classHistogram(ds.train.labels, 10), new Array(10).fill(6000));
  assert.deepEqual(data.classHistogram(ds.test.labels, 10), new Array(10).fill(1000));
  assert.deepEqual(Array.from(ds.train.labels.subarray(0, 6)), [9, 0, 0, 3, 0, 2]); // the published first labels
  assert.equal(ds.classNames[9], 'Ankle boot');
  const st = data.channelStats(ds.train);
  assert.ok(
    Math.abs(st.mean[0] - ds.mean[0]) < 1e-3 && Math.abs(st.std[0] - ds.std[0]) < 1e-3,
    JSON.stringify(st),
  );
});

test("subsetDigest: SHA-256 of the indices as JSON; the committed runs' subsets regenerate from their configs", async () => {
  // printf '[1,2,4]' | sha256sum
  assert.equal(
    data.subsetDigest({ indices: [1, 2, 4] }),
    '33a1c10fd7cb2b79058ab93874877d6234886e4a8a123d9f2a2c9277f6f2efc5',
  );
  // Digests of subset.json files that mini runs wrote when trained (hashlib over their "indices"), before those files
  // stopped being committed: the sampler must still draw exactly those images from (IF, seed).
  const ds = await withoutEnv(['NCL_DATA_DIR'], () => data.loadDataset('fashion-mnist', { offline: true }));
  const committed: [number, number, string][] = [
    [100, 0, '5d00b3daf3626b636f479d6c54caeb3ec45a47b7a0b36d9d03c813484ecf4a03'], // scripts/torch's runs
    [100, 2, '0762d487972024f9163f8c741b19f0af0e53c350b061cfa9b8f93ef936c98d43'],
    [100, 1001, 'fdf24deef0b8dd2b6f273c8cc61ebfbfcccd46845d718dd5f4283576fe3372d2'],
    [50, 0, '5c2b0616f830c52475ccf901871e3f4e0017c9e5fd4aec712b02a3ab434b4b2f'],
  ];
  for (const [imbalanceFactor, seed, sha] of committed)
    assert.equal(
      data.subsetDigest(data.longTailSubset(ds, { imbalanceFactor, seed })),
      sha,
      `IF ${imbalanceFactor} seed ${seed}`,
    );
});

test('Fashion-MNIST-LT: seeded subset of 14,886 images with the exponential class counts; test set untouched', async () => {
  const ds = await withoutEnv(['NCL_DATA_DIR'], () => data.loadDataset('fashion-mnist', { offline: true }));
  const s = data.longTailSubset(ds, { imbalanceFactor: 100, seed: 0 });
  assert.equal(s.indices.length, 14886);
  assert.deepEqual(s.classCounts, data.longTailCounts(10, 6000, 100));
  assert.deepEqual(
    data.classHistogram(
      s.indices.map((i) => ds.train.labels[i]),
      10,
    ),
    s.classCounts,
  );
  for (let k = 1; k < s.indices.length; k++) assert.ok(s.indices[k] > s.indices[k - 1]);
  // same seed, same subset; another seed, another choice of the tail images
  assert.deepEqual(data.longTailSubset(ds, { imbalanceFactor: 100, seed: 0 }).indices, s.indices);
  const s1 = data.longTailSubset(ds, { imbalanceFactor: 100, seed: 1 });
  assert.deepEqual(s1.classCounts, s.classCounts);
  assert.notDeepEqual(s1.indices, s.indices);
  // fraction (Table 9) and IF 1 (the full balanced set)
  const half = data.longTailSubset(ds, { imbalanceFactor: 100, seed: 0, fraction: 0.5 });
  assert.deepEqual(half.classCounts, [3000, 1798, 1078, 646, 387, 232, 139, 83, 50, 30]);
  const full = data.longTailSubset(ds, { imbalanceFactor: 1, seed: 0 });
  assert.equal(full.indices.length, 60000);
  // subsetImages copies exactly those images
  const sub = data.subsetImages(ds.train, s.indices.slice(0, 3));
  assert.equal(sub.n, 3);
  const i2 = s.indices[2];
  assert.deepEqual(sub.images.subarray(2 * 784, 3 * 784), ds.train.images.subarray(i2 * 784, (i2 + 1) * 784));
  assert.equal(sub.labels[2], ds.train.labels[i2]);
  assert.equal(ds.test.n, 10000);
  data.checkSubset(ds, s);
});

test('subsets round-trip through JSON; a bad file is a one-line error naming it', () => {
  const root = tmpDir('subset');
  const ds: data.Dataset = {
    name: 'mnist',
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
    train: {
      images: new Uint8Array(30),
      labels: Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 0, 0]),
      n: 10,
      height: 1,
      width: 3,
      channels: 1,
    },
    test: { images: new Uint8Array(0), labels: new Int32Array(0), n: 0, height: 1, width: 3, channels: 1 },
    mean: [0.5],
    std: [0.25],
  };
  const s = data.longTailSubset(ds, { imbalanceFactor: 5, seed: 3 });
  assert.deepEqual(s.classCounts, [5, 2, 1]); // floor(5 · 5^(−i/2)) = 5, 2.23, 1
  const file = path.join(root, 'sub', 'lt.json');
  data.saveSubset(file, s);
  assert.deepEqual(data.loadSubset(file), s);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), s);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['lt.json']);
  const shown = data.displayPath(file);
  fs.writeFileSync(file, '{"dataset": "mnist", ');
  assert.throws(
    () => data.loadSubset(file),
    (e: Error) => e instanceof data.DataError && e.message.startsWith(`${shown}: not valid JSON (`),
  );
  fs.writeFileSync(file, JSON.stringify({ ...s, indices: [...s.indices.slice(0, -1), 'x'] }));
  assert.throws(
    () => data.loadSubset(file),
    (e: Error) =>
      e.message === `${shown}: not a long-tail subset: indices.7: Expected number, received string`,
  );
  fs.writeFileSync(file, JSON.stringify({ ...s, classCounts: [5, 2, 2] }));
  assert.throws(
    () => data.loadSubset(file),
    /not a long-tail subset: classCounts sum to 9 but there are 8 indices/,
  );
  fs.writeFileSync(file, JSON.stringify({ ...s, classCounts: [4, 3, 1] }));
  assert.throws(
    () => data.checkSubset(ds, data.loadSubset(file), 'lt.json'),
    /lt\.json: class 0 has 5 images in the subset, classCounts says 4/,
  );
  assert.throws(() => data.loadSubset(path.join(root, 'nope.json')), /nope\.json: cannot read \(ENOENT\)/);
});

test('DataConfig: defaults filled in, unknown keys and bad values rejected; the trainer uses the same schema', () => {
  const c = data.DataConfig.parse({ dataset: 'cifar100', imbalanceFactor: 50, batchSize: 64 });
  assert.deepEqual(c, {
    dataset: 'cifar100',
    imbalanceFactor: 50,
    fraction: 1,
    subsetSeed: null,
    subsetFile: null,
    testPerClass: null,
    augment: 'simaug',
    randAugment: { n: 2, m: 10 },
    mixup: 0,
    batchSize: 64,
  });
  const ok = { dataset: 'mnist', imbalanceFactor: 10, batchSize: 8 };
  assert.throws(() => data.DataConfig.parse({ imbalanceFactor: 10, batchSize: 8 }), /dataset/);
  assert.throws(() => data.DataConfig.parse({ ...ok, datset: 'mnist' }), /datset/);
  assert.throws(() => data.DataConfig.parse({ ...ok, imbalanceFactor: 0.5 }));
  assert.throws(() => data.DataConfig.parse({ ...ok, augment: 'autoaugment' }));
  assert.throws(() => data.DataConfig.parse({ ...ok, randAugment: { n: 2, m: 31 } }));
  assert.throws(() => data.DataConfig.parse({ ...ok, fraction: 0 }));
  assert.equal(train.TrainConfigFields.shape.data, data.DataConfig); // one schema, not two copies
});
