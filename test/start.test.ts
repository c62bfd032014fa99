// `ncl start` (npm start): NCL++ against CE and BSCE as one comparison over seeds. The plan first, identical
// finished runs reused (committed results before runs/), --retrain trains anyway, and the job ends with the table
// (mean ± std, the verdict against each baseline) and the figure with its data.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, train, experiments, losses } from '../lib/src';
import { start, START_METHODS } from '../lib/src/cli/start';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-start-'));

before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});

function options(name: string, extra: Partial<Parameters<typeof start>[0]> = {}) {
  const lines: string[] = [];
  const o = {
    protocol: 'smoke',
    seeds: 2,
    workers: 1,
    root: path.join(tmp, name, 'work'),
    resultsDir: path.join(tmp, name, 'results'),
    retrain: false,
    log: (s: string) => lines.push(s),
    ...extra,
  };
  return { o, lines };
}

test('start trains what is missing, then reuses it; the table and a figure end the job', async () => {
  const { o, lines } = options('a');
  const first = await start(o);
  assert.ok(first);
  assert.match(lines.join('\n'), /ce seed 0 +trains into/);
  assert.match(lines.join('\n'), /ce seed 1 +trains into/);
  for (const m of START_METHODS) {
    for (const seed of [0, 1]) {
      const c = train.getProtocol('smoke', m, seed);
      assert.ok(experiments.loadRun(o.root, c), `${m} seed ${seed} finished under runs/`);
    }
    // One row per method, with its mean ± std over the two seeds.
    assert.match(
      first.table,
      new RegExp(`^\\| ${losses.getMethod(m).label.replace(/[+]/g, '\\+')} +\\| \\d .*±`, 'm'),
    );
  }
  // The verdict of NCL++ against each baseline, in the rule's words.
  for (const b of ['CE', 'BSCE'])
    assert.match(
      first.table,
      new RegExp(`^- NCL\\+\\+ vs ${b}: \\*\\*(higher|lower|not settled)\\*\\*`, 'm'),
    );
  assert.ok(fs.existsSync(first.html));
  const data = JSON.parse(fs.readFileSync(first.html.replace(/\.html$/, '.json'), 'utf8'));
  assert.deepEqual(data.seeds, [0, 1]);
  assert.equal(data.runs.length, 6);
  assert.equal(data.verdict, first.verdict);
  // The same job again trains nothing: every run is reused, saying where.
  const again = options('a');
  const before = fs.statSync(experiments.runDir(o.root, train.getProtocol('smoke', 'nclpp', 0))).mtimeMs;
  await start({ ...o, log: again.o.log });
  assert.equal(again.lines.filter((l) => l.includes('reusing the finished run')).length, 6);
  assert.match(again.lines.join('\n'), /nothing to train/);
  const nclpp = experiments.runDir(o.root, train.getProtocol('smoke', 'nclpp', 0));
  assert.equal(fs.statSync(nclpp).mtimeMs, before);
});

test('committed results are reused before runs/; --retrain trains anyway; --plan trains nothing', async () => {
  const src = options('a').o;
  const { o, lines } = options('b');
  // The committed copy: a's finished runs under b's results/runs/.
  fs.cpSync(path.join(src.root, 'runs'), path.join(o.resultsDir, 'runs'), { recursive: true });
  const plan = await start({ ...o, planOnly: true });
  assert.equal(plan, null);
  assert.equal(lines.filter((l) => l.includes(`reusing the finished run ${o.resultsDir}`)).length, 6);
  assert.ok(
    !fs.existsSync(
      path.join(o.root, 'runs', 'smoke', 'ce-' + train.configHash(train.getProtocol('smoke', 'ce', 0))),
    ),
  );
  const retrain = options('b', { retrain: true, planOnly: true });
  await start({ ...o, ...retrain.o, root: o.root, resultsDir: o.resultsDir });
  assert.equal(retrain.lines.filter((l) => /trains into/.test(l)).length, 6);
  assert.ok(!fs.existsSync(path.join(o.root, 'runs')), '--plan wrote nothing');
});
