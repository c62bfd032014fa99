// The loss variants of the paper's experiments (Table 6, 7, Fig. 6b, 12a, 12b, NCL), the trainer's method mapping,
// numerics at extreme logits, and tensor leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, losses } from '../lib/src';

// ---- helpers ----
function assertClose(actual: number, expected: number, what: string, rtol = 1e-3, atol = 1e-5): void {
  assert.ok(
    Number.isFinite(actual) && Math.abs(actual - expected) <= rtol * Math.abs(expected) + atol,
    `${what}: got ${actual}, expected ${expected}`,
  );
}
function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++)
    assert.ok(Number.isFinite(values[i]), `${what}[${i}] = ${values[i]}`);
}
const num = (t: tf.Tensor): number => t.dataSync()[0];
const values = (r: Record<string, tf.Scalar>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.dataSync()[0]])) as Record<string, number>;

interface Setup {
  logits: tf.Tensor2D[];
  labels: tf.Tensor1D;
  counts: number[];
  T: number;
}
/** K experts, T copies of B samples, C classes with long-tailed counts (the last ones have a single image). */
function setup(K: number, T: number, B: number, C: number, seed = 0, scale = 2): Setup {
  const counts = Array.from({ length: C }, (_, j) =>
    Math.max(1, Math.round(500 * Math.pow(0.001, j / (C - 1)))),
  );
  const base = Array.from({ length: B }, (_, i) => (i * 3 + seed) % C);
  const all: number[] = [];
  for (let t = 0; t < T; t++) all.push(...base);
  const logits = Array.from({ length: K }, (_, k) =>
    tf.tidy(
      () => tf.mul(tf.randomNormal([T * B, C], 0, 1, 'float32', seed * 100 + k + 1), scale) as tf.Tensor2D,
    ),
  );
  return { logits, labels: tf.tensor1d(all, 'int32'), counts, T };
}

test('backend', async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});

// ---- Table 7: ablation switches ----

test('Table 7: each switch removes exactly its terms', () => {
  const s = setup(2, 2, 4, 6, 1);
  const base = { numCopies: 2, numHard: 3 };
  const full = values(losses.nclLoss(s.logits, s.labels, s.counts, base));
  const run = (o: Partial<losses.NclLossOptionsInput>) =>
    values(losses.nclLoss(s.logits, s.labels, s.counts, { ...base, ...o }));
  const same = (a: Record<string, number>, keys: string[]) =>
    keys.forEach((k) => assertClose(a[k], full[k], k, 1e-6, 1e-7));
  const zero = (a: Record<string, number>, keys: string[]) => keys.forEach((k) => assert.equal(a[k], 0, k));

  const noInter = run({ interCL: false });
  zero(noInter, ['inter', 'interPartial']);
  same(noInter, ['bil', 'bilPartial', 'intra', 'intraPartial']);
  const noIntra = run({ intraCL: false });
  zero(noIntra, ['intra', 'intraPartial']);
  same(noIntra, ['bil', 'bilPartial', 'inter', 'interPartial']);
  const noNested = run({ nestedHard: false });
  zero(noNested, ['bilPartial', 'intraPartial', 'interPartial']);
  same(noNested, ['bil', 'intra', 'inter']);
  for (const v of [noInter, noIntra, noNested]) {
    assertClose(
      v.total,
      v.bil + v.bilPartial + v.intra + v.intraPartial + v.inter + v.interPartial,
      'total',
      1e-6,
    );
  }
  // no BIL: plain cross-entropy on raw logits (the naive row of Table 7)
  const naive = run({ bil: false, interCL: false, intraCL: false, nestedHard: false });
  const ceWant = s.logits.reduce((a, z) => a + num(losses.crossEntropy(z, s.labels)), 0);
  assertClose(naive.total, ceWant, 'naive CE', 1e-6);
  // BIL only = BSCE summed over experts
  const bil = run({ interCL: false, intraCL: false, nestedHard: false });
  assertClose(
    bil.total,
    num(losses.lossForMethod('bsce')(s.logits, s.labels, s.counts).total),
    'BIL = bsce',
    1e-6,
  );
});

test('λ1 and λ2 can differ (Eq. 14)', () => {
  const s = setup(2, 2, 3, 5, 2);
  const one = values(losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, numHard: 2, lambda: 1 }));
  const v = values(
    losses.nclLoss(s.logits, s.labels, s.counts, {
      numCopies: 2,
      numHard: 2,
      lambdaIntra: 0.2,
      lambdaInter: 0.7,
    }),
  );
  assertClose(v.intra, 0.2 * one.intra, 'intra', 1e-5);
  assertClose(v.intraPartial, 0.2 * one.intraPartial, 'intraPartial', 1e-5, 1e-7);
  assertClose(v.inter, 0.7 * one.inter, 'inter', 1e-5);
  assertClose(v.interPartial, 0.7 * one.interPartial, 'interPartial', 1e-5, 1e-7);
});

// ---- Fig. 6b: random categories ----

for (const mode of ['official', 'paper'] as const) {
  test(`Fig. 6b (${mode}): random categories replace HCM in every partial term`, () => {
    const s = setup(2, 2, 8, 10, 3);
    const opts = { numCopies: 2, numHard: 3, mode, hardMining: 'random' as const, seed: 11 };
    const r = values(losses.nclLoss(s.logits, s.labels, s.counts, opts));
    assert.deepEqual(values(losses.nclLoss(s.logits, s.labels, s.counts, opts)), r, 'seeded: deterministic');
    const hcm = values(losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, numHard: 3, mode }));
    assert.ok(Math.abs(r.bilPartial - hcm.bilPartial) > 1e-3, 'random ≠ hard categories');
    for (const k of ['bil', 'intra', 'inter']) assertClose(r[k], hcm[k], k, 1e-6);
    // independent expectation: the same random draw, through the pieces
    const mask = losses.randomCategoryMask(s.labels, 10, 3, 11);
    const want = s.logits.reduce((a, z) => a + num(losses.partialBsce(z, s.labels, s.counts, mask, mode)), 0);
    assertClose(r.bilPartial, want, 'bilPartial from the random mask', 1e-5);
    // hard categories are harder than random ones: a larger partial BSCE
    assert.ok(hcm.bilPartial > r.bilPartial);
    // with every class in the set, random = HCM
    const allR = values(losses.nclLoss(s.logits, s.labels, s.counts, { ...opts, numHard: 10 }));
    const allH = values(losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, numHard: 10, mode }));
    for (const k of Object.keys(allH)) assertClose(allR[k], allH[k], k, 1e-5, 1e-6);
  });
}

// ---- Fig. 12a: InterCL without the balanced scale ----

test('Fig. 12a: InterCL on unbalanced probabilities', () => {
  const s = setup(2, 1, 6, 5, 4);
  const opts = { numCopies: 1, numHard: 2, lambda: 0.6, mode: 'paper' as const };
  const bal = values(losses.nclLoss(s.logits, s.labels, s.counts, opts));
  const raw = values(losses.nclLoss(s.logits, s.labels, s.counts, { ...opts, balancedInter: false }));
  const rawWant = 0.6 * num(losses.interCL(s.logits.map((z) => losses.distribution(z, 'paper'))));
  assertClose(raw.inter, rawWant, 'inter on softmax(z)', 1e-5);
  assert.ok(Math.abs(raw.inter - bal.inter) > 1e-3);
  assertClose(raw.bil, bal.bil, 'bil unchanged', 1e-7);
  // balanced training set: the balanced scale is a no-op
  const flat = [7, 7, 7, 7, 7];
  const a = values(losses.nclLoss(s.logits, s.labels, flat, opts));
  const b = values(losses.nclLoss(s.logits, s.labels, flat, { ...opts, balancedInter: false }));
  for (const k of Object.keys(a)) assertClose(b[k], a[k], k, 1e-5, 1e-6);
});

// ---- Table 6: learnable loss weights ----

test('Table 6: learnable λ1, λ2 = softmax(w1, w2), trained through the loss', () => {
  const s = setup(2, 2, 3, 5, 5);
  const w = new losses.LearnableLossWeights();
  const opts = { numCopies: 2, numHard: 2 };
  const learned = values(losses.nclLoss(s.logits, s.labels, s.counts, { ...opts, learnable: w }));
  const half = values(
    losses.nclLoss(s.logits, s.labels, s.counts, { ...opts, lambdaIntra: 0.5, lambdaInter: 0.5 }),
  );
  for (const k of Object.keys(half)) assertClose(learned[k], half[k], k, 1e-6, 1e-7);

  const w2 = new losses.LearnableLossWeights({ intra: 1, inter: -0.5 });
  const { lambdaIntra, lambdaInter } = w2.values();
  assertClose(lambdaIntra + lambdaInter, 1, 'λ1 + λ2', 1e-6);
  assertClose(lambdaIntra, 1 / (1 + Math.exp(-1.5)), 'λ1', 1e-6);
  // d total / d w1 = λ1 λ2 (L_intra − L_inter) with the unweighted collaborative losses
  const unit = values(losses.nclLoss(s.logits, s.labels, s.counts, { ...opts, lambda: 1 }));
  const A = unit.intra + unit.intraPartial;
  const B = unit.inter + unit.interPartial;
  const { grads } = tf.variableGrads(
    () => losses.nclLoss(s.logits, s.labels, s.counts, { ...opts, learnable: w2 }).total,
    w2.variables,
  );
  const g1 = num(grads[w2.intra.name]);
  const g2 = num(grads[w2.inter.name]);
  assertClose(g1, lambdaIntra * lambdaInter * (A - B), 'd/dw1', 1e-4, 1e-7);
  assertClose(g2, -g1, 'd/dw2', 1e-4, 1e-7);
  assert.throws(
    () => losses.nclLoss(s.logits, s.labels, s.counts, { ...opts, learnable: w2, lambdaIntra: 0.1 }),
    /learnable weights replace/,
  );
  // through the method mapping, the LossFn owns its variables, by the names they are checkpointed under
  const fn = losses.lossForMethod('nclpp', { numCopies: 2, options: { learnable: true } });
  assert.deepEqual(Object.keys(fn.variables ?? {}), ['w_intra', 'w_inter']);
  assert.ok(Object.values(fn.variables ?? {}).every((v) => v.trainable));
  tf.dispose(grads);
  w.dispose();
  w2.dispose();
  fn.dispose?.();
  assert.ok(Object.values(fn.variables ?? {}).every((v) => v.isDisposed));
});

// ---- Fig. 12b: offline distillation ----

for (const mode of ['official', 'paper'] as const) {
  test(`Fig. 12b (${mode}): BIL + offline distillation from a fixed teacher`, () => {
    const s = setup(2, 2, 4, 6, 6);
    const teacherLogits = [0, 1, 2].map((i) => setup(1, 1, 4, 6, 20 + i).logits[0]);
    const teacher = losses.averageTeacherProbs(teacherLogits, s.counts); // [B, C], repeated over the T copies
    const rowSums = teacher.sum(1).dataSync();
    rowSums.forEach((v) => assertClose(v, 1, 'teacher row sum', 1e-5));
    const r = losses.offlineDistillation(s.logits, s.labels, s.counts, teacher, { lambda: 0.5, mode });
    // independent expectation, float64: λ Σ_k mean_rows KL(t ‖ balanced softmax(z_k))
    const t = teacher.arraySync();
    let want = 0;
    for (const z of s.logits) {
      const p = losses.balancedSoftmax(z, s.counts).arraySync();
      let kl = 0;
      p.forEach((row, i) => {
        const ti = t[i % 4];
        kl += ti.reduce((a, tj, j) => a + tj * (Math.log(tj) - Math.log(row[j])), 0);
      });
      want += kl / p.length;
    }
    assertClose(num(r.distill), 0.5 * want, 'distill', 1e-4);
    const bilWant = s.logits.reduce((a, z) => a + num(losses.bsce(z, s.labels, s.counts)), 0);
    assertClose(num(r.bil), bilWant, 'bil', 1e-6);
    assertClose(num(r.total), num(r.bil) + num(r.distill), 'total', 1e-6);
    // a teacher equal to the student: nothing to distill
    const self = losses.balancedSoftmax(s.logits[0], s.counts);
    assertClose(
      num(losses.offlineDistillation([s.logits[0]], s.labels, s.counts, self, { mode }).distill),
      0,
      'KL(p‖p)',
      0,
      1e-6,
    );
    // gradient reaches the students, not the teacher
    const g = tf.grads(
      (z0: tf.Tensor, z1: tf.Tensor, tp: tf.Tensor) =>
        losses.offlineDistillation(
          [z0 as tf.Tensor2D, z1 as tf.Tensor2D],
          s.labels,
          s.counts,
          tp as tf.Tensor2D,
          { mode },
        ).total,
    )([s.logits[0], s.logits[1], teacher]);
    assertFinite(g[0].dataSync(), 'd/dz0');
    assert.ok(num(tf.abs(g[0]).max()) > 0);
    assert.equal(num(tf.abs(g[2]).max()), 0, 'no gradient into the teacher');
    assert.throws(
      () => losses.offlineDistillation(s.logits, s.labels, s.counts, tf.ones([3, 6])),
      /does not fit/,
    );
  });
}

// ---- NCL and the trainer's method mapping ----

test("lossForMethod: ce, bsce, ncl (NCL++ without IntraCL, with NCL's own InterCL), nclpp", () => {
  const s = setup(2, 2, 4, 8, 7);
  const ce = losses.lossForMethod('ce')(s.logits, s.labels, s.counts);
  const ceWant = s.logits.reduce((a, z) => a + num(losses.crossEntropy(z, s.labels)), 0);
  assertClose(num(ce.total), ceWant, 'ce', 1e-6);
  assert.deepEqual(Object.keys(ce.terms), ['ce']);
  const bs = losses.lossForMethod('bsce', { numCopies: 2, lambda: 0.6 })(s.logits, s.labels, s.counts);
  assertClose(
    num(bs.total),
    s.logits.reduce((a, z) => a + num(losses.bsce(z, s.labels, s.counts)), 0),
    'bsce',
    1e-6,
  );

  const ncl = losses.lossForMethod('ncl', { numCopies: 2 })(s.logits, s.labels, s.counts);
  assert.deepEqual(Object.keys(ncl.terms), [...losses.NCL_TERMS]);
  assert.equal(num(ncl.terms.intra), 0);
  assert.equal(num(ncl.terms.intraPartial), 0);
  const nclWant = losses.nclLoss(s.logits, s.labels, s.counts, {
    numCopies: 2,
    intraCL: false,
    collaboration: 'ncl',
  });
  assertClose(num(ncl.total), num(nclWant.total), 'ncl', 1e-6);
  // At K = 2 NCL's global InterCL (Σ KL / (K − 1)) equals NCL++'s (Σ KL / (K(K − 1)/2)); its partial term differs.
  const pp2 = losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, intraCL: false });
  assertClose(num(ncl.terms.inter), num(pp2.inter), 'ncl inter at K = 2', 1e-6);

  // paper defaults: λ = 0.6, C_hard = max(2, round(0.3·8)) = 2, official
  const pp = losses.lossForMethod('nclpp', { numCopies: 2 })(s.logits, s.labels, s.counts);
  const ppWant = losses.nclLoss(s.logits, s.labels, s.counts, {
    numCopies: 2,
    lambda: 0.6,
    numHard: 2,
    mode: 'official',
  });
  assertClose(num(pp.total), num(ppWant.total), 'nclpp defaults', 1e-6);
  assert.ok(num(pp.terms.intra) > 0 && num(pp.terms.inter) > 0);
  assert.throws(() => losses.lossForMethod('nclpp'), /needs numCopies/);
  assert.throws(
    () => losses.lossForMethod('nclpp', { numCopies: 2, options: { nope: 1 } }),
    /nope|Unrecognized/,
  );
  assert.throws(
    () => losses.lossForMethod('banana'),
    /unknown method 'banana'; registered: ce, bsce, ncl, nclpp/,
  );

  // the trainer's config shape: β, numHard null, switches under `options`; C when known
  const fromConfig = losses.lossForMethod(
    'nclpp',
    { lambda: 0.6, beta: 0.3, numHard: null, mode: 'paper', numCopies: 2, options: { nestedHard: false } },
    { numClasses: 8 },
  )(s.logits, s.labels, s.counts);
  const cfgWant = losses.nclLoss(s.logits, s.labels, s.counts, {
    numCopies: 2,
    mode: 'paper',
    nestedHard: false,
  });
  assertClose(num(fromConfig.total), num(cfgWant.total), 'config-shaped overrides', 1e-6);
  assert.throws(
    () => losses.lossForMethod('nclpp', { numCopies: 2 }, { numClasses: 9 })(s.logits, s.labels, s.counts),
    /expected C = 9/,
  );
});

test('EXPERIMENT_VARIANTS: every variant is a method that builds and gives a finite loss with finite gradients', () => {
  const s = setup(2, 2, 3, 6, 8);
  for (const name of Object.keys(losses.EXPERIMENT_VARIANTS)) {
    const fn = losses.lossForMethod(name, { numCopies: 2 }, { seed: 1 });
    const g = tf.grads((...zs: tf.Tensor[]) => fn(zs as tf.Tensor2D[], s.labels, s.counts).total)(s.logits);
    g.forEach((t) => assertFinite(t.dataSync(), name));
    assert.ok(Number.isFinite(num(fn(s.logits, s.labels, s.counts).total)), name);
    fn.dispose?.();
  }
});

// ---- numerics ----

test('numerics: logits of ±1e4, single-image classes, the whole label set as hard set', () => {
  const K = 2;
  const T = 2;
  const B = 4;
  const C = 6;
  const counts = [1000, 100, 10, 1, 1, 1];
  // extreme rows: one class at +1e4 and the rest at −1e4, a row of ties, mixed signs
  const rows = [
    [1e4, -1e4, -1e4, -1e4, -1e4, -1e4],
    [-1e4, -1e4, -1e4, 1e4, -1e4, -1e4],
    [0, 0, 0, 0, 0, 0],
    [1e4, -1e4, 1e4, -1e4, 5e3, -5e3],
  ];
  const flip = rows.map((r) => r.map((v) => -v));
  const logits = [tf.tensor2d([...rows, ...flip]), tf.tensor2d([...flip.slice().reverse(), ...rows])];
  const labels = tf.tensor1d([3, 0, 5, 1, 3, 0, 5, 1], 'int32');
  assert.equal(logits.length, K);
  assert.equal(labels.shape[0], T * B);
  const check = (name: string, f: (zs: tf.Tensor2D[]) => tf.Scalar) => {
    const v = tf.tidy(() => num(f(logits)));
    assert.ok(Number.isFinite(v), `${name}: value ${v}`);
    const g = tf.grads((...zs: tf.Tensor[]) => f(zs as tf.Tensor2D[]))(logits);
    g.forEach((t, k) => assertFinite(t.dataSync(), `${name}: grad ${k}`));
    tf.dispose(g);
  };
  for (const mode of ['official', 'paper'] as const) {
    for (const numHard of [1, 2, 3, C]) {
      check(
        `${mode} C_hard=${numHard}`,
        (zs) => losses.nclLoss(zs, labels, counts, { numCopies: T, numHard, mode }).total,
      );
      check(`${mode} C_hard=${numHard} per term`, (zs) => {
        const r = losses.nclLoss(zs, labels, counts, { numCopies: T, numHard, mode });
        return tf.addN([r.bil, r.bilPartial, r.intra, r.intraPartial, r.inter, r.interPartial]) as tf.Scalar;
      });
    }
    check(
      `${mode} random`,
      (zs) => losses.nclLoss(zs, labels, counts, { numCopies: T, mode, hardMining: 'random', seed: 1 }).total,
    );
    check(
      `${mode} unbalanced inter`,
      (zs) => losses.nclLoss(zs, labels, counts, { numCopies: T, mode, balancedInter: false }).total,
    );
    const teacher = tf.tensor2d(
      rows.map((r) => (r[0] > 0 ? [1, 0, 0, 0, 0, 0] : [0.2, 0.2, 0.2, 0.2, 0.2, 0])),
    );
    check(`${mode} offline`, (zs) => losses.offlineDistillation(zs, labels, counts, teacher, { mode }).total);
  }
  for (const m of losses.methodNames()) {
    const fn = losses.lossForMethod(m, { numCopies: T }, { seed: 1 });
    check(`method ${m}`, (zs) => fn(zs, labels, counts).total);
    fn.dispose?.();
  }
  // the pieces alone
  check('partialBalancedProbs', (zs) => {
    const mask = losses.hardCategoryMask(zs[0], labels, 3);
    return tf.sum(tf.mul(losses.partialBalancedProbs(zs[0], mask, counts), zs[1])) as tf.Scalar;
  });
});

// ---- memory ----

test('no tensor leaks: repeated loss and gradient calls keep tf.memory().numTensors constant', () => {
  const s = setup(2, 2, 4, 6, 9);
  const w = new losses.LearnableLossWeights();
  const teacher = losses.averageTeacherProbs([s.logits[0]], s.counts);
  const nclpp = losses.lossForMethod('nclpp', { numCopies: 2, mode: 'paper' });
  const steps: [string, () => void][] = [
    [
      'nclLoss in tidy',
      () => tf.tidy(() => void losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2 }).total),
    ],
    [
      'nclLoss result disposed',
      () => tf.dispose(losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, mode: 'paper' })),
    ],
    [
      'tf.grads',
      () =>
        tf.dispose(
          tf.grads(
            (...zs: tf.Tensor[]) =>
              losses.nclLoss(zs as tf.Tensor2D[], s.labels, s.counts, { numCopies: 2 }).total,
          )(s.logits),
        ),
    ],
    [
      'random + learnable, variableGrads',
      () => {
        const { value, grads } = tf.variableGrads(
          () =>
            losses.nclLoss(s.logits, s.labels, s.counts, { numCopies: 2, hardMining: 'random', learnable: w })
              .total,
          w.variables,
        );
        tf.dispose([value, grads]);
      },
    ],
    ['lossForMethod', () => tf.tidy(() => void nclpp(s.logits, s.labels, s.counts).total)],
    ['offline', () => tf.dispose(losses.offlineDistillation(s.logits, s.labels, s.counts, teacher))],
  ];
  for (const [name, step] of steps) {
    step(); // warm-up (kernels may cache constants on first use)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    assert.equal(tf.memory().numTensors, before, `${name} leaks tensors`);
  }
  w.dispose();
});
