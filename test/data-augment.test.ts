// Data (issue 3): SimAug / RandAugment on single images, T augmented copies stacked copy-major, Mixup,
// normalisation, determinism (same seed and epoch → same batches), evaluation batches.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, data } from '../lib/src';

before(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});

const img = (h: number, w: number, c: number, f: (y: number, x: number, k: number) => number): data.Image => {
  const d = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) d[(y * w + x) * c + k] = f(y, x, k);
  return { data: d, height: h, width: w, channels: c };
};

/** n images of H×W×C, image i filled with the constant 20·i + 1 (channel k adds k); label i % C_labels. */
function constantSet(n: number, H: number, W: number, C: number, numClasses = 3): data.ImageSet {
  const images = new Uint8Array(n * H * W * C);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < H * W; p++)
      for (let k = 0; k < C; k++) images[(i * H * W + p) * C + k] = 20 * i + 1 + k;
  return {
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % numClasses),
    n,
    height: H,
    width: W,
    channels: C,
  };
}

const rows = (x: Float32Array, size: number) =>
  Array.from({ length: x.length / size }, (_, r) => x.subarray(r * size, (r + 1) * size));

test('cropFlip matches a hand-computed crop of the zero-padded image, with and without the flip', () => {
  // 3×4 image 1..12; pad 1; offset (dy 0, dx 2): out[y][x] = in[y − 1][x + 1]
  const im = img(3, 4, 1, (y, x) => 1 + y * 4 + x);
  assert.deepEqual(Array.from(data.cropFlip(im, 0, 2, false, 1)), [0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0]);
  assert.deepEqual(Array.from(data.cropFlip(im, 0, 2, true, 1)), [0, 0, 0, 0, 0, 4, 3, 2, 0, 8, 7, 6]);
  assert.deepEqual(Array.from(data.cropFlip(im, 1, 1, false, 1)), Array.from(im.data)); // centre crop = identity
  assert.deepEqual(Array.from(data.cropFlip(im, 2, 0, false, 1)), [0, 5, 6, 7, 0, 9, 10, 11, 0, 0, 0, 0]);
  // RGB: channels move together
  const rgb = img(2, 2, 3, (y, x, k) => 100 * k + 10 * y + x);
  assert.deepEqual(
    Array.from(data.cropFlip(rgb, 1, 1, true, 1)),
    [1, 101, 201, 0, 100, 200, 11, 111, 211, 10, 110, 210],
  );
  // SimAug parameters: offsets uniform on 0..8 and flips about half the time
  const rng = data.rngFor('t');
  const seen = new Set<number>();
  let flips = 0;
  for (let k = 0; k < 2000; k++) {
    const p = data.simAugParams(rng);
    seen.add(p.dy).add(p.dx);
    flips += p.flip ? 1 : 0;
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(flips > 900 && flips < 1100, String(flips));
});

test('RandAugment ops: exact values for point ops and shifts; grayscale leaves out Color', () => {
  const im = img(4, 32, 1, (y, x) => (y * 32 + x) * 2);
  const v = Array.from(im.data);
  assert.deepEqual(
    Array.from(data.applyOp(im, 'Posterize', 30).data),
    v.map((p) => p & 0xf0),
  ); // 4 bits
  assert.deepEqual(Array.from(data.applyOp(im, 'Posterize', 0).data), v); // 8 bits
  assert.deepEqual(
    Array.from(data.applyOp(im, 'Solarize', 30).data),
    v.map((p) => 255 - p),
  ); // threshold 0
  assert.deepEqual(
    Array.from(data.applyOp(im, 'Solarize', 15).data),
    v.map((p) => (p >= 127.5 ? 255 - p : p)),
  );
  assert.deepEqual(Array.from(data.applyOp(im, 'Identity', 30).data), v);
  for (const op of ['Brightness', 'Contrast', 'Sharpness', 'Rotate', 'ShearX', 'TranslateY'] as const) {
    assert.deepEqual(Array.from(data.applyOp(im, op, 0).data), v, `${op} at magnitude 0 is the identity`);
  }
  assert.deepEqual(
    Array.from(data.applyOp(im, 'Brightness', 30, -1).data),
    v.map((p) => Math.round(0.1 * p)),
  );
  // TranslateX at m 5 on a 32-wide image: floor(150/331 · 32 · 5/30) = 2 pixels
  assert.equal(data.opValue('TranslateX', 5, 4, 32), 2);
  const tx = data.applyOp(im, 'TranslateX', 5, 1).data;
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 32; x++) assert.equal(tx[y * 32 + x], x < 2 ? 0 : v[y * 32 + x - 2]);
  // AutoContrast stretches [lo, hi] to [0, 255]
  const ac = data.applyOp(
    img(2, 2, 1, (y, x) => 50 + 10 * (2 * y + x)),
    'AutoContrast',
    0,
  ).data;
  assert.deepEqual(Array.from(ac), [0, 85, 170, 255]);
  // Rotate 30° about the centre: the centre stays, nearest sampling makes no new values, corners fall off (fill 0)
  const sq = img(5, 5, 1, (y, x) => 10 + 5 * y + x);
  const r = data.applyOp(sq, 'Rotate', 30, 1).data;
  assert.equal(r[2 * 5 + 2], sq.data[2 * 5 + 2]);
  assert.ok(Array.from(r).every((p) => p === 0 || sq.data.includes(p)));
  assert.notDeepEqual(r, sq.data);
  assert.equal(r[0], 0);
  assert.equal(data.randAugmentOps(1).length, 13);
  assert.ok(!data.randAugmentOps(1).includes('Color'));
  assert.equal(data.randAugmentOps(3).length, 14);
  // Color on RGB at factor 0.1 pulls toward the grey value
  const c = data.applyOp(
    img(1, 1, 3, (_y, _x, k) => [200, 100, 0][k]),
    'Color',
    30,
    -1,
  ).data;
  const g = 0.299 * 200 + 0.587 * 100;
  assert.deepEqual(
    Array.from(c),
    [200, 100, 0].map((p) => Math.round(0.1 * p + 0.9 * g)),
  );
});

test('augmentImage is seeded: same seed, same image; logs what it applied', () => {
  const im = img(28, 28, 1, (y, x) => (y * 28 + x) % 256);
  const log: string[] = [];
  const a = data.augmentImage(im, 'randaugment', data.rngFor(5), { randAugment: { n: 3, m: 12 }, log });
  const b = data.augmentImage(im, 'randaugment', data.rngFor(5), { randAugment: { n: 3, m: 12 } });
  const c = data.augmentImage(im, 'randaugment', data.rngFor(6), { randAugment: { n: 3, m: 12 } });
  assert.deepEqual(a.data, b.data);
  assert.notDeepEqual(a.data, c.data);
  assert.equal(log.length, 4); // the crop/flip, then three ops
  assert.match(log[0], /^crop\(dy=-?\d, dx=-?\d\)/);
  assert.deepEqual(data.augmentImage(im, 'none', data.rngFor(1)).data, im.data);
});

test('trainBatches: T copies stacked copy-major, labels repeated, normalised, every image once per epoch', () => {
  const set = constantSet(10, 4, 4, 1);
  const mean = [0.25];
  const std = [0.5];
  const o: data.BatchOptions = { batchSize: 4, numCopies: 3, augment: 'none', seed: 7, mean, std };
  assert.equal(data.numBatches(set, o), 3);
  assert.equal(data.numBatches(set, { ...o, dropLast: true }), 2);
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const sizes: number[] = [];
  for (const b of data.trainBatches(set, o, 0)) {
    const B = b.indices.length;
    sizes.push(B);
    assert.deepEqual(b.x.shape, [3 * B, 4, 4, 1]);
    assert.equal(b.x.dtype, 'float32');
    assert.equal(b.y.dtype, 'int32');
    const x = b.x.dataSync() as Float32Array;
    const y = b.y.dataSync();
    rows(x, 16).forEach((row, r) => {
      const i = b.indices[r % B]; // row t·B + i is copy t of image i
      const want = ((20 * i + 1) / 255 - 0.25) / 0.5;
      for (const v of row) assert.ok(Math.abs(v - want) < 1e-6);
      assert.equal(y[r], set.labels[i]);
    });
    seen.push(...b.indices);
    tf.dispose([b.x, b.y]);
  }
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(
    [...seen].sort((p, q) => p - q),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(tf.memory().numTensors, before);
  const dropped = [...data.trainBatches(set, { ...o, dropLast: true }, 0)];
  assert.deepEqual(
    dropped.map((b) => b.indices.length),
    [4, 4],
  );
  dropped.forEach((b) => tf.dispose([b.x, b.y]));
  const inOrder = [...data.trainBatches(set, { ...o, shuffle: false }, 3)];
  assert.deepEqual(Array.from(inOrder[0].indices), [0, 1, 2, 3]);
  inOrder.forEach((b) => tf.dispose([b.x, b.y]));
});

function batchData(set: data.ImageSet, o: data.BatchOptions, epoch: number, from = 0) {
  return [...data.trainBatches(set, o, epoch, from)].map((b) => {
    const out = {
      x: b.x.dataSync().slice(),
      y: Array.from(b.y.dataSync()),
      idx: Array.from(b.indices),
      lam: b.mixup?.lam,
    };
    tf.dispose([b.x, b.y, ...(b.mixup ? [b.mixup.yB] : [])]);
    return out;
  });
}

test('determinism: batches depend only on (seed, epoch, batch index); resume mid-epoch gives the same batches', () => {
  const set = constantSet(40, 8, 8, 3);
  for (let i = 0; i < set.images.length; i++) set.images[i] = (i * 37) % 251; // textured images
  const o: data.BatchOptions = {
    batchSize: 16,
    numCopies: 2,
    augment: 'randaugment',
    randAugment: { n: 2, m: 14 },
    seed: 11,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
    mixup: 0.4,
  };
  const e3 = batchData(set, o, 3);
  assert.deepEqual(batchData(set, o, 3), e3);
  assert.deepEqual(batchData(set, o, 3, 1), e3.slice(1)); // resumed at batch 1
  const e4 = batchData(set, o, 4);
  assert.notDeepEqual(e4[0].idx, e3[0].idx);
  const s12 = batchData(set, { ...o, seed: 12 }, 3);
  assert.notDeepEqual(s12[0].x, e3[0].x);
});

test('SimAug / RandAugment copies in a batch are the seeded single-image augmentations, and differ across copies', () => {
  const set = constantSet(6, 28, 28, 1);
  for (let i = 0; i < set.images.length; i++) set.images[i] = (i * 13) % 256;
  const mean = [0.286];
  const std = [0.353];
  for (const augment of ['simaug', 'randaugment'] as const) {
    const o: data.BatchOptions = {
      batchSize: 6,
      numCopies: 2,
      augment,
      seed: 3,
      mean,
      std,
      randAugment: { n: 2, m: 10 },
    };
    const [b] = batchData(set, o, 2);
    // Rebuild with augmentImage, drawing from the batch's own stream in the same order (copy-major).
    const rng = data.rngFor('ncl-augment', 3, 2, 0);
    const size = 28 * 28;
    const lut = data.normalizationTable(mean, std, 1);
    for (let t = 0; t < 2; t++) {
      for (let k = 0; k < 6; k++) {
        const ref = data.augmentImage(data.imageAt(set, b.idx[k]), augment, rng, {
          randAugment: { n: 2, m: 10 },
        });
        const row = b.x.subarray((t * 6 + k) * size, (t * 6 + k + 1) * size);
        for (let p = 0; p < size; p++)
          assert.equal(row[p], lut[ref.data[p]], `${augment} copy ${t} image ${k} px ${p}`);
      }
    }
    const differ = [0, 1, 2, 3, 4, 5].some((k) => {
      const a = b.x.subarray(k * size, (k + 1) * size);
      const c = b.x.subarray((6 + k) * size, (7 + k) * size);
      return a.some((v, p) => v !== c[p]);
    });
    assert.ok(differ, `${augment}: the two copies of an image differ`);
  }
});

test('Mixup: one lam ~ Beta(α, α) per batch; row t·B+i mixes copy t of image i with copy t of its partner; yB', () => {
  const set = constantSet(8, 2, 2, 1, 8); // label i = image i, so labels identify images
  const o: data.BatchOptions = {
    batchSize: 8,
    numCopies: 2,
    augment: 'none',
    seed: 1,
    mean: [0],
    std: [1],
    mixup: 1,
  };
  const [b] = [...data.trainBatches(set, o, 0)];
  assert.ok(b.mixup);
  const lam = b.mixup.lam;
  assert.ok(lam > 0 && lam < 1);
  const x = b.x.dataSync();
  const y = b.y.dataSync();
  const yB = b.mixup.yB.dataSync();
  assert.equal(b.mixup.yB.dtype, 'int32');
  const val = (i: number) => (20 * i + 1) / 255;
  const partners: number[][] = [[], []];
  for (let t = 0; t < 2; t++) {
    for (let k = 0; k < 8; k++) {
      const r = t * 8 + k;
      const i = b.indices[k];
      assert.equal(y[r], i);
      const j = yB[r];
      partners[t].push(j);
      for (let p = 0; p < 4; p++)
        assert.ok(Math.abs(x[r * 4 + p] - (lam * val(i) + (1 - lam) * val(j))) < 1e-6);
    }
  }
  assert.deepEqual(partners[0], partners[1], 'both copies share the partner');
  assert.deepEqual(
    [...partners[0]].sort(),
    [0, 1, 2, 3, 4, 5, 6, 7],
    'partners are a permutation of the batch',
  );
  tf.dispose([b.x, b.y, b.mixup.yB]);
});

test('Beta(α, α) via two Gammas: mean 1/2 and variance 1/(4(2α+1)); Gamma(k) mean k', () => {
  const rng = data.rngFor('beta-test');
  for (const a of [0.2, 1, 4]) {
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let k = 0; k < n; k++) {
      const v = data.beta(rng, a, a);
      assert.ok(v >= 0 && v <= 1);
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    assert.ok(Math.abs(mean - 0.5) < 0.01, `α ${a}: mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / (4 * (2 * a + 1))) < 0.006, `α ${a}: variance ${variance}`);
  }
  let g = 0;
  for (let k = 0; k < 20000; k++) g += data.gamma(rng, 2.5);
  assert.ok(Math.abs(g / 20000 - 2.5) < 0.05);
});

test('evalBatches: all images in order, no augmentation, normalised per channel', () => {
  const set = constantSet(5, 2, 2, 3);
  const mean = [0.1, 0.2, 0.3];
  const std = [0.5, 0.25, 0.125];
  const got = [...data.evalBatches(set, 2, mean, std)];
  assert.deepEqual(
    got.map((b) => b.start),
    [0, 2, 4],
  );
  assert.deepEqual(
    got.map((b) => b.x.shape[0]),
    [2, 2, 1],
  );
  got.forEach((b) => {
    const x = b.x.dataSync();
    const y = b.y.dataSync();
    for (let k = 0; k < b.x.shape[0]; k++) {
      const i = b.start + k;
      assert.equal(y[k], set.labels[i]);
      for (let p = 0; p < 4; p++)
        for (let c = 0; c < 3; c++)
          assert.ok(Math.abs(x[(k * 4 + p) * 3 + c] - ((20 * i + 1 + c) / 255 - mean[c]) / std[c]) < 1e-5);
    }
    tf.dispose([b.x, b.y]);
  });
  assert.throws(
    () => [...data.evalBatches(set, 2, [0.5], [0.5])],
    /mean\/std have 1\/1 entries, images have 3 channels/,
  );
});

test('figure helpers: tileImages lays images out row-major with borders; denormalizeRow inverts the batch normalisation', () => {
  const a = img(2, 2, 1, () => 10);
  const b = img(2, 2, 1, () => 20);
  const g = data.tileImages([a, b, null], 2, 1, 255);
  assert.deepEqual([g.height, g.width], [1 + 2 * 3, 1 + 2 * 3]);
  const row = (y: number) => Array.from(g.data.subarray(y * 7, (y + 1) * 7));
  assert.deepEqual(row(0), [255, 255, 255, 255, 255, 255, 255]);
  assert.deepEqual(row(1), [255, 10, 10, 255, 20, 20, 255]);
  assert.deepEqual(row(4), [255, 255, 255, 255, 255, 255, 255]); // the empty third cell
  const set = constantSet(3, 2, 2, 3);
  const mean = [0.4, 0.5, 0.6];
  const std = [0.2, 0.3, 0.4];
  const [batch] = [...data.evalBatches(set, 3, mean, std)];
  const back = data.denormalizeRow(batch.x.dataSync(), 2, set, mean, std);
  assert.deepEqual(back.data, data.imageAt(set, 2).data);
  tf.dispose([batch.x, batch.y]);
  assert.deepEqual(Array.from(data.mixImages(a, b, 0.25).data), [18, 18, 18, 18]);
});
