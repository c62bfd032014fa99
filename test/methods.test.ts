// Methods as registered modules: the registry, the paper's variants as methods, methods from files (content hash of
// the file and its relative imports, loaded in any process), and the example methods/focal.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf, initBackend, losses, train, experiments, showFigure, z } from '../lib/src';

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-methods-'));
// tsx by file (the children run in folders without node_modules).
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const key = (c: train.TrainConfig) => `${c.method}-${train.configHash(c)}`;

before(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});

/** A method file importing a helper, both in a fresh folder; returns the folder and the method file. */
function methodFolder(name: string, scale = 1): { dir: string; file: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'scale.ts'), `export const SCALE = ${scale};\n`);
  fs.writeFileSync(
    path.join(dir, 'method.ts'),
    `import { defineMethod, losses, tf, z } from 'ncl-lab';
import { SCALE } from './scale';
export default defineMethod({
  name: '${name}',
  label: 'Scaled CE',
  options: z.object({ weight: z.number().positive().default(1) }),
  loss: ({ weight }) => (logits, labels) =>
    tf.tidy(() => {
      const total = tf.mul(tf.addN(logits.map((l) => losses.crossEntropy(l, labels))), weight * SCALE) as tf.Scalar;
      return { total, terms: { scaled: tf.clone(total) } };
    }),
});
`,
  );
  return { dir, file: path.join(dir, 'method.ts') };
}

/** Parse `config` in a fresh process (with tsx), as a worker does: the key it gets, or the error (one line). */
function inFreshProcess(config: unknown): { out: string; err: string; status: number | null } {
  const file = path.join(tmp, `script-${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(
    file,
    `import { train } from '${path.join(ROOT, 'lib/src')}';
const r = train.TrainConfig.safeParse(${JSON.stringify(config)});
if (!r.success) {
  console.error(train.formatConfigError(r.error));
  process.exit(1);
}
console.log(r.data.method + '-' + train.configHash(r.data));
`,
  );
  const r = spawnSync(process.execPath, ['--import', TSX, file], { cwd: ROOT, encoding: 'utf8' });
  return { out: r.stdout.trim(), err: r.stderr.trim(), status: r.status };
}

test('the registry: the lib’s own methods by name, a clear error otherwise, their names kept', () => {
  assert.deepEqual(losses.methodNames().slice(0, 4), ['ce', 'bsce', 'ncl', 'nclpp']);
  for (const v of Object.keys(losses.EXPERIMENT_VARIANTS)) assert.ok(losses.findMethod(v), v);
  assert.equal(losses.getMethod('nclpp').label, 'NCL++');
  assert.throws(
    () => losses.getMethod('nope'),
    /^Error: unknown method 'nope'; registered: ce, bsce, ncl, nclpp, /,
  );
  const spec = { name: 'bsce', label: 'mine', options: z.object({}), loss: () => losses.lossForMethod('ce') };
  assert.throws(() => losses.registerMethod(spec), /'bsce' is one of the lib's own/);
  assert.throws(() => losses.defineMethod({ ...spec, name: 'has space' }), /needs a name/);
  assert.throws(
    () => losses.defineMethod({ ...spec, name: 'x', options: z.object({ numCopies: z.number() }) }),
    /may not define numCopies/,
  );
  assert.throws(() => losses.defineMethod({ ...spec, name: 'x', experts: 0 }), /experts must be/);
});

test('each paper variant is a method whose configs are those of the method it varies, switches written out', () => {
  // The hand-written equivalent: the base method's protocol config with the variant's K, T and switches.
  for (const [name, v] of Object.entries(losses.EXPERIMENT_VARIANTS)) {
    for (const protocol of ['mini', 'paper-cifar100-lt']) {
      const c = train.protocolConfig(protocol, v.method, 1) as {
        model: object;
        loss: Record<string, unknown>;
      };
      const input = {
        ...c,
        model: { ...c.model, ...(v.experts ? { numExperts: v.experts } : {}) },
        loss: { ...c.loss, ...(v.copies ? { numCopies: v.copies } : {}), options: v.options },
      };
      assert.equal(key(train.getProtocol(protocol, name, 1)), key(train.TrainConfig.parse(input)), name);
    }
  }
  // A variant's defaults are only defaults: its options can be set like any method's.
  const c = train.getProtocol('mini', 'bil+nfl', 0);
  assert.equal(c.method, 'nclpp');
  assert.equal(
    train.TrainConfig.parse({
      ...train.protocolConfig('mini', 'bil+nfl'),
      loss: { options: { interCL: true } },
    }).model.numExperts,
    1,
  );
});

test('a method registered in a notebook: its options in the config, its own keys, canonical rename to a built-in', async () => {
  const spec = losses.defineMethod({
    name: 'tempered',
    label: 'Tempered CE',
    options: z.object({ temperature: z.number().positive().default(2) }),
    loss:
      ({ temperature }) =>
      (logits, labels) =>
        tf.tidy(() => {
          const total = tf.addN(
            logits.map((l) => losses.crossEntropy(tf.div(l, temperature), labels)),
          ) as tf.Scalar;
          return { total, terms: { tempered: tf.clone(total) } };
        }),
    canonical: (c) =>
      c.loss.temperature === 1 ? { ...c, method: 'ce', loss: { numCopies: c.loss.numCopies } } : c,
  });
  const m = losses.registerMethod(spec);
  assert.equal(m.source?.file, null);
  const c = train.getProtocol('smoke', 'tempered', 0);
  assert.deepEqual(c.loss, { temperature: 2, numCopies: 1, teachers: [] });
  assert.deepEqual(c.methodSource, m.source);
  assert.notEqual(train.configHash(c), train.configHash(train.getProtocol('smoke', 'ce', 0)));
  // Unknown options are an error naming them; at temperature 1 the runs are CE's (one key).
  const input = train.protocolConfig('smoke', 'tempered', 0);
  assert.throws(
    () => train.TrainConfig.parse({ ...input, loss: { temprature: 3 } }),
    (e: unknown) => /^loss: .*'temprature'/.test(train.formatConfigError(e as z.ZodError)),
  );
  const one = train.TrainConfig.parse({ ...input, loss: { temperature: 1 } });
  assert.equal(key(one), key(train.getProtocol('smoke', 'ce', 0)));
  assert.equal(one.methodSource, undefined);
  // Its loss is what it says: CE of z / T, against losses.crossEntropy.
  const z0 = tf.tensor2d([
    [2, 0, -1],
    [0.5, 1, 0],
  ]);
  const y = tf.tensor1d([0, 2], 'int32');
  const fn = losses.lossForMethod('tempered', { temperature: 4 });
  const want = losses.crossEntropy(tf.div(z0, 4) as tf.Tensor2D, y).dataSync()[0];
  assert.ok(Math.abs(fn([z0], y, [5, 3, 1]).total.dataSync()[0] - want) < 1e-6);
  // Registered again (a cell run again) with other code: another source, other keys.
  const again = losses.registerMethod({ ...spec, loss: (o, ctx) => spec.loss(o, ctx) });
  assert.notEqual(again.source!.sha256, m.source!.sha256);
  assert.notEqual(key(train.getProtocol('smoke', 'tempered', 0)), key(c));
  // Another process cannot load it: it says so instead of training something else.
  const r = inFreshProcess(c);
  assert.notEqual(r.status, 0);
  assert.match(r.err, /methodSource: method 'tempered' was registered in another process/);
  // Nor can SLURM's nodes: compare refuses to submit it, before anything is submitted or written.
  const root = fs.mkdtempSync(path.join(tmp, 'inline-'));
  await assert.rejects(
    experiments.compare('tempered', {
      against: ['bsce'],
      protocol: 'smoke',
      seeds: 1,
      root,
      executor: 'slurm',
      log: () => {},
    }),
    /tempered: defined in this process only, so SLURM's nodes cannot load it/,
  );
  assert.deepEqual(fs.readdirSync(root), []);
});

test('a method registered here trains through the real trainer: the loss it logs is w·Σ_k CE of the logits it saw, by hand', async () => {
  // The loss records the logits and labels of each call, so the value the trainer logs can be recomputed in float64.
  const seen: { logits: number[][][]; labels: number[] }[] = [];
  losses.registerMethod(
    losses.defineMethod({
      name: 'weighted-ce',
      label: 'Weighted CE',
      options: z.object({ weight: z.number().positive().default(1) }),
      loss:
        ({ weight }) =>
        (logits, labels) => {
          seen.push({ logits: logits.map((l) => l.arraySync()), labels: Array.from(labels.dataSync()) });
          return tf.tidy(() => {
            const ce = tf.addN(logits.map((l) => losses.crossEntropy(l, labels))) as tf.Scalar;
            const total = tf.mul(ce, weight) as tf.Scalar;
            return { total, terms: { ce: tf.clone(ce) } };
          });
        },
    }),
  );
  const input = train.protocolConfig('smoke', 'weighted-ce', 0);
  const c = train.TrainConfig.parse({
    ...input,
    model: { ...(input.model as object), numExperts: 2 },
    loss: { weight: 3 },
    optim: { ...(input.optim as object), epochs: 1, maxStepsPerEpoch: 1 },
  });
  assert.equal(c.method, 'weighted-ce');
  const { metrics, model } = await train.trainRun(c, { progress: false });
  model.dispose();
  assert.equal(metrics.config.method, 'weighted-ce');
  assert.ok(seen.length >= 1);
  const { logits, labels } = seen[seen.length - 1];
  assert.equal(logits.length, 2); // K = 2 experts
  const ce = (z: number[][]) =>
    z.reduce((sum, row, i) => {
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
      return sum + lse - row[labels[i]];
    }, 0) / z.length;
  const want = logits.reduce((a, z) => a + ce(z), 0);
  const [epoch] = metrics.train.epochs;
  assert.ok(Math.abs(epoch.losses.ce - want) < 1e-4 * want, `ce ${epoch.losses.ce} vs ${want}`);
  assert.ok(
    Math.abs(epoch.losses.total - 3 * want) < 3e-4 * want,
    `total ${epoch.losses.total} vs ${3 * want}`,
  );
  // It trained: the test accuracy is a real evaluation of the updated network.
  assert.ok(metrics.test.experts[0].top1 >= 0 && metrics.test.experts[0].top1 <= 1);
});

test('a method file: content hash of it and its relative imports; editing either retrains it and only it', () => {
  const builtins = () => ['ce', 'bsce', 'ncl', 'nclpp'].map((m) => key(train.getProtocol('smoke', m, 0)));
  const before = builtins();
  const { dir, file } = methodFolder('scaled');
  const c1 = train.getProtocol('smoke', file, 0);
  assert.equal(c1.method, 'scaled');
  assert.equal(c1.methodSource!.file, file); // outside the workspace: the absolute path
  assert.match(c1.methodSource!.sha256, /^[0-9a-f]{64}$/);
  // A file beside it that it does not import changes nothing.
  fs.writeFileSync(path.join(dir, 'notes.ts'), 'export const X = 1;\n');
  assert.equal(key(train.getProtocol('smoke', file, 0)), key(c1));
  // Editing what it imports is a new version: a new key.
  fs.writeFileSync(path.join(dir, 'scale.ts'), 'export const SCALE = 2;\n');
  const c2 = train.getProtocol('smoke', file, 0);
  assert.notEqual(key(c2), key(c1));
  assert.deepEqual(builtins(), before);
  // Its loss: scale 2 × Σ_k CE, against losses.crossEntropy.
  const z0 = tf.tensor2d([[1, 2, 0]]);
  const y = tf.tensor1d([1], 'int32');
  const want = 2 * losses.crossEntropy(z0, y).dataSync()[0];
  assert.ok(Math.abs(losses.lossForMethod('scaled')([z0], y, [1, 1, 1]).total.dataSync()[0] - want) < 1e-6);
  // A fresh process (a worker) loads it from the config alone, to the same key; a config of the old version is
  // refused there, naming the file.
  const r = inFreshProcess(c2);
  assert.equal(r.out, key(c2), r.err);
  const old = inFreshProcess(c1);
  assert.notEqual(old.status, 0);
  assert.match(
    old.err,
    new RegExp(`${file.replace(/[.]/g, '\\.')} has changed since this config was written`),
  );
});

test('method files that cannot be used say why in one line, naming the file', () => {
  const bad = path.join(tmp, 'bad');
  fs.mkdirSync(bad);
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(bad, name), text);
    return path.join(bad, name);
  };
  const cases: [string, RegExp][] = [
    [path.join(bad, 'missing.ts'), /missing\.ts: no such method file/],
    [write('syntax.ts', 'export default {\n'), /syntax\.ts: .*syntax\.ts:2:0: /],
    [write('none.ts', 'export const x = 1;\n'), /none\.ts: exports no method/],
    [write('throws.ts', "throw new Error('boom');\n"), /throws\.ts: boom/],
    [
      write(
        'builtin.ts',
        "import { defineMethod, z } from 'ncl-lab';\nexport default defineMethod({ name: 'nclpp', label: 'x', options: z.object({}), loss: () => { throw new Error(); } });\n",
      ),
      /builtin\.ts: method 'nclpp' is one of the lib's own/,
    ],
  ];
  for (const [file, re] of cases) {
    assert.throws(() => losses.loadMethodFile(file), re, file);
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        TSX,
        path.join(ROOT, 'lib/src/cli/main.ts'),
        'train',
        '--protocol',
        'smoke',
        '--method',
        file,
      ],
      { cwd: tmp, encoding: 'utf8' },
    );
    assert.equal(r.status, 1, file);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^ncl: error: --method: /);
  }
  // Nothing was written (the default --out is under runs/ of the working directory).
  assert.ok(!fs.existsSync(path.join(tmp, 'runs')));
});

test('methods/focal.ts: the shipped example, by name (methods/NAME.ts) and against hand-computed focal values', () => {
  const m = losses.resolveMethod('focal');
  assert.equal(m.source?.file, 'methods/focal.ts');
  const c = train.getProtocol('smoke', 'focal', 0);
  assert.deepEqual(c.loss, { gamma: 2, balanced: false, numCopies: 1, teachers: [] });
  // γ = 0 trains CE, balanced BSCE: the canonical form says so, and those runs are shared.
  const input = train.protocolConfig('smoke', 'focal', 0);
  assert.equal(
    key(train.TrainConfig.parse({ ...input, loss: { gamma: 0 } })),
    key(train.getProtocol('smoke', 'ce', 0)),
  );
  assert.equal(
    key(train.TrainConfig.parse({ ...input, loss: { gamma: 0, balanced: true } })),
    key(train.getProtocol('smoke', 'bsce', 0)),
  );
  // FL = −(1 − p_y)^γ log p_y averaged over rows and summed over experts, in float64 by hand.
  const rows = [
    [2, 0.5, -1],
    [0, 1, 3],
  ];
  const labels = [0, 1];
  const counts = [50, 10, 2];
  const focal = (zs: number[][][], gamma: number, balanced: boolean) =>
    zs.reduce((sum, z) => {
      const perRow = z.map((row, i) => {
        const b = balanced ? row.map((v, j) => v + Math.log(counts[j])) : row;
        const mx = Math.max(...b);
        const lse = mx + Math.log(b.reduce((s, v) => s + Math.exp(v - mx), 0));
        const logp = b[labels[i]] - lse;
        return -((1 - Math.exp(logp)) ** gamma) * logp;
      });
      return sum + perRow.reduce((a, v) => a + v, 0) / perRow.length;
    }, 0);
  const zs = [rows, rows.map((r) => r.map((v) => -v / 2))];
  const y = tf.tensor1d(labels, 'int32');
  for (const [gamma, balanced] of [
    [2, false],
    [0.5, true],
  ] as const) {
    const fn = losses.lossForMethod('focal', { gamma, balanced });
    const got = fn(
      zs.map((z) => tf.tensor2d(z)),
      y,
      counts,
    ).total.dataSync()[0];
    const want = focal(zs, gamma, balanced);
    assert.ok(
      Math.abs(got - want) < 1e-5 * Math.max(1, want),
      `γ ${gamma} balanced ${balanced}: ${got} vs ${want}`,
    );
  }
});

test('a method file trains in a worker process and through compare(): cached runs are reused, verdicts judged', async () => {
  const root = path.join(tmp, 'work');
  const { file } = methodFolder('scaled2', 3);
  const lines: string[] = [];
  const o = {
    against: ['bsce'],
    protocol: 'smoke',
    seeds: 2,
    workers: 2,
    root,
    png: false,
    log: (s: string) => lines.push(s),
  };
  const r = await experiments.compare(file, o);
  assert.ok(r);
  assert.match(lines.join('\n'), /4 runs needed, 0 cached, 4 to train \(2 workers\)/);
  // What the table says is what the runs' metrics.json hold: mean over seeds of expert 1's top-1, per method.
  for (const m of ['bsce', 'scaled2']) {
    const accs = [0, 1].map(
      (s) => experiments.loadRun(root, train.getProtocol('smoke', m, s))!.metrics.test.experts[0].top1,
    );
    const mean = (100 * (accs[0] + accs[1])) / 2;
    const label = losses.getMethod(m).label;
    assert.match(
      r.table!,
      new RegExp(`^\\| ${label} +\\| 1 +\\| 1 +\\| ${mean.toFixed(2)} ± `, 'm'),
      `${m}: ${r.table}`,
    );
  }
  // The verdict is the rule's (experiments.judge) on the same numbers, paired by seed (same subset, same batches).
  const st = (m: string) =>
    experiments.stat(
      [0, 1].map(
        (s) => experiments.loadRun(root, train.getProtocol('smoke', m, s))!.metrics.test.experts[0].top1,
      ),
      ['seed 0', 'seed 1'],
    );
  const j = experiments.judge([experiments.greater('Scaled CE', 'BSCE')], {
    'Scaled CE': st('scaled2'),
    BSCE: st('bsce'),
  });
  assert.equal(r.verdict, j.verdict);
  assert.match(r.reading, /paired over 2 seeds/);
  assert.ok(r.table!.includes(j.reading.replace(/\.$/, '')), r.table);
  assert.ok(fs.existsSync(r.files.html!) && fs.existsSync(r.files.json!));
  assert.equal(r.files.png, null);
  // Again: nothing to train, the same verdict.
  lines.length = 0;
  const again = await experiments.compare(file, o);
  assert.match(lines.join('\n'), /nothing to train/);
  assert.equal(again!.verdict, r.verdict);
});

test('figures are open: a comparison spec of your own through registerFigure, reproduce, buildFigure and showFigure', async () => {
  // The runs of the compare() test above are under <tmp>/work/runs: a results folder whose runs are all finished.
  const root = path.join(tmp, 'work');
  const { file } = methodFolder('scaled2', 3);
  const spec = experiments.comparisonSpec(losses.resolveMethod(file).name, {
    against: ['bsce'],
    id: 'my-compare',
  });
  assert.throws(() => experiments.registerFigure({ ...spec, id: 'fig8' }), /'fig8' is one of the lib's own/);
  assert.throws(() => experiments.resolveIds(['my-compare']), /unknown figure id\(s\) my-compare/);
  experiments.registerFigure(spec);
  const lines: string[] = [];
  const o = {
    protocol: 'smoke',
    seeds: 2,
    workers: 1,
    resultsDir: root,
    png: false,
    log: (l: string) => lines.push(l),
  };
  const [entry] = await experiments.reproduce({ ...o, ids: ['my-compare'] });
  assert.match(lines.join('\n'), /2 runs needed|4 runs needed, 4 cached, 0 to train/);
  assert.equal(entry.id, 'my-compare');
  const written = JSON.parse(fs.readFileSync(path.join(root, 'my-compare.json'), 'utf8')) as {
    table: string;
  };
  // The spec itself (not registered by id) builds the same figure, in a notebook too.
  const built = await experiments.buildFigure(spec, { protocol: 'smoke', seeds: 2, resultsDir: root });
  assert.equal(built.verdict, entry.verdict);
  assert.equal(written.table, built.table);
  assert.match(written.table, /^- Scaled CE vs BSCE: \*\*(higher|lower|not settled)\*\*/m);
  const shown = await showFigure(spec, {
    protocol: 'smoke',
    seeds: 2,
    resultsDir: root,
    train: false,
    log: () => {},
  });
  assert.equal(shown!.verdict, entry.verdict);
  assert.equal(shown!.entry?.id, 'my-compare');
});

test('ncl reproduce FILE: a figure file of your own (its default export) is planned like the paper figures; a bad one is one line', () => {
  const dir = path.join(tmp, 'figures');
  fs.mkdirSync(dir, { recursive: true });
  const good = path.join(dir, 'mine.ts');
  fs.writeFileSync(
    good,
    "import { experiments } from 'ncl-lab';\nexport default experiments.comparisonSpec('bsce', { against: ['ce'], id: 'file-compare' });\n",
  );
  const bad = path.join(dir, 'none.ts');
  fs.writeFileSync(bad, 'export const x = 1;\n');
  const results = path.join(tmp, 'figure-results');
  const cli = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', TSX, path.join(ROOT, 'lib/src/cli/main.ts'), 'reproduce', ...args],
      { cwd: tmp, encoding: 'utf8' },
    );
  const r = cli([good, '--protocol', 'smoke', '--seeds', '2', '--plan', '--results', results]);
  assert.equal(r.status, 0, r.stderr);
  // Its runs: CE and BSCE, seeds 0 and 1, each with its own run folder under runs/smoke/.
  for (const m of ['ce', 'bsce'])
    for (const s of [0, 1]) {
      const c = train.getProtocol('smoke', m, s);
      assert.ok(r.stdout.includes(`${m}-${train.configHash(c)}`), `${m} seed ${s}: ${r.stdout}`);
    }
  assert.match(r.stdout, /file-compare/);
  const e = cli([bad, '--protocol', 'smoke', '--plan', '--results', results]);
  assert.equal(e.status, 1);
  assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
  assert.match(e.stderr, /^ncl: error: .*none\.ts: exports no figure/);
  assert.ok(!fs.existsSync(results));
});
