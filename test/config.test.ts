// The training config: validation at the boundary, the canonical form and its cache key, and the protocols.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import seedrandom from 'seedrandom';
import { tf, initBackend, train } from '../lib/src';

const parse = (c: unknown) => train.TrainConfig.parse(c);
/** The lib's own methods (their variants are these with other defaults). */
const PAPER_METHODS = ['ce', 'bsce', 'ncl', 'nclpp'];
/** A protocol config to edit by hand, as a user edits a config.json. */
interface Editable {
  method: string;
  model: { numExperts: number };
  loss: {
    numCopies: number;
    lambda: number;
    beta: number;
    mode: string;
    options: Record<string, unknown>;
  };
}
const editable = (c: train.TrainConfigInput) => structuredClone(c) as unknown as Editable;
const errorOf = (c: unknown): string => {
  const r = train.TrainConfig.safeParse(c);
  assert.equal(r.success, false, 'expected a validation error');
  return train.formatConfigError(r.error!);
};

test('an unknown loss option is an error naming it; typed options get their defaults', () => {
  const c = train.protocolConfig('smoke', 'nclpp', 0);
  const msg = errorOf({ ...c, loss: { ...c.loss, options: { typoSwitch: true } } });
  assert.match(msg, /^loss\.options: .*typoSwitch/);
  assert.doesNotMatch(msg, /\n/);
  const parsed = parse(c);
  assert.deepEqual(parsed.loss.options, {
    bil: true,
    interCL: true,
    intraCL: true,
    nestedHard: true,
    hardMining: 'hcm',
    balancedInter: true,
    learnable: false,
    lambdaIntra: null,
    lambdaInter: null,
  });
  assert.match(errorOf({ ...c, loss: { ...c.loss, options: { interCL: 'yes' } } }), /loss\.options\.interCL/);
});

test('infinite numbers and a hard set larger than C are rejected before anything runs', () => {
  const c = train.protocolConfig('smoke', 'nclpp', 0);
  assert.match(errorOf({ ...c, data: { ...c.data, imbalanceFactor: Infinity } }), /data\.imbalanceFactor/);
  assert.match(errorOf({ ...c, optim: { ...c.optim, lr: Infinity } }), /optim\.lr/);
  assert.match(errorOf({ ...c, loss: { ...c.loss, lambda: Infinity } }), /loss\.lambda/);
  // Fashion-MNIST has C = 10 classes.
  assert.match(
    errorOf({ ...c, loss: { ...c.loss, numHard: 20 } }),
    /loss\.numHard: C_hard = 20 exceeds the 10 classes/,
  );
  assert.equal(parse({ ...c, loss: { ...c.loss, numHard: 10 } }).loss.numHard, 10);
});

test('parsing is idempotent: a parsed config (as written to config.json) parses to itself', () => {
  for (const p of train.PROTOCOL_NAMES)
    for (const m of PAPER_METHODS) {
      const once = parse(train.protocolConfig(p, m, 3));
      const twice = parse(JSON.parse(JSON.stringify(once)));
      assert.deepEqual(twice, once, `${p}/${m}`);
      assert.equal(train.configHash(twice), train.configHash(once));
    }
});

test('mini is the paper CIFAR-LT recipe but for the scale choices it names', () => {
  for (const m of PAPER_METHODS) {
    const mini = train.getProtocol('mini', m, 0);
    const paper = train.getProtocol('paper-cifar100-lt', m, 0);
    assert.equal(mini.data.batchSize, paper.data.batchSize);
    for (const k of ['lr', 'momentum', 'weightDecay'] as const)
      assert.equal(mini.optim[k], paper.optim[k], k);
    assert.equal(mini.model.numExperts, paper.model.numExperts);
    assert.deepEqual(
      { ...mini.loss, numCopies: 0 },
      { ...paper.loss, numCopies: 0 },
      'λ, β, C_hard, semantics and switches',
    );
  }
  assert.deepEqual(Object.keys(train.MINI_SCALE).sort(), ['augment', 'copies', 'dataset', 'epochs', 'model']);
});

test('settings without effect take their default: configs that train the same thing share a key', () => {
  const base = train.protocolConfig('smoke', 'nclpp', 0);
  const key = (f: (c: Editable) => void) => {
    const c = editable(base);
    f(c);
    return train.configHash(parse(c));
  };
  const plain = key(() => {});
  // Switches spelled out at their default.
  assert.equal(
    key((c) => (c.loss.options = { interCL: true, hardMining: 'hcm' })),
    plain,
  );
  // IntraCL with one copy, InterCL with one expert.
  const t1 = key((c) => (c.loss.numCopies = 1));
  assert.equal(
    key((c) => ((c.loss.numCopies = 1), (c.loss.options = { intraCL: false }))),
    t1,
  );
  // Without the collaborative and hard-category terms NCL++ is BSCE summed over experts.
  const bsce = key((c) => ((c.method = 'bsce'), (c.loss.lambda = 0.6)));
  assert.equal(
    key((c) => (c.loss.options = { interCL: false, intraCL: false, nestedHard: false })),
    bsce,
  );
  // ce / bsce read no loss setting.
  assert.equal(
    key((c) => ((c.method = 'bsce'), (c.loss.lambda = 0.9), (c.loss.beta = 0.5))),
    bsce,
  );
  // Switches that change training keep their own key.
  assert.notEqual(
    key((c) => (c.loss.options = { interCL: false })),
    plain,
  );
  assert.notEqual(
    key((c) => (c.loss.options = { balancedInter: false })),
    plain,
  );
  assert.notEqual(
    key((c) => (c.loss.mode = 'paper')),
    plain,
  );
  assert.notEqual(
    key((c) => (c.method = 'ncl')),
    key((c) => (c.loss.options = { intraCL: false })),
  );
});

test('property: configs with one key have the same loss and gradients (random switch combinations)', async () => {
  await initBackend({ backend: 'cpu', quiet: true });
  const rng = seedrandom('config-key');
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
  const C = 10;
  const B = 3;
  const counts = Array.from({ length: C }, (_, j) => Math.round(100 * 0.5 ** j) + 1);
  const groups = new Map<string, { total: number; grads: Float32Array[]; what: string }>();
  let shared = 0;
  for (let i = 0; i < 240; i++) {
    const c = editable(train.protocolConfig('smoke', pick(PAPER_METHODS), 0));
    c.model.numExperts = pick([1, 2, 3]);
    c.loss.numCopies = pick([1, 2]);
    c.loss.lambda = pick([0.6, 0.8]);
    c.loss.beta = pick([0.3, 0.5]);
    c.loss.mode = pick(['official', 'paper']);
    c.loss.options = {
      bil: pick([true, false]),
      interCL: pick([true, false]),
      intraCL: pick([true, false]),
      nestedHard: pick([true, false]),
      balancedInter: pick([true, false]),
      lambdaInter: pick([null, 0.6, 0.3]),
    };
    const parsed = parse(c);
    const K = parsed.model.numExperts;
    const T = parsed.loss.numCopies;
    const h = `${train.configHash(parsed)}`;
    const logits = Array.from(
      { length: K },
      (_, k) => tf.randomNormal([T * B, C], 0, 2, 'float32', 7 + k) as tf.Tensor2D,
    );
    const labels = tf.tensor1d(
      Array.from({ length: T * B }, (_, r) => (r * 3) % C),
      'int32',
    );
    // The loss of the config as written (validated, not canonical): the key must not hide a difference.
    const { fn, dispose } = train.lossFromConfig(train.TrainConfigFields.parse(c), C);
    const f = (...zs: tf.Tensor[]) => fn(zs as tf.Tensor2D[], labels, counts).total;
    const { value, grads } = tf.valueAndGrads(f)(logits);
    const now = { total: value.dataSync()[0], grads: grads.map((g) => g.dataSync() as Float32Array) };
    tf.dispose([value, ...grads, ...logits, labels]);
    dispose();
    const what = JSON.stringify({ method: c.method, K, T, loss: c.loss });
    const first = groups.get(h);
    if (!first) {
      groups.set(h, { ...now, what });
      continue;
    }
    shared++;
    const msg = `same key ${h}:\n  ${first.what}\n  ${what}`;
    assert.ok(Math.abs(now.total - first.total) <= 1e-5 * Math.max(1, Math.abs(first.total)), msg);
    for (let k = 0; k < K; k++)
      for (let j = 0; j < now.grads[k].length; j++)
        assert.ok(Math.abs(now.grads[k][j] - first.grads[k][j]) <= 1e-5, `${msg}\n  d/dz[${k}][${j}]`);
  }
  assert.ok(shared > 100, `only ${shared} configs shared a key: the property was barely exercised`);
});

test('docs/protocols.md gives the reason for each of mini scale choices, as protocols.ts does', () => {
  const doc = fs
    .readFileSync(path.join(__dirname, '..', 'docs', 'protocols.md'), 'utf8')
    .replace(/\s+/g, ' ');
  for (const [k, why] of Object.entries(train.MINI_SCALE))
    assert.ok(
      doc.includes(`**${k}**: ${why.replace(/\s+/g, ' ')}`),
      `docs/protocols.md lacks MINI_SCALE.${k}`,
    );
});
