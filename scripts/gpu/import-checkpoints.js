#!/usr/bin/env node
/**
 * Bring back what scripts/gpu/train-runs.sh trained on the other machine: for each checkpoints-*.tar,
 *   - check-<run>: its epoch losses against the finished run results/runs/<protocol>/<run>/metrics.json, epoch by
 *     epoch, to the last bit (same numbers: training there is the same as here);
 *   - <run>: installed as results/runs/<protocol>/<run>/checkpoint.bin + config.json (a local `ncl reproduce`
 *     resumes it), unless that run is finished here or has a local checkpoint at least as far along.
 * Exit 1 when a check differs (nothing is installed then).
 *
 *   node scripts/gpu/import-checkpoints.js [--results results] DIR_WITH_TARS
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Command } = require('commander');
const { train } = require('../../lib/dist');

const program = new Command('import-checkpoints')
  .argument('<dir>', 'folder holding checkpoints-*.tar')
  .option('--results <dir>', 'results root', 'results')
  .option('--dry-run', 'compare and report, install nothing');
program.parse();
const o = program.opts();
const src = program.args[0];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-import-'));
const tars = fs.existsSync(src) ? fs.readdirSync(src).filter((f) => /^checkpoints-\d+\.tar$/.test(f)) : [];
if (!tars.length) {
  console.error(`import-checkpoints: no checkpoints-*.tar in ${src}`);
  process.exit(1);
}
for (const t of tars) execFileSync('tar', ['-xf', path.join(src, t), '-C', tmp]);

const state = (dir) => train.checkpointState(path.join(dir, 'checkpoint.bin'));
let bad = 0;
const installs = [];
for (const name of fs.readdirSync(tmp).sort()) {
  const dir = path.join(tmp, name);
  if (!fs.existsSync(path.join(dir, 'checkpoint.bin'))) continue;
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const s = state(dir);
  const hosts = [...new Set(s.epochs.map((e) => e.host ?? 'an unrecorded host'))].join(', ');
  if (name.startsWith('check-')) {
    const ref = path.join(o.results, 'runs', config.protocol, name.slice(6), 'metrics.json');
    const m = JSON.parse(fs.readFileSync(ref, 'utf8'));
    const diffs = s.epochs.flatMap((e, i) =>
      Object.entries(e.losses)
        .filter(([k, v]) => m.train.epochs[i].losses[k] !== v)
        .map(([k, v]) => `epoch ${i + 1} ${k}: ${v} there, ${m.train.epochs[i].losses[k]} here`),
    );
    if (diffs.length) bad++;
    console.log(
      `${name}: ${s.epochs.length} epoch(s) on ${hosts}: ` +
        (diffs.length ? `DIFFERENT (${diffs.length}): ${diffs.slice(0, 3).join('; ')}` : `losses identical to ${ref}`) +
        ` (${s.epochs.map((e) => e.seconds.toFixed(0) + ' s').join(', ')} per epoch there; ${m.train.epochs[0].seconds.toFixed(0)} s here)`,
    );
    continue;
  }
  if (train.configHash(config) !== name.split('-').pop()) throw new Error(`${name}: config hash does not match`);
  const dest = path.join(o.results, 'runs', config.protocol, name);
  const local = fs.existsSync(path.join(dest, 'checkpoint.bin')) ? state(dest).nextEpoch : 0;
  const finished = fs.existsSync(path.join(dest, 'metrics.json'));
  const what = `${name}: ${s.nextEpoch}/${config.optim.epochs} epochs on ${hosts}`;
  if (finished || local >= s.nextEpoch) console.log(`${what}: kept the local run (${finished ? 'finished' : `${local} epochs`})`);
  else installs.push({ dir, dest, what });
}
if (bad) {
  console.error(`import-checkpoints: ${bad} check(s) differ; nothing installed`);
  process.exit(1);
}
for (const { dir, dest, what } of installs) {
  if (!o.dryRun) {
    fs.mkdirSync(dest, { recursive: true });
    for (const f of ['config.json', 'checkpoint.bin']) {
      fs.copyFileSync(path.join(dir, f), path.join(dest, `${f}.tmp`));
      fs.renameSync(path.join(dest, `${f}.tmp`), path.join(dest, f));
    }
  }
  console.log(`${what}: ${o.dryRun ? 'would install' : 'installed'} in ${dest}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
