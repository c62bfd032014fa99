// nclLoss against the golden vectors (float64 PyTorch reference): every case × both modes × every term and the
// gradient of the total with respect to every expert's logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, losses } from '../lib/src';
import { GoldenTermName, loadGolden, SEMANTICS, TERM_KEYS } from './fixtures/golden';

// ---- helpers ----
/** |actual − expected| ≤ rtol·|expected| + atol. */
function assertClose(actual: number, expected: number, what: string, rtol = 1e-3, atol = 1e-5): void {
  assert.ok(
    Number.isFinite(actual) && Math.abs(actual - expected) <= rtol * Math.abs(expected) + atol,
    `${what}: got ${actual}, expected ${expected}`,
  );
}

function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = 1e-3,
  atol = 1e-5,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assertClose(actual[i], expected[i], `${what}[${i}]`, rtol, atol);
}

function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    assert.ok(Number.isFinite(values[i]), `${what}[${i}] = ${values[i]} is not finite`);
  }
}

/** A seeded [rows, cols] tensor of normal logits times `scale`. */
function randomLogits(rows: number, cols: number, seed: number, scale = 2): tf.Tensor2D {
  return tf.tidy(() => tf.mul(tf.randomNormal([rows, cols], 0, 1, 'float32', seed), scale) as tf.Tensor2D);
}

/** Labels [T·B]: B labels repeated T times (copy-major). */
function copyLabels(base: number[], numCopies: number): tf.Tensor1D {
  const all: number[] = [];
  for (let t = 0; t < numCopies; t++) all.push(...base);
  return tf.tensor1d(all, 'int32');
}

const num = (t: tf.Tensor): number => t.dataSync()[0];

// ---- golden vectors ----

const cases = loadGolden();

test('backend', async () => {
  await initBackend({ backend: 'cpu', quiet: true });
  assert.ok(cases.length >= 3, 'golden file has cases');
});

// On cpu, and on wasm: the backend the CPU training runs on (its topk, scatterND and softmax kernels are its own).
for (const [ci, c] of cases.entries()) {
  for (const semantics of SEMANTICS) {
    // NCL (CVPR 2022) is method 'ncl': NCL++ without IntraCL and with NCL's own collaborative terms.
    const method = semantics.startsWith('ncl-') ? 'ncl' : 'nclpp';
    const mode = semantics.replace('ncl-', '') as losses.LossMode;
    for (const backend of ['cpu', 'wasm'] as const) {
      test(`golden case ${ci} (K=${c.K} T=${c.T} B=${c.B} C=${c.C} C_hard=${c.numHard}) ${semantics} on ${backend}`, async () => {
        assert.ok(await tf.setBackend(backend), `${backend} backend unavailable`);
        const expected = c.modes[semantics];
        const logits = c.logits.map((z) => tf.tensor2d(z));
        const labels = tf.tensor1d(c.labels, 'int32');
        const loss = losses.lossForMethod(method, {
          numCopies: c.T,
          lambda: c.lam,
          numHard: c.numHard,
          mode,
        });
        const out = loss(logits, labels, c.classCounts);
        const result = { ...out.terms, total: out.total } as losses.NclLossResult;
        for (const name of Object.keys(TERM_KEYS) as GoldenTermName[]) {
          const key = TERM_KEYS[name] as keyof losses.NclLossResult;
          assertClose(result[key].dataSync()[0], expected.terms[name], `${semantics} case ${ci} ${name}`);
        }
        tf.dispose(result);

        const grads = tf.grads(
          (...zs: tf.Tensor[]) => loss(zs as tf.Tensor2D[], labels, c.classCounts).total,
        )(logits);
        assert.equal(grads.length, c.K);
        for (let k = 0; k < c.K; k++) {
          const want = expected.grad[k].flat();
          // gradients are O(0.1): a tolerance relative to each entry plus 1e-3 of the largest entry
          const atol = 1e-3 * Math.max(...want.map(Math.abs));
          assertAllClose(
            grads[k].dataSync(),
            want,
            `${semantics} case ${ci} d total / d logits[${k}]`,
            1e-3,
            atol,
          );
        }
        tf.dispose([...grads, ...logits, labels]);
        await tf.setBackend('cpu');
      });
    }
  }
}

// ---- the pieces, against hand computation in float64 ----

/** softmax of a plain array, float64. */
function softmax64(x: number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
const kl64 = (p: number[], q: number[]): number =>
  p.reduce((s, pj, j) => s + (pj > 0 ? pj * (Math.log(pj) - Math.log(q[j])) : 0), 0);

// A 4-class example: head class 0 (100 images) ... tail class 3 (1 image).
const counts4 = [100, 30, 10, 1];
const z4 = [
  [1, 0.5, 0, -0.5],
  [0, 0, 0, 0],
];
const y4 = [2, 3];

test('Eq. 2: balanced logits and balanced softmax', () => {
  const z = tf.tensor2d(z4);
  const b = losses.balancedLogits(z, counts4).arraySync();
  const p = losses.balancedSoftmax(z, counts4).arraySync();
  for (let i = 0; i < 2; i++) {
    const num = z4[i].map((v, j) => counts4[j] * Math.exp(v));
    const den = num.reduce((a, c) => a + c, 0);
    assertAllClose(
      b[i],
      z4[i].map((v, j) => v + Math.log(counts4[j])),
      'b',
      1e-6,
      1e-6,
    );
    assertAllClose(
      p[i],
      num.map((v) => v / den),
      'p',
      1e-5,
      1e-7,
    );
  }
  // equal logits: the balanced probability is the class frequency, the tail class gets 1/141
  assertClose(p[1][3], 1 / 141, 'tail probability', 1e-5);
  assert.throws(() => losses.balancedSoftmax(z, [100, 30, 0, 1]), /positive, finite/);
  assert.throws(() => losses.balancedSoftmax(z, [100, 30, 10]), /C = classCounts.length/);
});

test('Eq. 1, 3: cross-entropy and BSCE', () => {
  const z = tf.tensor2d(z4);
  const y = tf.tensor1d(y4, 'int32');
  const ce = (i: number, logits: number[]) => -Math.log(softmax64(logits)[y4[i]]);
  const ceWant = (ce(0, z4[0]) + ce(1, z4[1])) / 2;
  const bWant =
    (ce(
      0,
      z4[0].map((v, j) => v + Math.log(counts4[j])),
    ) +
      ce(
        1,
        z4[1].map((v, j) => v + Math.log(counts4[j])),
      )) /
    2;
  assertClose(num(losses.crossEntropy(z, y)), ceWant, 'CE', 1e-6);
  assertClose(num(losses.bsce(z, y, counts4)), bWant, 'BSCE', 1e-6);
  // BSCE punishes a tail-class target more than CE at equal logits: −log(1/141) > −log(1/4)
  assert.ok(bWant > ceWant);
});

test('Eq. 7: hard category mining picks the target and the highest other raw logits', () => {
  const z = tf.tensor2d([
    [3, 1, 2, 0, -1], // target 4 is the lowest: it is forced in, with the two best negatives 0 and 2
    [5, 4, 1, 3, 0], // target 0 is the highest: negatives 1 and 3
    [-1e4, 1e4, -1e4, 0, 1e4 - 1], // large logits
  ]);
  const y = tf.tensor1d([4, 0, 0], 'int32');
  assert.deepEqual(losses.hardCategoryMask(z, y, 3).arraySync(), [
    [1, 0, 1, 0, 1],
    [1, 1, 0, 1, 0],
    [1, 1, 0, 0, 1],
  ]);
  // ratio β = 0.4 of C = 5 → C_hard = 2: the target and the single hardest negative
  assert.deepEqual(losses.hardCategoryMask(z, y, { ratio: 0.4 }).arraySync(), [
    [1, 0, 0, 0, 1],
    [1, 1, 0, 0, 0],
    [1, 1, 0, 0, 0],
  ]);
  assert.deepEqual(losses.hardCategoryMask(z, y, 1).sum(1).arraySync(), [1, 1, 1]);
  assert.deepEqual(losses.hardCategoryMask(z, y, 5).arraySync(), tf.ones([3, 5]).arraySync());
  assert.throws(() => losses.hardCategoryMask(z, y, 6), /integer in \[1, C = 5\]/);
  assert.throws(() => losses.hardCategoryMask(z, y, 0), /integer in \[1, C = 5\]/);
  assert.equal(losses.numHardFromRatio(0.3, 100), 30);
  assert.equal(losses.numHardFromRatio(0.3, 10), 3);
  assert.equal(losses.numHardFromRatio(0, 10), 2);
  assert.equal(losses.numHardFromRatio(1, 10), 10);
  assert.equal(losses.numHardFromRatio(0.3, 1), 1);
  assert.throws(() => losses.numHardFromRatio(1.5, 10), /\[0, 1\]/);
});

test('Eq. 7: the hard set equals a sort by (score, class index), ties included, at C = 10 and C = 3000', () => {
  // Integer logits in 0..4 make ties common; the reference sorts the negatives by (−z, index) in plain JS.
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const [n, c, k] of [
    [64, 10, 3],
    [2, 3000, 7],
  ]) {
    const z = Array.from({ length: n }, () => Array.from({ length: c }, () => Math.floor(next() * 5)));
    const y = Array.from({ length: n }, () => Math.floor(next() * c));
    const want = z.map((row, i) => {
      const negatives = row
        .map((v, j) => [v, j])
        .filter(([, j]) => j !== y[i])
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, k - 1)
        .map(([, j]) => j);
      return row.map((_, j) => (j === y[i] || negatives.includes(j) ? 1 : 0));
    });
    const got = losses.hardCategoryMask(tf.tensor2d(z), tf.tensor1d(y, 'int32'), k).arraySync();
    assert.deepEqual(got, want, `N = ${n}, C = ${c}`);
  }
});

test('Fig. 6b: random categories keep the target and draw the negatives uniformly', () => {
  const n = 2000;
  const labels = tf.tensor1d(
    Array.from({ length: n }, (_, i) => i % 5),
    'int32',
  );
  const m = losses.randomCategoryMask(labels, 5, 3, 7);
  assert.deepEqual(Array.from(new Set(m.sum(1).dataSync())), [3]);
  const rows = m.arraySync();
  const hits = [0, 0, 0, 0, 0];
  rows.forEach((r, i) => {
    assert.equal(r[i % 5], 1, 'target selected');
    r.forEach((v, j) => {
      if (j !== i % 5) hits[j] += v;
    });
  });
  // each negative is in the set with probability 2/4; every class is a negative in 4/5 of the rows
  for (const h of hits) assertClose(h / (n * 0.8), 0.5, 'negative frequency', 0.1);
  assert.deepEqual(losses.randomCategoryMask(labels, 5, 3, 7).arraySync(), rows, 'same seed, same mask');
  assert.notDeepEqual(losses.randomCategoryMask(labels, 5, 3, 8).arraySync(), rows, 'other seed');
});

test('Eq. 8, 9: partial balanced probabilities and partial BSCE on the hard set', () => {
  const z = tf.tensor2d(z4);
  const y = tf.tensor1d(y4, 'int32');
  const mask = [
    [1, 0, 1, 1],
    [0, 1, 1, 1],
  ];
  const m = tf.tensor2d(mask);
  const pStar = losses.partialBalancedProbs(z, m, counts4).arraySync();
  let bsceWant = 0;
  let officialWant = 0;
  for (let i = 0; i < 2; i++) {
    const w = z4[i].map((v, j) => mask[i][j] * counts4[j] * Math.exp(v));
    const s = w.reduce((a, c) => a + c, 0);
    assertAllClose(
      pStar[i],
      w.map((v) => v / s),
      `p* row ${i}`,
      1e-5,
      1e-7,
    );
    assert.equal(pStar[i][mask[i].indexOf(0)], 0);
    bsceWant += -Math.log(w[y4[i]] / s) / 2;
    // official: balanced logits times the mask, zeros stay in the softmax
    const bm = z4[i].map((v, j) => mask[i][j] * (v + Math.log(counts4[j])));
    officialWant += -Math.log(softmax64(bm)[y4[i]]) / 2;
  }
  assertClose(num(losses.partialBsce(z, y, counts4, m)), bsceWant, 'partial BSCE (paper)', 1e-6);
  assertClose(
    num(losses.partialBsce(z, y, counts4, m, 'official')),
    officialWant,
    'partial BSCE (official)',
    1e-6,
  );
});

test('KL divergence and mutual KL', () => {
  const a = [0.7, 0.2, 0.1];
  const b = [0.2, 0.5, 0.3];
  const c = [0.3, 0.3, 0.4];
  const dist = (p: number[], mode: 'paper' | 'official') =>
    losses.distribution(tf.tensor2d([p.map(Math.log)]), mode);
  for (const mode of ['paper', 'official'] as const) {
    assertClose(num(losses.klDivergence(dist(a, mode), dist(b, mode))), kl64(a, b), `KL ${mode}`, 1e-5);
    assertClose(num(losses.klDivergence(dist(a, mode), dist(a, mode))), 0, `KL(p‖p) ${mode}`, 0, 1e-7);
    assert.equal(num(losses.mutualKL([dist(a, mode)])), 0, 'one member');
    assertClose(
      num(losses.mutualKL([dist(a, mode), dist(b, mode)])),
      kl64(a, b) + kl64(b, a),
      `mutual of 2 ${mode}`,
      1e-5,
    );
    const three = kl64(a, b) + kl64(b, a) + kl64(a, c) + kl64(c, a) + kl64(b, c) + kl64(c, b);
    assertClose(
      num(losses.mutualKL([dist(a, mode), dist(b, mode), dist(c, mode)])),
      three / 3,
      `mutual of 3`,
      1e-5,
    );
  }
  // KL ≥ 0 on random distributions
  const p = losses.distribution(randomLogits(64, 10, 1), 'paper');
  const q = losses.distribution(randomLogits(64, 10, 2), 'paper');
  assert.ok(num(losses.klDivergence(p, q)) > 0);
  // row-wise: every row's KL ≥ 0
  const rowKL = tf.sum(tf.mul(p.prob, tf.sub(p.logProb, q.logProb)), 1).dataSync();
  for (const v of rowKL) assert.ok(v >= -1e-6, `row KL ${v}`);
});

test('Eq. 4-6: InterCL over experts, IntraCL over the copies of each expert', () => {
  // K = 2 experts, T = 2 copies, B = 1 sample: rows are [copy 0, copy 1]
  const e0 = [
    [1, 0, -1],
    [0.5, 0.5, 0],
  ];
  const e1 = [
    [0, 1, 0],
    [2, 0, 0],
  ];
  const d = (rows: number[][]) => losses.distribution(tf.tensor2d(rows), 'paper');
  const sm = (r: number[]) => softmax64(r);
  const inter = num(losses.interCL([d(e0), d(e1)]));
  const interWant =
    (kl64(sm(e0[0]), sm(e1[0])) +
      kl64(sm(e1[0]), sm(e0[0])) +
      kl64(sm(e0[1]), sm(e1[1])) +
      kl64(sm(e1[1]), sm(e0[1]))) /
    2; // mean over the 2 rows
  assertClose(inter, interWant, 'InterCL', 1e-5);
  const intra = num(losses.intraCL([d(e0), d(e1)], 2));
  const intraWant =
    kl64(sm(e0[0]), sm(e0[1])) +
    kl64(sm(e0[1]), sm(e0[0])) +
    kl64(sm(e1[0]), sm(e1[1])) +
    kl64(sm(e1[1]), sm(e1[0]));
  assertClose(intra, intraWant, 'IntraCL (summed over experts)', 1e-5);
  assert.equal(num(losses.intraCL([d(e0), d(e1)], 1)), 0, 'T = 1');
  assert.equal(num(losses.interCL([d(e0)])), 0, 'K = 1');
  assert.throws(() => losses.intraCL([d(e0)], 3), /do not split/);
});

test('Eq. 10-14: nestedLoss weights the collaborative terms and sums', () => {
  const s = (v: number) => tf.scalar(v);
  const r = losses.nestedLoss(
    { bil: s(1), bilPartial: s(2), intra: s(3), intraPartial: s(4), inter: s(5), interPartial: s(6) },
    { lambdaIntra: 0.5, lambdaInter: 0.25 },
  );
  assert.equal(num(r.intra), 1.5);
  assert.equal(num(r.interPartial), 1.5);
  assertClose(num(r.total), 1 + 2 + 0.5 * 7 + 0.25 * 11, 'total', 1e-7);
});

// ---- properties of the whole loss ----

interface Setup {
  logits: tf.Tensor2D[];
  labels: tf.Tensor1D;
  counts: number[];
}
/** K experts, T copies of B samples, C classes, long-tailed counts (down to a single image). */
function setup(K: number, T: number, B: number, C: number, seed = 0): Setup {
  const counts = Array.from({ length: C }, (_, j) =>
    Math.max(1, Math.round(500 * Math.pow(0.01, j / (C - 1)))),
  );
  const base = Array.from({ length: B }, (_, i) => (i * 7 + seed) % C);
  return {
    logits: Array.from({ length: K }, (_, k) => randomLogits(T * B, C, seed * 100 + k + 1)),
    labels: copyLabels(base, T),
    counts,
  };
}
const values = (r: losses.NclLossResult) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.dataSync()[0]])) as Record<string, number>;

for (const mode of ['official', 'paper'] as const) {
  test(`properties (${mode}): KL terms ≥ 0, total = sum of terms, bil = Σ_k BSCE, gradients finite`, () => {
    const s = setup(3, 3, 4, 7, 1);
    const opts = { numCopies: 3, lambda: 0.6, numHard: 3, mode };
    const v = values(losses.nclLoss(s.logits, s.labels, s.counts, opts));
    for (const k of ['intra', 'inter'] as const) assert.ok(v[k] > 0, `${k} = ${v[k]} > 0`);
    if (mode === 'paper') for (const k of ['intraPartial', 'interPartial']) assert.ok(v[k] > 0, `${k} > 0`);
    const sum = v.bil + v.bilPartial + v.intra + v.intraPartial + v.inter + v.interPartial;
    assertClose(v.total, sum, 'total', 1e-6);
    const bilWant = s.logits.reduce((a, z) => a + num(losses.bsce(z, s.labels, s.counts)), 0);
    assertClose(v.bil, bilWant, 'bil', 1e-6);
    const grads = tf.grads(
      (...zs: tf.Tensor[]) => losses.nclLoss(zs as tf.Tensor2D[], s.labels, s.counts, opts).total,
    )(s.logits);
    grads.forEach((g, k) => {
      assert.deepEqual(g.shape, [12, 7]);
      assertFinite(g.dataSync(), `grad ${k}`);
      assert.ok(tf.abs(g).max().dataSync()[0] > 0);
    });
  });

  test(`properties (${mode}): members that agree give zero InterCL and IntraCL`, () => {
    const s = setup(1, 1, 5, 6, 2);
    // every expert and every copy sees the same logits
    const z = tf.tile(s.logits[0], [3, 1]) as tf.Tensor2D;
    const labels = tf.tile(s.labels, [3]) as tf.Tensor1D;
    const v = values(losses.nclLoss([z, z.clone()], labels, s.counts, { numCopies: 3, numHard: 3, mode }));
    for (const k of ['intra', 'intraPartial', 'inter', 'interPartial']) assertClose(v[k], 0, k, 0, 1e-6);
    assert.ok(v.bil > 0 && v.bilPartial > 0);
  });

  test(`properties (${mode}): T = 1 gives no IntraCL, K = 1 no InterCL, λ = 0 only BIL`, () => {
    const s = setup(2, 1, 6, 5, 3);
    const t1 = values(losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 1, numHard: 2, mode }));
    assert.equal(t1.intra, 0);
    assert.equal(t1.intraPartial, 0);
    assert.ok(t1.inter > 0 && t1.interPartial !== 0);
    const s2 = setup(1, 2, 3, 5, 4);
    const k1 = values(losses.nclLoss(s2.logits, s2.labels, s2.counts, { numCopies: 2, numHard: 2, mode }));
    assert.equal(k1.inter, 0);
    assert.equal(k1.interPartial, 0);
    assert.ok(k1.intra > 0);
    const s3 = setup(2, 2, 3, 5, 5);
    const l0 = values(
      losses.nclLoss(s3.logits, s3.labels, s3.counts, { numCopies: 2, numHard: 2, lambda: 0, mode }),
    );
    for (const k of ['intra', 'intraPartial', 'inter', 'interPartial']) assert.equal(l0[k], 0, k);
    assertClose(l0.total, l0.bil + l0.bilPartial, 'total = BIL terms', 1e-7);
    assert.ok(l0.bil > 0);
  });

  test(`properties (${mode}): numHard = C makes the partial terms equal the global ones`, () => {
    const s = setup(2, 2, 4, 6, 6);
    const v = values(losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, numHard: 6, mode }));
    assertClose(v.bilPartial, v.bil, 'bilPartial = bil', 1e-5);
    assertClose(v.intraPartial, v.intra, 'intraPartial = intra', 1e-4, 1e-6);
    assertClose(v.interPartial, v.inter, 'interPartial = inter', 1e-4, 1e-6);
  });
}

test("modes: 'paper' and 'official' agree on the global terms and differ on the partial ones", () => {
  const s = setup(2, 2, 4, 8, 7);
  const o = values(
    losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, numHard: 3, mode: 'official' }),
  );
  const p = values(losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, numHard: 3, mode: 'paper' }));
  assertClose(o.bil, p.bil, 'bil', 1e-6);
  for (const k of ['intra', 'inter']) assertClose(o[k], p[k], k, 1e-4);
  for (const k of ['bilPartial', 'intraPartial', 'interPartial']) {
    assert.ok(Math.abs(o[k] - p[k]) > 1e-3 * Math.abs(p[k]), `${k}: ${o[k]} vs ${p[k]}`);
  }
});

test('nclLoss validates its inputs and options', () => {
  const s = setup(2, 2, 3, 5, 8);
  const run = (opts: Record<string, unknown>, logits = s.logits, labels = s.labels, counts = s.counts) =>
    losses.nclLoss(logits, labels, counts, opts as losses.NclLossOptionsInput);
  assert.throws(() => run({ numCopies: 4 }), /not numCopies = 4 copies/);
  assert.throws(() => run({ numCopies: 2, numHard: 6 }), /integer in \[1, C = 5\]/);
  assert.throws(() => run({ numCopies: 2, mode: 'torch' }), /mode/);
  assert.throws(() => run({ numCopies: 2, lamda: 0.5 }), /lamda|Unrecognized/);
  assert.throws(() => run({ numCopies: 2, lambda: -1 }), /lambda/);
  assert.throws(() => run({ lambda: 0.6 }), /numCopies/);
  assert.throws(() => run({ numCopies: 2 }, [s.logits[0], randomLogits(6, 4, 1)]), /logits\[1\] has shape/);
  assert.throws(() => run({ numCopies: 2 }, s.logits, tf.tensor1d([0, 1], 'int32')), /labels must be \[6\]/);
  assert.throws(() => run({ numCopies: 2 }, s.logits, s.labels, [5, 4, 3, 2, 0]), /positive, finite/);
  assert.throws(() => run({ numCopies: 2 }, []), /one \[T·B, C\] tensor per expert/);
  // defaults: λ = 0.6, β = 0.3 → C_hard = max(2, round(1.5)) = 2, mode 'official'
  const d = values(run({ numCopies: 2 }));
  const e = values(run({ numCopies: 2, lambda: 0.6, numHard: 2, mode: 'official' }));
  assert.deepEqual(d, e);
  // numHard (even with β given) wins; null means "not set"
  assert.deepEqual(values(run({ numCopies: 2, beta: 0.9, numHard: 2 })), e);
  assert.deepEqual(values(run({ numCopies: 2, numHard: null })), e);
});
