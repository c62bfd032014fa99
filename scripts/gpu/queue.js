#!/usr/bin/env node
/**
 * Choose runs for scripts/gpu/train-runs.sh: the last N unfinished runs (in `ncl reproduce` order) of the given
 * figures, each written as .gpu/queue/<method>-<hash>/config.json, the folder name of its run under results/runs/.
 * The last ones, so that a local `ncl reproduce` of the same figures reaches them only after the checkpoints from
 * the other machine are back. `--check DIR` (repeatable) adds a finished run as check-<name>: trained again there
 * for a few epochs, its epoch losses are compared with the finished run's (same numbers = same training).
 *
 *   node scripts/gpu/queue.js fig5b table8 --protocol mini --seeds 3 --last 16 [--check results/runs/mini/X]
 */
const fs = require('node:fs');
const path = require('node:path');
const { Command } = require('commander');
const { experiments, train } = require('../../lib/dist');

const program = new Command('queue')
  .argument('<ids...>', 'figure ids, in the order `ncl reproduce` takes them')
  .requiredOption('--protocol <name>', 'protocol')
  .requiredOption('--seeds <n>', 'seeds per configuration', (v) => Number(v))
  .requiredOption('--last <n>', 'how many unfinished runs, from the end of the queue', (v) => Number(v))
  .option('--check <dir>', 'a finished run folder to train again for the determinism check', (v, a) => [...a, v], [])
  .option('--check-minutes <m>', "a check's time limit there", '3')
  .option('--results <dir>', 'results root', 'results')
  .option('--out <dir>', 'queue folder', '.gpu/queue');
program.parse();
const o = program.opts();
// The plan's rows: each run once, in the order `ncl reproduce` queues the figures.
const todo = experiments
  .planRuns({ ids: program.args, protocol: o.protocol, seeds: o.seeds, resultsDir: o.results })
  .filter((r) => !r.cached)
  .map((r) => ({ dir: path.join(o.results, r.dir), c: r.config }));
fs.rmSync(o.out, { recursive: true, force: true });
const chosen = todo.slice(-o.last);
for (const { dir, c } of chosen) {
  const q = path.join(o.out, path.basename(dir));
  fs.mkdirSync(q, { recursive: true });
  fs.writeFileSync(path.join(q, 'config.json'), JSON.stringify(c, null, 2) + '\n');
  if (train.configHash(c) !== path.basename(dir).split('-').pop()) throw new Error(`${dir}: hash mismatch`);
}
for (const dir of o.check) {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
  const q = path.join(o.out, `check-${path.basename(dir)}`);
  fs.mkdirSync(q, { recursive: true });
  fs.writeFileSync(path.join(q, 'config.json'), JSON.stringify(m.config, null, 2) + '\n');
  fs.writeFileSync(path.join(q, 'minutes'), `${o.checkMinutes}\n`);
}
console.error(`queue: ${chosen.length} of ${todo.length} unfinished run(s) and ${o.check.length} check(s) in ${o.out}`);
for (const { dir } of chosen) console.log(dir);
