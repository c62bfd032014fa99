// Offline-distillation teachers: a student still to train needs its teachers' checkpoints; once every student is
// finished, teachers whose checkpoints are gone (checkpoints are not committed) are still cached, not retrained.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs = require('node:fs');
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, experiments } from '../lib/src';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-teachers-'));
const ENV_DATA = process.env.NCL_DATA_DIR;

before(async () => {
  process.env.NCL_DATA_DIR = ''; // the vendored data
  await initBackend({ backend: 'wasm', quiet: true });
});

test('finished students need no teacher checkpoint: nothing is retrained, nothing is rewritten', async () => {
  const configs = experiments.FIGURES.find((f) => f.id === 'fig12b')!.runs('smoke', [0]);
  const teachers = new Set(configs.flatMap((c) => c.loss.teachers));
  assert.ok(teachers.size > 0, 'fig12b trains offline-distillation teachers');
  const lines: string[] = [];
  await experiments.ensureRuns(tmp, configs, { workers: 1, log: () => {} });
  const metrics = [...teachers].map((t) => path.join(tmp, t, 'metrics.json'));
  const before = metrics.map((f) => fs.readFileSync(f, 'utf8'));
  for (const t of teachers) fs.rmSync(path.join(tmp, t, 'checkpoint.bin'));
  await experiments.ensureRuns(tmp, configs, { workers: 1, log: (l) => lines.push(l) });
  assert.match(
    lines[0],
    new RegExp(`${new Set(configs.map((c) => experiments.runDir(tmp, c))).size} cached, 0 to train`),
  );
  assert.deepEqual(
    metrics.map((f) => fs.readFileSync(f, 'utf8')),
    before,
  );
  // The entry of a distillation figure lists the runs its build reads: without the teachers it is current, without
  // one of its students it is not.
  const students = configs
    .filter((c) => !teachers.has(path.relative(tmp, experiments.runDir(tmp, c))))
    .map((c) => path.relative(tmp, experiments.runDir(tmp, c)));
  const entry = { id: 'fig12b', protocol: 'smoke', seeds: [0], runs: students } as experiments.ManifestEntry;
  assert.deepEqual(experiments.entryStatus(tmp, entry), { stale: false });
  assert.equal(experiments.entryStatus(tmp, { ...entry, runs: students.slice(1) }).stale, true);
  if (ENV_DATA === undefined) delete process.env.NCL_DATA_DIR;
  else process.env.NCL_DATA_DIR = ENV_DATA;
});
