// The experiment runner: runs cached by config hash, parallel workers, figures with verdicts, the manifest.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import seedrandom from 'seedrandom';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tf, initBackend, experiments, train, losses } from '../lib/src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-exp-'));

before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});

test('stat: mean and sample std; the rule compares the 95 % interval of a − b with zero, paired over seeds', () => {
  const s = experiments.stat([1, 2, 3, 4]);
  assert.equal(s.mean, 2.5);
  assert.ok(Math.abs(s.std - Math.sqrt(5 / 3)) < 1e-12);
  // t(0.975, 2) = 4.302653, t(0.975, 4) = 2.776445 (tables).
  assert.ok(Math.abs(experiments.t975(2) - 4.302653) < 1e-5);
  assert.ok(Math.abs(experiments.t975(4) - 2.776445) < 1e-5);
  const seeds = ['s0', 's1', 's2'];
  const a = experiments.stat([0.5, 0.52, 0.54], seeds);
  const b = experiments.stat([0.4, 0.41, 0.42], seeds);
  // Paired differences 0.10, 0.11, 0.12: mean 0.11, sd 0.01, half-width 4.302653 · 0.01 / √3 = 0.0248414.
  const d = experiments.diffOf(a, b);
  assert.equal(d.test, 'paired');
  assert.equal(d.n, 3);
  assert.ok(
    Math.abs(d.mean - 0.11) < 1e-12 && Math.abs(d.lo - 0.0851586) < 1e-6 && Math.abs(d.hi - 0.1348414) < 1e-6,
  );
  assert.equal(experiments.formatDiff(d), '+11.00 [+8.52, +13.48]');
  assert.equal(experiments.verdictGreater(a, b), 'reproduced');
  assert.equal(experiments.verdictGreater(b, a), 'not reproduced');
  // The noise floor widens an interval whose differences happen to agree: sd 0 → 0.01 · t(0.975, 2) / √3.
  const flat = experiments.pairedDiff([0.5, 0.6, 0.7], [0.4, 0.5, 0.6], 0.01);
  assert.ok(Math.abs(flat.hi - flat.lo - 2 * 0.0248414) < 1e-6);
  // Only the seeds both have are paired; without keys (or fewer than 2 shared) it is Welch's test.
  const partial = experiments.diffOf(experiments.stat([0.5, 0.52, 0.54, 0.9], [...seeds, 's9']), b);
  assert.equal(partial.n, 3);
  assert.ok(Math.abs(partial.mean - 0.11) < 1e-12);
  // Welch, [0.5, 0.6] vs [0.52, 0.55]: v = 0.0025 + 0.000225, ν = v² / (0.0025² + 0.000225²) = 1.1785.
  const w = experiments.diffOf(experiments.stat([0.5, 0.6]), experiments.stat([0.52, 0.55]));
  assert.equal(w.test, 'welch');
  assert.ok(Math.abs(w.df - 1.17854) < 1e-4);
  assert.equal(experiments.verdictOfDiff(w), 'inconclusive');
  assert.equal(experiments.combineVerdicts(['reproduced', 'inconclusive']), 'inconclusive');
  // One run a side: no interval, no verdict however large the gap.
  assert.equal(experiments.verdictGreater(experiments.stat([0.9]), experiments.stat([0.1])), 'inconclusive');
  assert.equal(experiments.combineVerdicts(['reproduced', 'not reproduced']), 'not reproduced');
});

/** Standard normal draws from a seeded generator (Box–Muller). */
function gaussian(seed: string): () => number {
  const rng = seedrandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

test('the rule on simulated runs: false "holds" at most 5 % with no true difference (n = 3, 5), paired and Welch', () => {
  const trials = 20000;
  for (const n of [3, 5]) {
    const z = gaussian(`null-${n}`);
    let pairedHolds = 0;
    let welchHolds = 0;
    let powerHolds = 0;
    for (let t = 0; t < trials; t++) {
      // A seed moves both methods alike (subset, batches, init: sd 1), each run has its own noise (sd 0.5).
      const seedEffect = Array.from({ length: n }, () => z());
      const a = seedEffect.map((s) => 88 + s + 0.5 * z());
      const b = seedEffect.map((s) => 88 + s + 0.5 * z());
      const keys = a.map((_, i) => `seed${i}`);
      if (experiments.verdictGreater(experiments.stat(a, keys), experiments.stat(b, keys)) === 'reproduced')
        pairedHolds++;
      if (experiments.verdictGreater(experiments.stat(a), experiments.stat(b)) === 'reproduced') welchHolds++;
      // A true gap of 2 sd of a difference (0.5 · √2 each) with n = 5 is found most of the time.
      const c = b.map((x) => x + 2 * 0.5 * Math.SQRT2);
      if (experiments.verdictGreater(experiments.stat(c, keys), experiments.stat(b, keys)) === 'reproduced')
        powerHolds++;
    }
    assert.ok(pairedHolds / trials <= 0.05, `paired, n = ${n}: false holds ${pairedHolds / trials}`);
    assert.ok(welchHolds / trials <= 0.05, `Welch, n = ${n}: false holds ${welchHolds / trials}`);
    // Two-sided 95 %: about 2.5 % false holds; a rule that ignored the spread would be near 50 %.
    assert.ok(pairedHolds / trials > 0.015, `paired, n = ${n}: ${pairedHolds / trials} (expected ≈ 0.025)`);
    if (n === 5) assert.ok(powerHolds / trials > 0.6, `power at n = 5: ${powerHolds / trials}`);
  }
});

test('percentRange: a bar axis zoomed to the error bars, padded, in whole points within [0, 100]', () => {
  const st = (mean: number, std: number) => ({ mean, std, values: [] });
  // 86.40..87.24 and 86.48..86.90: span 0.84, pad 1 point → [85, 89].
  assert.deepEqual(experiments.percentRange([st(0.8682, 0.0042), st(0.8669, 0.0021)]), [85, 89]);
  // A wide spread pads by half the span: 40..90 → pad 25 → [15, 100] (clamped at 100).
  assert.deepEqual(experiments.percentRange([st(0.45, 0.05), st(0.85, 0.05)]), [15, 100]);
  // NaN points (a split with no classes) are ignored; nothing finite falls back to the full axis.
  assert.deepEqual(experiments.percentRange([st(0.5, 0), st(NaN, NaN)]), [49, 51]);
  assert.deepEqual(experiments.percentRange([st(NaN, NaN)]), [0, 100]);
});

test('k-NN separability: 1.0 for separated clusters, chance-like for shuffled labels', () => {
  const rows = Array.from({ length: 40 }, (_, i) => [i < 20 ? 0 : 10, (i % 20) * 0.01]);
  const labels = rows.map((_, i) => (i < 20 ? 0 : 1));
  assert.equal(experiments.knnAccuracy(rows, labels, 5), 1);
  const mixed = labels.map((_, i) => i % 2);
  assert.ok(experiments.knnAccuracy(rows, mixed, 5) < 0.7);
});

test('t-SNE is seeded: same features and seed give the same layout', () => {
  const rows = Array.from({ length: 30 }, (_, i) => [Math.sin(i), Math.cos(i * 1.3), i % 3]);
  const a = experiments.tsne2d(rows, 7, 100);
  const b = experiments.tsne2d(rows, 7, 100);
  assert.deepEqual(a, b);
  assert.equal(a.length, 30);
  assert.equal(a[0].length, 2);
});

test('reproduce: trains the runs a figure needs once, writes figure data, manifest and README; a re-run trains nothing', async () => {
  const results = path.join(tmp, 'results');
  const logs: string[] = [];
  const opts = {
    ids: ['fig8', 'table5'],
    protocol: 'smoke',
    seeds: 1,
    workers: 1,
    resultsDir: results,
    png: false,
    log: (s: string) => logs.push(s),
  };
  const entries = await experiments.reproduce(opts);
  // Each figure is written as soon as its runs are finished: table5 (FLOPs only, no runs) before any training,
  // fig8 after the last of its three runs.
  assert.deepEqual(
    entries.map((e) => e.id),
    ['table5', 'fig8'],
  );
  const events = logs
    .filter((l) => /^\[reproduce\] (start|done|fig8:|table5:)/.test(l))
    .map((l) => l.split(' ')[1].replace(':', ''));
  assert.deepEqual(events, ['table5', 'start', 'done', 'start', 'done', 'start', 'done', 'fig8']);
  assert.ok(
    logs.some((l) => /3 runs needed, 0 cached, 3 to train/.test(l)),
    logs.join('\n'),
  );
  const fig8 = JSON.parse(fs.readFileSync(path.join(results, 'fig8.json'), 'utf8'));
  assert.equal(fig8.data.series.length, 3); // CE, BSCE, NCL++
  assert.equal(fig8.data.series[0].perSeed.length, 1);
  const manifest = experiments.readManifest(results);
  const e = manifest.figures.find((f) => f.id === 'fig8')!;
  assert.equal(e.protocol, 'smoke');
  assert.deepEqual(e.seeds, [0]);
  assert.equal(e.runs.length, 3);
  for (const r of e.runs) assert.ok(fs.existsSync(path.join(results, r, 'metrics.json')), r);
  assert.ok(['reproduced', 'not reproduced', 'inconclusive'].includes(e.verdict));
  // The entry records what the figure's runs trained, read back from the runs' own configs: CE, BSCE and NCL++
  // with K = 2 experts, T copies for NCL++ only.
  const cfgs = e.runs.map((r) => JSON.parse(fs.readFileSync(path.join(results, r, 'config.json'), 'utf8')));
  const [c0] = cfgs;
  const T = cfgs.find((c) => c.method === 'nclpp').loss.numCopies;
  assert.deepEqual(new Set(cfgs.map((c) => c.model.numExperts)), new Set([2]));
  const share = `${+(100 * c0.data.fraction).toPrecision(3)}%`;
  assert.equal(
    e.settings,
    `fashion-mnist IF ${c0.data.imbalanceFactor} (data ${share}), resnet8 w${c0.model.width}, ${c0.optim.epochs} ep, ` +
      `batch ${c0.data.batchSize}, wd 2e-4, simaug, K 2, T ${T}`,
  );
  const readme = fs.readFileSync(path.join(results, 'README.md'), 'utf8');
  const row = readme.split('\n').find((l) => l.startsWith('| [fig8](#fig8-smoke) |'))!;
  assert.ok(row.includes(`| smoke (${e.settings}) | 1 | **${e.verdict}** |`), row);
  // Its section says the claim, the numbers measured and the verdict in words, as the manifest holds them.
  const section = readme.slice(readme.indexOf('## fig8 (smoke)'), readme.indexOf('## table5 (smoke)'));
  assert.ok(section.includes(`- **Claim:** ${e.claim}\n- **Measured:** ${e.measured}\n`), section);
  assert.ok(section.includes(`- **Verdict: ${e.verdict}.** ${e.reading}`), section);
  assert.match(e.reading!, /^NCL\+\+ [\d.]+ vs CE [\d.]+: one run, no interval to judge the gap by; /);
  // Figures not built yet are listed with their finished runs: fig9a needs CE, BSCE, NCL and NCL++, and fig8
  // trained all but NCL; fig12a (NCL with balanced and plain InterCL) has none of its 2.
  const pending = readme.slice(readme.indexOf('## Not built yet (smoke, 1 seed)'));
  assert.match(pending, /\| fig9a \| [^|]+ \| 3 of 4 \| `ncl reproduce fig9a --protocol smoke --seeds 1` \|/);
  assert.match(pending, /\| fig12a \| [^|]+ \| 0 of 2 \|/);
  assert.doesNotMatch(pending, /\| (fig8|table5) \|/);
  // Table 5 counts FLOPs from the model definition: ResNet-32 on CIFAR is 0.138 GFLOPs per image and expert.
  const t5 = JSON.parse(fs.readFileSync(path.join(results, 'table5.json'), 'utf8'));
  const paperRow = t5.data.rows.find(
    (r: { model: string; method: string }) => r.model.startsWith('resnet32') && r.method.startsWith('CE'),
  );
  assert.ok(Math.abs(paperRow.test - 0.1377) < 0.001, String(paperRow.test));
  logs.length = 0;
  const files = ['manifest.json', 'README.md', 'fig8.json', 'fig8.html', 'table5.json', 'table5.html'];
  const bytes = () => files.map((f) => fs.readFileSync(path.join(results, f), 'utf8'));
  const before = bytes();
  await experiments.reproduce(opts);
  assert.ok(
    logs.some((l) => /3 runs needed, 3 cached, 0 to train/.test(l)),
    logs.join('\n'),
  );
  // Same runs, same result: every file is left as it was, the entry keeps its commit and date.
  assert.deepEqual(bytes(), before);
  assert.ok(
    logs.some((l) => /^\[reproduce\] fig8: unchanged since \S+, kept/.test(l)),
    logs.join('\n'),
  );
  // A missing file is not "unchanged": the figure is written again, with a new date.
  fs.rmSync(path.join(results, 'fig8.html'));
  logs.length = 0;
  await experiments.reproduce(opts);
  assert.equal(fs.readFileSync(path.join(results, 'fig8.html'), 'utf8'), before[3]);
  assert.ok(!logs.some((l) => /fig8: unchanged/.test(l)), logs.join('\n'));
  const rebuilt = experiments.readManifest(results).figures.find((f) => f.id === 'fig8')!;
  assert.notEqual(rebuilt.generated, e.generated);
  // The plan of fig9a (CE, BSCE, NCL, NCL++): three are cached by fig8; NCL's CPU time is estimated from them.
  const plan = experiments.planRuns({ ids: ['fig9a'], protocol: 'smoke', seeds: 1, resultsDir: results });
  assert.deepEqual(
    plan.map((r) => [r.method, r.cached]),
    [
      ['ce', true],
      ['bsce', true],
      ['ncl', false],
      ['nclpp', true],
    ],
  );
  const rates = e.runs
    .map((r) => JSON.parse(fs.readFileSync(path.join(results, r, 'metrics.json'), 'utf8')))
    .map((m) => m.train.seconds / experiments.relativeCost(m.config))
    .sort((a, b) => a - b);
  const ncl = plan.find((r) => r.method === 'ncl')!;
  assert.ok(Math.abs(ncl.cpuMinutes! - (rates[1] * ncl.cost) / 60) < 1e-9, String(ncl.cpuMinutes));
  assert.match(experiments.formatPlan(plan, 2), /4 runs needed, 3 cached, 1 to train/);
});

test('an entry built from runs its figure no longer trains is marked stale, with the settings of the runs it lists', () => {
  // Uses the smoke fig8 built by the test above; its copy lists one run of other settings (as after a protocol change).
  const results = path.join(tmp, 'results');
  const manifest = experiments.readManifest(results);
  const e = manifest.figures.find((f) => f.id === 'fig8')!;
  assert.deepEqual(experiments.entryStatus(results, e), { stale: false });
  // Lacking one of today's runs (a figure that gained a series since) is stale (teachers: test/teachers.test.ts).
  assert.deepEqual(experiments.entryStatus(results, { ...e, runs: e.runs.slice(1) }), {
    stale: true,
    finished: 3,
    needed: 3,
  });
  assert.equal(experiments.settingsOfRuns(results, e.runs), e.settings);
  const old = path.join(results, 'runs/smoke/old-run');
  fs.mkdirSync(old, { recursive: true });
  const cfg = JSON.parse(fs.readFileSync(path.join(results, e.runs[0], 'config.json'), 'utf8'));
  cfg.data.batchSize = 128;
  cfg.data.imbalanceFactor = 1;
  fs.writeFileSync(path.join(old, 'config.json'), JSON.stringify(cfg));
  const stale = { ...e, runs: ['runs/smoke/old-run', ...e.runs.slice(1)] };
  assert.deepEqual(experiments.entryStatus(results, stale), { stale: true, finished: 3, needed: 3 });
  const label = experiments.settingsOfRuns(results, stale.runs)!;
  assert.match(label, /^fashion-mnist IF 10 \+ 1 .*, batch 16 \+ 128, /);
  assert.equal(experiments.settingsOfRuns(results, ['runs/smoke/missing']), null);
  const dir = path.join(tmp, 'results-stale');
  fs.cpSync(results, dir, { recursive: true });
  experiments.writeResultsReadme(dir, { ...manifest, figures: [stale] }, { protocol: 'smoke', seeds: 1 });
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.match(readme, /\| \*\*[a-z ]+\*\* \(stale\) \|/);
  assert.ok(
    readme.includes(
      '- **Stale:** built from other runs than `smoke` trains for this figure today (its settings changed, or it gained a series); 3 of the 3 runs of today are finished',
    ),
    readme,
  );
  assert.match(readme, /^An entry marked \*stale\* was built/m);
  // With no stale entry, the README does not explain the mark.
  experiments.writeResultsReadme(dir, manifest, { protocol: 'smoke', seeds: 1 });
  const current = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.doesNotMatch(current, /stale/);
});

test('an entry says which backends trained its runs, a run resumed on another backend as "a → b"', () => {
  // The smoke fig8 built above; a copy of its results where one run's first epochs ran on webgpu and one predates the
  // per-epoch record.
  const dir = path.join(tmp, 'results-backends');
  fs.cpSync(path.join(tmp, 'results'), dir, { recursive: true });
  const e = experiments.readManifest(dir).figures.find((f) => f.id === 'fig8')!;
  const read = (r: string) => JSON.parse(fs.readFileSync(path.join(dir, r, 'metrics.json'), 'utf8'));
  const b = read(e.runs[0]).backend as string;
  assert.ok(e.runs.length >= 3 && b);
  assert.equal(experiments.backendsOfRuns(dir, e.runs), b);
  const resumed = read(e.runs[0]);
  resumed.train.epochs[0].host = 'NVIDIA H200 host (webgpu)';
  fs.writeFileSync(path.join(dir, e.runs[0], 'metrics.json'), JSON.stringify(resumed));
  const old = read(e.runs[1]);
  for (const ep of old.train.epochs) delete ep.host;
  fs.writeFileSync(path.join(dir, e.runs[1], 'metrics.json'), JSON.stringify(old));
  const n = e.runs.length - 1;
  const label = `webgpu → ${b} (1 run), ${b} (${n} runs)`;
  assert.equal(experiments.backendsOfRuns(dir, e.runs), label);
  assert.equal(experiments.backendsOfRuns(dir, [...e.runs, 'runs/smoke/missing']), null);
  experiments.writeResultsReadme(dir, experiments.readManifest(dir), { protocol: 'smoke', seeds: 1 });
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.ok(readme.includes(`${e.runs.length} runs trained on ${label}; built at commit`), readme);
});

test('table6 shows the learned (λ_intra, λ_inter) = softmax(w_intra, w_inter) of each learnable run, or that it is not recorded', async () => {
  const results = path.join(tmp, 'results-table6');
  const opts = {
    ids: ['table6'],
    protocol: 'smoke',
    seeds: 1,
    workers: 1,
    resultsDir: results,
    png: false,
    log: () => {},
  };
  await experiments.reproduce(opts);
  const e = experiments.readManifest(results).figures.find((f) => f.id === 'table6')!;
  const learnable = e.runs
    .map((r) => path.join(results, r, 'metrics.json'))
    .find((f) => JSON.parse(fs.readFileSync(f, 'utf8')).config.loss.options?.learnable)!;
  const m = JSON.parse(fs.readFileSync(learnable, 'utf8'));
  const [w1, w2] = [m.lossVariables.w_intra[0], m.lossVariables.w_inter[0]];
  const l1 = Math.exp(w1) / (Math.exp(w1) + Math.exp(w2));
  const t6 = JSON.parse(fs.readFileSync(path.join(results, 'table6.json'), 'utf8'));
  assert.ok(Math.abs(t6.data.learned[0].lambdaIntra - l1) < 1e-12, JSON.stringify(t6.data.learned));
  assert.ok(Math.abs(t6.data.learned[0].lambdaInter - (1 - l1)) < 1e-12);
  assert.ok(t6.table.includes(`seed 0 (${l1.toFixed(2)}, ${(1 - l1).toFixed(2)})`), t6.table);
  // A run from before the trainer recorded them says so instead of a number.
  delete m.lossVariables;
  fs.writeFileSync(learnable, JSON.stringify(m));
  await experiments.reproduce(opts);
  const again = JSON.parse(fs.readFileSync(path.join(results, 'table6.json'), 'utf8'));
  assert.deepEqual(again.data.learned, [null]);
  assert.match(again.table, /Learned \(λ_intra, λ_inter\) at the end of training: seed 0 not recorded\./);
});

test('parallel workers train independent runs in child processes to the same metrics as in-process', async () => {
  const results = path.join(tmp, 'results-workers');
  const configs = [0, 1].map((s) => {
    const c = train.getProtocol('smoke', 'bsce', s);
    c.optim.epochs = 1;
    return train.TrainConfig.parse(c);
  });
  const viaWorkers = await experiments.ensureRuns(results, configs, { workers: 2, log: () => {} });
  const inProc = await experiments.ensureRuns(path.join(tmp, 'results-inproc'), configs, {
    workers: 1,
    log: () => {},
  });
  assert.equal(viaWorkers.length, 2);
  for (let i = 0; i < 2; i++) assert.deepEqual(viaWorkers[i].metrics.test, inProc[i].metrics.test);
  assert.ok(viaWorkers[0].analysis && viaWorkers[0].analysis.klCopies.length === 10);
  // isFinished: loadRun's test without the analysis; another config (seed 2) has no run there.
  assert.ok(configs.every((c) => experiments.isFinished(results, c)));
  const other = train.TrainConfig.parse({ ...configs[0], seed: 2 });
  assert.equal(experiments.isFinished(results, other), false);
  assert.equal(experiments.loadRun(results, other), null);
});

test('readAnalysis reads analysis.json.gz (new runs) and analysis.json (older runs) to the same object', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'analysis-'));
  assert.equal(experiments.readAnalysis(dir), null);
  const a = {
    klExperts: null,
    klCopies: [0.5, 0.25],
    hardestNegative: {
      edges: [0, 0.5, 1],
      expert: [1, 0],
      ensemble: [0, 1],
      meanExpert: 0.25,
      meanEnsemble: 0.75,
    },
    features: { labels: [1], indices: [7], values: [[0.1]] },
    examples: [{ index: 7, label: 1, probs: [[0.4, 0.6]] }],
  };
  fs.writeFileSync(path.join(dir, 'analysis.json'), JSON.stringify(a));
  assert.deepEqual(experiments.readAnalysis(dir), a);
  // gzip from the command line, independent of the writer: `gzip -c` of the same text.
  const gz = spawnSync('gzip', ['-c', path.join(dir, 'analysis.json')]);
  fs.rmSync(path.join(dir, 'analysis.json'));
  fs.writeFileSync(path.join(dir, 'analysis.json.gz'), gz.stdout);
  assert.deepEqual(experiments.readAnalysis(dir), a);
});

test('the runner starts the costliest run first (relativeCost: experts × copies × epochs × width²) within a rank', async () => {
  const cfg = (m: string) => {
    const c = train.getProtocol('smoke', m, 7);
    c.optim.epochs = 1;
    return train.TrainConfig.parse(c);
  };
  const [bsce, nclpp] = [cfg('bsce'), cfg('nclpp')];
  assert.equal(experiments.relativeCost(nclpp) / experiments.relativeCost(bsce), 4); // K = 2, T = 2 vs 1, 1
  const lines: string[] = [];
  await experiments.ensureRuns(path.join(tmp, 'results-order'), [bsce, nclpp], {
    workers: 1,
    log: (l) => lines.push(l),
  });
  const starts = lines.filter((l) => l.includes('] start '));
  assert.deepEqual(
    starts.map((l) => l.split('/')[1].split('-')[0]),
    ['nclpp', 'bsce'],
  );
  // A rank (reproduce: the first figure needing the run) comes before cost; each run is reported as it finishes.
  lines.length = 0;
  const finished: string[] = [];
  await experiments.ensureRuns(path.join(tmp, 'results-rank'), [bsce, nclpp], {
    workers: 1,
    log: (l) => lines.push(l),
    rank: (c) => (c.method === 'bsce' ? 0 : 1),
    onFinished: (c) => finished.push(c.method),
  });
  assert.deepEqual(
    lines.filter((l) => l.includes('] start ')).map((l) => l.split('/')[1].split('-')[0]),
    ['bsce', 'nclpp'],
  );
  assert.deepEqual(finished, ['bsce', 'nclpp']);
  // Time left after the first run: the NCL++ run costs 4 BSCE runs, at the BSCE run's seconds per unit of cost.
  const dones = lines.filter((l) => l.includes('] done '));
  const m = dones[0].match(/in (\d+) s \(1\/2, ~(\d+) min left\)$/);
  assert.ok(m, dones[0]);
  const [secs, mins] = [Number(m[1]), Number(m[2])];
  assert.ok(
    mins >= Math.ceil((4 * (secs - 0.5)) / 60) && mins <= Math.ceil((4 * (secs + 0.5)) / 60),
    dones[0],
  );
  assert.match(dones[1], /\(2\/2\)$/, 'nothing left, no estimate');
  // A resumed run (here: BSCE's final checkpoint, as if its 20 epochs had taken an hour in an earlier session, and
  // no metrics.json yet) is estimated from its recorded training time, not from the few seconds it takes now.
  const root = path.join(tmp, 'results-rank');
  const bsceDir = experiments.runDir(root, bsce);
  const ckFile = path.join(bsceDir, 'checkpoint.bin');
  const ck = train.loadCheckpoint<{ seconds: number }>(ckFile);
  const tensors = new Map([...ck.tensors].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
  await train.saveCheckpoint(ckFile, tensors, { ...ck.state, seconds: 3600 });
  tensors.forEach((t) => t.dispose());
  fs.rmSync(path.join(bsceDir, 'metrics.json'));
  fs.rmSync(experiments.runDir(root, nclpp), { recursive: true });
  lines.length = 0;
  await experiments.ensureRuns(root, [bsce, nclpp], {
    workers: 1,
    log: (l) => lines.push(l),
    rank: (c) => (c.method === 'bsce' ? 0 : 1),
  });
  const resumed = lines.find((l) => l.includes('] done '))!;
  assert.match(resumed, /\(1\/2, ~4\.0 h left\)$/, resumed); // NCL++ = 4 × BSCE's cost, at 3600 s per BSCE
});

test('figureReadiness: list scheduling figure by figure, costliest first; a figure waits for every run it needs', () => {
  const row = (id: string, cpuMinutes: number | null, neededBy = [id], cached = false) => ({
    id,
    method: 'bsce' as const,
    seed: 0,
    dir: '',
    cached,
    cost: cpuMinutes ?? 1,
    cpuMinutes,
    neededBy,
    config: train.getProtocol('smoke', 'bsce', 0),
  });
  // Two lanes. x: 90 and 10 min; y: 10 min of its own, and x's 90-min run. Queue: x90 (lane 1, 0-90), x10 (lane 2,
  // 0-10), y10 (lane 2, 10-20). x is ready at 90; y at 90 too (it waits for x's long run), not at 20.
  const rows = [row('x', 10), row('x', 90, ['x', 'y']), row('y', 10), row('y', 5, ['y'], true)];
  assert.deepEqual(experiments.figureReadiness(rows, 2, ['x', 'y', 'z']), [
    { id: 'x', toTrain: 2, minutes: 90, estimated: true },
    { id: 'y', toTrain: 2, minutes: 90, estimated: true },
    { id: 'z', toTrain: 0, minutes: 0, estimated: true },
  ]);
  // One lane: 90, then 10, then 10 → x at 100, y at 110. Given the order y, x: y's run first (10), then x's 90
  // (which y needs), then x's 10 → y at 100, x at 110.
  assert.deepEqual(
    experiments.figureReadiness(rows, 1, ['x', 'y']).map((f) => f.minutes),
    [100, 110],
  );
  assert.deepEqual(
    experiments.figureReadiness(rows, 1, ['y', 'x']).map((f) => f.minutes),
    [100, 110],
  );
  // A run without an estimate counts 0 minutes and marks the figure.
  assert.equal(experiments.figureReadiness([row('x', null)], 2)[0].estimated, false);
});

test('unknown figure ids are rejected by name; known ones keep the order given, each once', () => {
  assert.throws(() => experiments.resolveIds(['fig8', 'fig99']), /unknown figure id\(s\) fig99/);
  assert.deepEqual(
    experiments.resolveIds(['table9', 'fig5a', 'table9']).map((f) => f.id),
    ['table9', 'fig5a'],
  );
  assert.equal(experiments.resolveIds(['fig8', 'all']).length, experiments.FIGURE_IDS.length);
});

test('nextRunnable: the first queued run whose teachers are all trained; a student need not wait for other runs', () => {
  const q = (dir: string, teachers: string[] = []) => ({ dir, teachers });
  const queue = [q('student', ['t1', 't2']), q('big'), q('t1'), q('t2')];
  // Teachers still queued: the student is skipped, the next run starts.
  assert.equal(experiments.nextRunnable(queue, new Set(['student', 'big', 't1', 't2'])), 1);
  // t1 done, t2 still training: still skipped.
  assert.equal(experiments.nextRunnable(queue, new Set(['student', 'big', 't2'])), 1);
  // Both teachers done while 'big' (unrelated) is still unfinished: the student goes first.
  assert.equal(experiments.nextRunnable(queue, new Set(['student', 'big'])), 0);
  // Only students left, their teachers training elsewhere: nothing can start yet.
  assert.equal(experiments.nextRunnable([queue[0]], new Set(['student', 't2'])), -1);
  // Teachers outside the queue (already cached) never block.
  assert.equal(experiments.nextRunnable([q('s', ['cached'])], new Set(['s'])), 0);
});

test('table7 rows that train what another figure trains share its run (same config hash), so they are not trained twice', () => {
  const hashes = (id: string) =>
    new Set(
      experiments.FIGURES.find((f) => f.id === id)!
        .runs('mini', [0])
        .map(train.configHash),
    );
  const t7 = hashes('table7');
  const shared = (id: string) => [...hashes(id)].filter((x) => t7.has(x)).length;
  // fig6b: BSCE is the BIL row, BSCE + HCM (one expert, no collaboration) the BIL + NFL_hard row.
  assert.equal(shared('fig6b'), 2);
  // fig8: NCL++ with all switches on is the full row (and its ensemble row).
  assert.equal(shared('fig8'), 1);
  // fig12b: BSCE is the BIL row, its NCL (K = 2, no nested terms) the BIL + InterCL row (also fig7's K = 2).
  assert.equal(shared('fig12b'), 2);
  // fig7: K = 2 as above; K = 1 without nested terms has no collaboration left: BSCE, the BIL row.
  assert.equal(shared('fig7'), 2);
  // fig12a's balanced NCL is the BIL + InterCL row; fig6a's T = 1 point is BSCE + HCM, the BIL + NFL_hard row, and
  // its copies-only series at T = 1 and T = 2 are the BIL and "BIL, T copies" rows.
  assert.equal(shared('fig12a'), 1);
  assert.equal(shared('fig6a'), 3);
});

test('--plan counts what a checkpoint holds: a run to resume after epoch k of N has (N − k) / N of its cost left', async () => {
  const root = path.join(tmp, 'plan-resume');
  const spec = experiments.FIGURES.find((f) => f.id === 'fig12a')!;
  const [done, todo] = spec.runs('smoke', [0]);
  const doneDir = experiments.runDir(root, done);
  fs.mkdirSync(doneDir, { recursive: true });
  // A finished run's metrics.json as the reader checks it (train/files.ts), with one class.
  const acc = { top1: 0.5, perClass: [0.5], many: 0.5, medium: null, few: null };
  const metrics = {
    config: done,
    configHash: train.configHash(done),
    backend: 'wasm',
    classCounts: [10],
    test: { ...acc, experts: [acc], expertMean: acc, ensemble: acc },
    train: { seconds: 120, epochs: [], imgPerSec: 1 },
  };
  fs.writeFileSync(path.join(doneDir, 'metrics.json'), JSON.stringify(metrics)); // calibration: 120 s
  const plan = () => experiments.planRuns({ ids: ['fig12a'], protocol: 'smoke', seeds: 1, resultsDir: root });
  const full = plan().find((r) => !r.cached)!;
  const expected = ((120 / experiments.relativeCost(done)) * experiments.relativeCost(todo)) / 60;
  assert.ok(Math.abs(full.cpuMinutes! - expected) < 1e-9, `${full.cpuMinutes} vs ${expected}`);
  assert.equal(full.epochsDone, undefined);
  const ckpt = path.join(experiments.runDir(root, todo), 'checkpoint.bin');
  fs.mkdirSync(path.dirname(ckpt), { recursive: true });
  const N = todo.optim.epochs;
  assert.ok(N >= 2, `smoke trains ${N} epochs`);
  await train.saveCheckpoint(ckpt, new Map(), { configHash: train.configHash(todo), nextEpoch: 1 });
  const resumed = plan().find((r) => !r.cached)!;
  assert.equal(resumed.epochsDone, 1);
  assert.ok(Math.abs(resumed.cpuMinutes! - (expected * (N - 1)) / N) < 1e-9);
  assert.match(experiments.formatPlan(plan(), 2), /\(resumes after epoch 1\)/);
  // A checkpoint of another config (the trainer refuses it) counts for nothing.
  await train.saveCheckpoint(ckpt, new Map(), { configHash: 'something-else', nextEpoch: 1 });
  assert.equal(plan().find((r) => !r.cached)!.epochsDone, undefined);
});

test('every figure trains the runs it always trained: the mini cache keys per figure are the checked-in list', () => {
  // A change of a figure's configs changes their hashes, and finished runs would be trained again. Regenerate the
  // list deliberately, only when a protocol changes: NCL_UPDATE_RUN_KEYS=1 node --import tsx --test test/experiments.test.ts
  const file = path.join(__dirname, 'fixtures', 'mini-run-keys.json');
  const seeds = [0, 1, 2];
  const now = Object.fromEntries(
    experiments.FIGURES.map((f) => [
      f.id,
      [...new Set(f.runs('mini', seeds).map((c) => `${c.method}-${train.configHash(c)}`))].sort(),
    ]),
  );
  const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (process.env.NCL_UPDATE_RUN_KEYS === '1') {
    fs.writeFileSync(file, JSON.stringify({ ...stored, figures: now }, null, 1) + '\n');
  }
  assert.equal(stored.protocol, 'mini');
  assert.deepEqual(stored.seeds, seeds);
  for (const id of Object.keys({ ...stored.figures, ...now }))
    assert.deepEqual(now[id], stored.figures[id], `${id}: its mini runs changed`);
  // The twin compares Table 1's IF 100 runs of CE, BSCE and NCL++: the same runs, trained once.
  const table1 = new Set(now.table1);
  assert.equal(now.twin.length, 9);
  assert.ok(now.twin.every((k: string) => table1.has(k)));
});

test('settings labels name every value the runs use: Table 1 trains IF 100 and 50, Table 8 IF 1', () => {
  // The mini protocol (train/protocols.ts): Fashion-MNIST-LT, ResNet-8 width 16, 20 epochs, batch 64, wd 2e-4,
  // SimAug; the analysis runs have K = 2 experts, NCL++ T = 2 copies.
  const mini = 'resnet8 w16, 20 ep, batch 64, wd 2e-4, simaug';
  assert.equal(experiments.figureSettings('table1', 'mini'), `fashion-mnist IF 100 + 50, ${mini}, K 2, T 2`);
  assert.equal(experiments.figureSettings('table8', 'mini'), `fashion-mnist IF 1, ${mini}, K 1 + 2, T 2`);
  assert.equal(
    experiments.figureSettings('table9', 'mini'),
    `fashion-mnist IF 100 (data 100% + 80% + 60% + 40% + 20%), ${mini}, K 1 + 2, T 2`,
  );
  assert.equal(
    experiments.figureSettings('table4', 'mini'),
    `fashion-mnist IF 100, resnet8 w16, 20 ep, batch 64, wd 2e-4, simaug + randaugment + simaug+mixup, K 1 + 2, T 2`,
  );
  assert.equal(experiments.figureSettings('fig2a', 'mini'), `fashion-mnist IF 100, ${mini}, K 2`);
});

test('judge: a claim as comparisons, each with its paired interval, the verdict and the same in words', () => {
  const st = (...v: number[]) => experiments.stat(v, ['s0', 's1', 's2']);
  const stats = { a: st(0.8, 0.82, 0.84), b: st(0.7, 0.71, 0.72), c: st(0.81, 0.83, 0.79) };
  // a − b: differences 0.10, 0.11, 0.12 → +11.00 [+8.52, +13.48] points: holds.
  const holds = experiments.judge([experiments.greater('a', 'b')], stats);
  assert.equal(holds.verdict, 'reproduced');
  assert.equal(
    holds.reading,
    'a > b holds: a − b = +11.00 [+8.52, +13.48] points (95 % interval, paired over 3 seeds).',
  );
  assert.equal(holds.checks[0].n, 3);
  assert.ok(Math.abs(holds.checks[0].diff.lo - 0.0851586) < 1e-6);
  // b − a: reversed. a − c: differences −0.01, −0.01, +0.05: mean 0.01, sd √0.0012, half 0.0860579: not settled.
  const mixed = experiments.judge([experiments.greater('b', 'a'), experiments.greater('a', 'c')], stats);
  assert.equal(mixed.verdict, 'not reproduced');
  assert.deepEqual(
    mixed.checks.map((c) => c.verdict),
    ['not reproduced', 'inconclusive'],
  );
  assert.match(mixed.reading, /b > a is reversed: b − a = −11\.00 \[−13\.48, −8\.52\] points/);
  assert.match(mixed.reading, /a > c is not settled: a − c = \+1\.00 \[−7\.61, \+9\.61\] points/);
  // A noise floor of 0.02 widens a − b: half-width 4.302653 · 0.02 / √3 = 0.0496828.
  const floored = experiments.judge([experiments.greater('a', 'b')], stats, experiments.POINTS, {
    floor: 0.02,
  });
  assert.ok(Math.abs(floored.checks[0].diff.lo - (0.11 - 0.0496828)) < 1e-6);
  // within: |0.82 − 0.81| = 0.01 ≤ 0.005? no; ≤ 0.02: yes.
  assert.equal(experiments.judge([experiments.within('a', 'c', 0.005)], stats).verdict, 'not reproduced');
  assert.equal(experiments.judge([experiments.within('a', 'c', 0.02)], stats).verdict, 'reproduced');
  assert.throws(() => experiments.judge([experiments.greater('a', 'x')], stats), /no measured quantity 'x'/);
});

test("Table 7's rows are losses.TABLE7_ROWS: the paper's component marks, trained as the figure's runs, plus BIL on T copies", () => {
  // Table 7 of the paper: BIL, InterCL, IntraCL, NFL_hard per row.
  const paper: Record<string, [boolean, boolean, boolean, boolean]> = {
    ce: [false, false, false, false],
    bil: [true, false, false, false],
    'bil+nfl': [true, false, false, true],
    'bil+inter': [true, true, false, false],
    'bil+intra': [true, false, true, false],
    'bil+inter+intra': [true, true, true, false],
    nclpp: [true, true, true, true],
  };
  assert.deepEqual(losses.TABLE7_ROWS, Object.keys(paper));
  const p = train.getProtocol('mini', 'nclpp');
  for (const name of losses.TABLE7_ROWS) {
    const c = losses.variantComponents(losses.EXPERIMENT_VARIANTS[name], {
      experts: p.model.numExperts,
      copies: p.loss.numCopies,
    });
    assert.deepEqual([c.bil, c.interCL, c.intraCL, c.nestedHard], paper[name], name);
  }
  const hashes = (cs: train.TrainConfig[]) => new Set(cs.map(train.configHash));
  const fromVariants = hashes(
    losses.TABLE7_ROWS.flatMap((v) =>
      [0, 1, 2].map((s) => experiments.runConfig('mini', s, experiments.variantRun(v))),
    ),
  );
  // The compute-matched control: BSCE (K = 1, no mining, no KL) on the T = 2 copies NCL++ trains on.
  const copies = [0, 1, 2].map((s) =>
    experiments.runConfig('mini', s, { method: 'bsce', copies: p.loss.numCopies }),
  );
  for (const c of copies) assert.deepEqual([c.method, c.model.numExperts, c.loss.numCopies], ['bsce', 1, 2]);
  const table7 = experiments.FIGURES.find((f) => f.id === 'table7')!;
  assert.deepEqual(hashes(table7.runs('mini', [0, 1, 2])), new Set([...fromVariants, ...hashes(copies)]));
});

test('twin: our Table 1 runs beside results/twin/*.json; a missing, unreadable or foreign twin file is named and left out', async () => {
  const results = path.join(tmp, 'results-twin');
  const opts = {
    ids: ['twin'],
    protocol: 'smoke',
    seeds: 2,
    workers: 1,
    resultsDir: results,
    png: false,
    log: () => {},
  };
  await experiments.reproduce(opts);
  const first = experiments.readManifest(results).figures.find((f) => f.id === 'twin')!;
  assert.equal(first.verdict, 'inconclusive');
  assert.match(first.reading!, /No twin run to compare with yet/);
  const ours = (m: string, s: number) =>
    experiments.runConfig('smoke', s, { method: m, experts: 2, imbalanceFactor: 100 });
  const top1 = (m: string, s: number) =>
    JSON.parse(fs.readFileSync(path.join(experiments.runDir(results, ours(m, s)), 'metrics.json'), 'utf8'))
      .test.experts[0].top1 as number;
  // The twin's CE trains one network (K = 1) with otherwise our settings; twin.sh writes these fields.
  const twinRun = (m: string, s: number, acc: number, config: unknown) => ({
    method: m,
    seed: s,
    epochs: 2,
    top1: acc,
    experts: [acc],
    ensemble: acc,
    seconds: 60,
    config,
  });
  fs.mkdirSync(path.join(results, 'twin'));
  const write = (m: string, s: number, body: unknown) =>
    fs.writeFileSync(
      experiments.twinFile(results, m, s),
      typeof body === 'string' ? body : JSON.stringify(body),
    );
  const ceTwin = [top1('ce', 0) + 0.002, top1('ce', 1) - 0.001];
  for (const s of [0, 1]) {
    const c = ours('ce', s);
    write('ce', s, twinRun('ce', s, ceTwin[s], { ...c, model: { ...c.model, numExperts: 1 } }));
  }
  const other = ours('bsce', 0);
  write('bsce', 0, twinRun('bsce', 0, 0.5, { ...other, optim: { ...other.optim, epochs: 7 } }));
  write('bsce', 1, '{not json');
  await experiments.reproduce(opts);
  const t = JSON.parse(fs.readFileSync(path.join(results, 'twin.json'), 'utf8'));
  const ce = t.data.rows.find((r: { name: string }) => r.name === 'CE (expert 1)');
  const oursMean = (top1('ce', 0) + top1('ce', 1)) / 2;
  const twinMean = (ceTwin[0] + ceTwin[1]) / 2;
  assert.ok(Math.abs(ce.difference - (oursMean - twinMean)) < 1e-12, String(ce.difference));
  assert.equal(ce.verdict, 'within 0.5 points');
  assert.ok(
    t.table.includes(
      `| CE (expert 1) | ${experiments.meanStd(ce.ours)} | ${experiments.meanStd(ce.twin)} | ${(100 * (oursMean - twinMean)).toFixed(2)} | within 0.5 points |`,
    ),
    t.table,
  );
  // NCL++ trains K = 2 there too: its ensemble is compared as well; no twin file → no numbers.
  assert.ok(t.table.includes('| NCL++ (ensemble) | '), t.table);
  assert.match(t.table, /\| BSCE \(expert 1\) \| [^|]+ \| - \| - \| no twin runs \|/);
  assert.match(t.table, /twin\/bsce-seed0\.json: trained other settings \(optim differ\)/);
  assert.match(t.table, /twin\/bsce-seed1\.json: unreadable/);
  assert.match(t.table, /twin\/nclpp-seed0\.json: missing/);
  const e = experiments.readManifest(results).figures.find((f) => f.id === 'twin')!;
  assert.equal(e.verdict, 'inconclusive'); // agreement so far, with twin runs missing
  assert.match(e.reading!, /Twin runs missing: twin\/nclpp-seed0\.json, twin\/nclpp-seed1\.json\./);
});

test('decomposition: each arm trains what it says; each step is the paired interval of expert 1, hand-computed', () => {
  const spec = experiments.FIGURES.find((f) => f.id === 'decomposition')!;
  const long = experiments.FIGURES.find((f) => f.id === 'decomposition-long')!;
  const arm = (k: string) => experiments.DECOMPOSITION_ARMS.find((a) => a.key === k)!;
  const cfg = (k: string, scale = 1, seed = 0) =>
    experiments.runConfig('mini', seed, experiments.armRun(arm(k), scale));
  const shape = (c: train.TrainConfig) => [
    c.method,
    c.model.numExperts,
    c.loss.numCopies,
    c.optim.epochs,
    (c.loss as losses.PaperLoss).options.intraCL,
    (c.loss as losses.PaperLoss).options.interCL,
    c.loss.lambda,
  ];
  assert.deepEqual(shape(cfg('A')), ['bsce', 1, 1, 20, true, true, 0.6]); // ce/bsce: switches at their defaults
  assert.deepEqual(shape(cfg('B')), ['bsce', 1, 2, 20, true, true, 0.6]);
  assert.deepEqual(shape(cfg('C')), ['nclpp', 2, 2, 20, true, true, 0]);
  assert.deepEqual(shape(cfg('D')), ['nclpp', 1, 2, 20, true, false, 0.6]);
  assert.deepEqual(shape(cfg('E')), ['nclpp', 2, 2, 20, true, true, 0.6]);
  assert.deepEqual(shape(cfg('A2')), ['bsce', 1, 1, 40, true, true, 0.6]);
  assert.deepEqual(shape(cfg('E', 3)), ['nclpp', 2, 2, 60, true, true, 0.6]);
  assert.equal(cfg('E', 3).optim.warmupEpochs, 1);
  // A, B and E at the protocol's length are Table 7's BIL, "BIL, T copies" and NCL++ rows: one run each, shared.
  const t7 = new Set(
    experiments.FIGURES.find((f) => f.id === 'table7')!
      .runs('mini', [0])
      .map(train.configHash),
  );
  for (const k of ['A', 'B', 'E']) assert.ok(t7.has(train.configHash(cfg(k))), k);
  assert.equal(spec.runs('mini', [0, 1]).length, 12);
  assert.equal(long.runs('mini', [0, 1]).length, 24); // 3× the epochs, plus the shorter runs it compares with
  // Fabricated runs: expert 1's top-1 per arm and seed; E − C per seed = +0.010, +0.012, +0.014.
  const top1: Record<string, number[]> = {
    A: [0.87, 0.875, 0.88],
    B: [0.88, 0.886, 0.89],
    C: [0.885, 0.889, 0.894],
    D: [0.884, 0.888, 0.893],
    E: [0.895, 0.901, 0.908],
    A2: [0.872, 0.878, 0.881],
  };
  const byHash = new Map<string, number>();
  for (const a of experiments.DECOMPOSITION_ARMS)
    [0, 1, 2].forEach((s) => byHash.set(train.configHash(cfg(a.key, 1, s)), top1[a.key][s]));
  const get = (c: train.TrainConfig) => {
    const v = byHash.get(train.configHash(c))!;
    const t = { top1: v, experts: [{ top1: v }] };
    return {
      dir: `/nowhere/runs/mini/x-${train.configHash(c)}`,
      config: c,
      analysis: null,
      metrics: { test: t, train: { epochs: [] } },
    } as never;
  };
  const out = spec.build({ protocol: 'mini', seeds: [0, 1, 2], resultsDir: '/nowhere', get });
  const steps = (
    out.data as { steps: { step: string; diff: { mean: number; lo: number; hi: number }; n: number }[] }
  ).steps;
  const kl = steps.find((s) => s.step === 'E − C')!;
  // mean 0.012, sd 0.002, half-width 4.302653 · 0.002 / √3 = 0.0049683.
  assert.equal(kl.n, 3);
  assert.ok(Math.abs(kl.diff.mean - 0.012) < 1e-9 && Math.abs(kl.diff.lo - (0.012 - 0.0049683)) < 1e-6);
  assert.match(
    out.measured,
    /the KL terms add accuracy beyond the copies and mining: NCL\+\+ − NCL\+\+ λ = 0 = \+1\.20 \[\+0\.70, \+1\.70\] points/,
  );
  assert.equal(out.verdict, 'reproduced');
  // No twin runs: the entry says which are missing and the command that trains them.
  assert.match(
    out.measured,
    /Twin runs missing: nclpp-lambda0 seed\(s\) 0, 1, 2; nclpp seed\(s\) 0, 1, 2 \(`bash scripts\/torch\/twin\.sh "0 1 2" "nclpp-lambda0 nclpp"`/,
  );
  // The twin's arms C and E are the decomposition's configs (twin.sh hands mini_run.py exactly these).
  for (const s of [0, 1, 2]) {
    assert.equal(
      train.configHash(experiments.twinConfig('mini', 'nclpp-lambda0', s)),
      train.configHash(cfg('C', 1, s)),
    );
    assert.equal(
      train.configHash(experiments.twinConfig('mini', 'nclpp', s)),
      train.configHash(cfg('E', 1, s)),
    );
  }
  // Twin runs of C and E (E − C per seed = −0.004, −0.006, −0.008; seed 2 of C is of other settings, so not read).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-decomposition-twin-'));
  const twinTop1: Record<string, number[]> = {
    'nclpp-lambda0': [0.88, 0.886, 0.89],
    nclpp: [0.876, 0.88, 0.882],
  };
  for (const [name, values] of Object.entries(twinTop1))
    values.forEach((top1, seed) => {
      const config = experiments.twinConfig('mini', name, seed);
      if (name === 'nclpp-lambda0' && seed === 2) config.optim.lr = 0.2;
      const file = experiments.twinFile(dir, name, seed);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const run = {
        method: 'nclpp',
        seed,
        epochs: 20,
        top1,
        experts: [top1, top1],
        ensemble: top1,
        seconds: 60,
        config,
      };
      fs.writeFileSync(file, JSON.stringify(run));
    });
  const withTwin = spec.build({ protocol: 'mini', seeds: [0, 1, 2], resultsDir: dir, get: (c) => get(c) });
  // Paired over seeds 0 and 1: mean −0.005, sd 0.0014142, half-width 12.7062 · 0.0014142 / √2 = 0.012706.
  assert.match(
    withTwin.measured,
    /In the PyTorch twin \(seeds 0, 1\): the KL terms neither add nor cost accuracy measurably beyond the copies and mining: NCL\+\+ − NCL\+\+ λ = 0 = −0\.50 \[−1\.77, \+0\.77\] points on expert 1 \(95 % interval, paired over 2 seeds\)\./,
  );
  assert.match(
    withTwin.measured,
    /Not read: twin\/nclpp-lambda0-seed2\.json: trained other settings \(optim differ\)\./,
  );
  assert.doesNotMatch(withTwin.measured, /Twin runs missing/);
  fs.rmSync(dir, { recursive: true, force: true });
});
