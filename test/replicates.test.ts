// Replicates: the noise floor from runs of one training at one seed, pooling per seed, and a comparison figure that
// pools replicates only where they measured the quantity (hand-computed expectations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparisonFigure } from '../lib/src/experiments/compare';
import { noiseFloor, pooledStat, replicatesOf, type IndexedRun } from '../lib/src/experiments/replicates';
import { EXPERT1, runConfig, type FigureContext } from '../lib/src/experiments/spec';
import type { RunResult } from '../lib/src/experiments/runs';
import type { TrainConfig } from '../lib/src/train/config';
import type { Metrics } from '../lib/src/train/types';

const split = (top1: number) => ({ top1, many: top1, medium: top1, few: NaN });
const evalOf = (top1: number) => ({ experts: [split(top1)], expertMean: split(top1), ensemble: split(top1) });

/** A finished run's metrics holding only what the readers under test use. */
function metrics(top1: number, train?: number): Metrics {
  return {
    test: evalOf(top1),
    ...(train === undefined ? {} : { trainSet: evalOf(train) }),
  } as unknown as Metrics;
}

function indexed(seed: number, top1: number, tweak: (c: TrainConfig) => void = () => {}): IndexedRun {
  const config = runConfig('smoke', seed, { method: 'bsce' });
  tweak(config);
  return { dir: `runs/smoke/r-${seed}-${top1}`, config, metrics: metrics(top1) };
}

test('noiseFloor: root mean square of same-seed differences of one training, whatever the runs evaluate', () => {
  const index = [
    indexed(0, 0.8),
    indexed(0, 0.82, (c) => (c.eval.trainAccuracy = true)), // another key, same training
    indexed(1, 0.85), // alone at its seed: no pair
    indexed(2, 0.7),
    indexed(2, 0.71, (c) => (c.eval.every = 2)),
    indexed(2, 0.73, (c) => (c.eval.batchSize = 250)),
    indexed(0, 0.9, (c) => (c.optim.lr = 0.2)), // another training at seed 0: pairs with nothing
  ];
  const { floor, pairs } = noiseFloor(index);
  // pairs: (0.80, 0.82); (0.70, 0.71), (0.70, 0.73), (0.71, 0.73) → squares 4e-4, 1e-4, 9e-4, 4e-4
  assert.equal(pairs, 4);
  assert.ok(Math.abs(floor - Math.sqrt(0.0018 / 4)) < 1e-12, String(floor));
  assert.deepEqual(noiseFloor([indexed(0, 0.8), indexed(1, 0.9)]), { floor: 0, pairs: 0 });
  // replicatesOf: the same training at any seed, not another training
  const reps = replicatesOf(index, runConfig('smoke', 5, { method: 'bsce' }));
  assert.equal(reps.length, 6);
});

test('pooledStat: replicates at one seed are averaged into that seed, other seeds add samples', () => {
  const run = (seed: number, top1: number): RunResult => ({
    dir: `/r/${seed}-${top1}`,
    config: runConfig('smoke', seed, { method: 'bsce' }),
    metrics: metrics(top1),
    analysis: null,
  });
  const st = pooledStat([run(0, 0.8), run(1, 0.85), run(0, 0.82)], (r) => r.metrics.test.experts[0].top1);
  assert.equal(st.values.length, 2);
  assert.ok(
    Math.abs(st.values[0] - 0.81) < 1e-12 && Math.abs(st.values[1] - 0.85) < 1e-12,
    String(st.values),
  );
  assert.ok(Math.abs(st.mean - 0.83) < 1e-12);
  assert.ok(Math.abs(st.std - Math.sqrt(2 * 0.02 ** 2)) < 1e-12, String(st.std)); // two values 0.02 from the mean
  assert.deepEqual(
    st.keys!.map((k) => k.split('|')[0]),
    ['0', '1'],
  );
});

test('a comparison pools a replicate only where it measured the same set (clean train accuracy)', () => {
  const spec = comparisonFigure({
    id: 'pooling-test',
    title: 'pooling',
    plot: { kind: 'bars', title: 'pooling' },
    series: [
      {
        name: 'BSCE',
        metric: { ...EXPERT1, set: 'train' },
        points: [{ x: 0, label: 'BSCE', run: { method: 'bsce' } }],
      },
    ],
    claim: { text: 'none', checks: [] },
  });
  const result = (seed: number, top1: number, train?: number): RunResult => ({
    dir: `/results/runs/smoke/bsce-${seed}-${top1}`,
    config: runConfig('smoke', seed, { method: 'bsce' }),
    metrics: metrics(top1, train),
    analysis: null,
  });
  const own = result(0, 0.8, 0.9);
  const ctx: FigureContext = {
    protocol: 'smoke',
    seeds: [0],
    resultsDir: '/results',
    get: () => own,
    // seed 1 measured no train accuracy (a Table 1 run); seed 2 did
    replicates: () => [result(1, 0.81), result(2, 0.82, 0.94)],
  };
  const out = spec.build(ctx) as {
    data: { series: { points: { seeds: number[]; perSeed: number[]; mean: number }[] }[] };
  };
  const p = out.data.series[0].points[0];
  assert.deepEqual(p.seeds, [0, 2]);
  assert.deepEqual(p.perSeed, [0.9, 0.94]);
  assert.ok(Math.abs(p.mean - 0.92) < 1e-12);
});
