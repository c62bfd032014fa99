/**
 * Writes the configs of the runs that figures still need into .gpu/jobs/, for scripts/gpu/train.sh to train them on
 * a GPU machine (see docs/gpu.md, "Training runs on a GPU machine"). One file per run, at the path of its run folder:
 * .gpu/jobs/runs/<protocol>/<method>-<hash>.json holds the full config (as config.json).
 *
 *   npx tsx scripts/gpu/jobs.ts table8 [fig5b ...] [--protocol mini] [--seeds 3] [--results results] [--out .gpu/jobs]
 *
 * Runs already finished under --results are left out, and so are runs with a checkpoint there (they resume where
 * they started, on this machine's backend) and runs that distil from teacher runs (whose folders are here).
 */
import fs from 'node:fs';
import path from 'node:path';
import { experiments } from '../../lib/src';

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v == null || v.startsWith('--')) throw new Error(`${name}: needs a value`);
  args.splice(i, 2);
  return v;
}

const args = process.argv.slice(2);
const protocol = option(args, '--protocol', 'mini');
const seeds = Number(option(args, '--seeds', '3'));
const results = path.resolve(option(args, '--results', 'results'));
const out = path.resolve(option(args, '--out', '.gpu/jobs'));
if (!Number.isInteger(seeds) || seeds < 1) throw new Error('--seeds: a whole number ≥ 1');
if (!args.length) throw new Error('name the figures, e.g. `npx tsx scripts/gpu/jobs.ts table8`');
const rows = experiments.planRuns({ ids: args, protocol, seeds, resultsDir: results });
fs.rmSync(out, { recursive: true, force: true });
let n = 0;
for (const r of rows) {
  if (r.cached || r.epochsDone) continue;
  if (r.config.loss.teachers.length) {
    // The teachers' run folders are under --results here, not on the GPU machine.
    console.log(`${r.id}\t${r.dir}\tleft out: distils from teacher runs (train it here with ncl reproduce)`);
    continue;
  }
  const file = path.join(out, `${r.dir}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(r.config, null, 2) + '\n');
  console.log(`${r.id}\t${r.dir}\tseed ${r.seed}`);
  n++;
}
console.log(`${n} job(s) in ${path.relative(process.cwd(), out)}/`);
