// Sweeps on SLURM (issue #42), through a real single-node scheduler started by the test (test/slurm-cluster.ts):
// the smoke sweep `ncl reproduce fig8 --protocol smoke --seeds 2 --executor slurm --wait` as one job array and a
// dependent figures job; the same sweep submitted again submits nothing in flight; one task cancelled mid-run is
// reported by `ncl status` with its reason, and when the sweep is submitted again it resumes from its checkpoint
// (its first epoch is the one trained before the cancel, not trained again); the figure equals the one built here.
// Skipped, saying why, where SLURM is not installed or the test is not root; under CI=true that is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { experiments, train } from '../lib/src';
import { LOCK_FILE } from '../lib/src/train/lock';
import { findChromium } from '../lib/src/viz';
import { slurmUnavailable, startCluster, type Cluster } from './slurm-cluster';
import { CLI_SETTINGS, ncl as nclSync, nclBackground } from './cli';

const why = slurmUnavailable();
if (why && process.env.CI === 'true') throw new Error(`CI: the SLURM test cannot run: ${why}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `body` with a single-node cluster of its own and a temp folder, and `env` for the CLI there; the daemons are stopped
 * after it, and the folder is removed, or kept and named when the body failed (the run folders, their logs and the
 * SLURM output say why).
 */
async function withCluster(
  prefix: string,
  body: (o: { tmp: string; cluster: Cluster; env: NodeJS.ProcessEnv }) => Promise<void>,
): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const cluster = await startCluster();
  let passed = false;
  try {
    await body({ tmp, cluster, env: { ...cluster.env, ...CLI_SETTINGS } });
    passed = true;
  } finally {
    await cluster.stop();
    if (passed) fs.rmSync(tmp, { recursive: true, force: true });
    else process.stderr.write(`kept for inspection: ${tmp}\n`);
  }
}

test(
  'a smoke sweep through SLURM: job array + figures job, nothing submitted twice, a cancelled task resumes, the figure equals the local one',
  { skip: why ?? false, timeout: 900_000 },
  () =>
    withCluster('ncl-slurm-', async ({ tmp, env }) => {
      const ncl = (args: string[]) => nclBackground(args, { env });
      const png = findChromium() ? [] : ['--no-png'];
      const sweep = ['fig8', '--protocol', 'smoke', '--seeds', '2', ...png];
      const results = path.join(tmp, 'results');
      // The figure built here, for comparison.
      const local = path.join(tmp, 'local');
      const here = ncl(['reproduce', ...sweep, '--workers', '2', '--results', local]);
      assert.equal(await here.exit, 0, here.err());

      const configs = experiments.FIGURES.find((f) => f.id === 'fig8')!.runs('smoke', [0, 1]);
      const dirs = configs.map((c) => experiments.runDir(results, c));
      const first = ncl([
        'reproduce',
        ...sweep,
        '--executor',
        'slurm',
        '--wait',
        '--poll',
        '0.5',
        '--results',
        results,
      ]);
      // Once submitted, the same sweep again submits no run: all six are queued or training.
      for (let t = 0; !/figures: job \d+/.test(first.out()); t++) {
        assert.ok(t < 1200, `not submitted:\n${first.out()}${first.err()}`);
        await sleep(100);
      }
      assert.match(first.out(), /submitted 6 run\(s\) to SLURM: job array (\d+) \(6 task\(s\)\)/);
      const twice = ncl(['reproduce', ...sweep, '--executor', 'slurm', '--results', results]);
      assert.equal(await twice.exit, 0, twice.err());
      assert.match(twice.out(), /submitted 0 run\(s\) to SLURM: none/);
      assert.match(twice.out(), /6 run\(s\) already training or queued: (\d+_\d+, ){5}\d+_\d+/);

      // Cancel one task mid-run, between its first epoch's checkpoint and its last step. Its trainer is held
      // (SIGSTOP) while in epoch 1, then let run a few milliseconds at a time until that checkpoint is there: it is then
      // at most a few milliseconds into epoch 2 (three steps), and the cancel's SIGTERM lands between two steps.
      let victim = -1;
      let owner: { pid: number; job: string } | null = null;
      for (let t = 0; victim < 0; t++) {
        assert.ok(t < 30_000, 'no run started training');
        for (const [i, d] of dirs.entries()) {
          if (fs.existsSync(path.join(d, 'checkpoint.bin')) || !fs.existsSync(path.join(d, LOCK_FILE)))
            continue;
          try {
            owner = JSON.parse(fs.readFileSync(path.join(d, LOCK_FILE), 'utf8'));
            process.kill(owner!.pid, 'SIGSTOP');
          } catch {
            continue; // between two states: look again
          }
          if (!fs.existsSync(path.join(d, 'checkpoint.bin'))) {
            victim = i;
            break;
          }
          process.kill(owner!.pid, 'SIGCONT'); // already past epoch 1: another one
        }
        if (victim < 0) await sleep(10);
      }
      const dir = dirs[victim];
      const ckpt = path.join(dir, 'checkpoint.bin');
      for (let t = 0; !fs.existsSync(ckpt); t++) {
        assert.ok(t < 100_000, 'the held run wrote no checkpoint');
        process.kill(owner!.pid, 'SIGCONT');
        await sleep(2);
        process.kill(owner!.pid, 'SIGSTOP');
        await sleep(1);
      }
      const held = train.checkpointState<{ nextEpoch: number; epochs: unknown[] }>(ckpt);
      assert.equal(held.nextEpoch, 1);
      assert.ok(!fs.existsSync(path.join(dir, 'metrics.json')), 'cancelled before the end');
      // The task by its array id (a task's own job id can be the array's, which would cancel every task).
      const [sub] = experiments.submissions(results);
      const at = sub.arrays[0].runs.indexOf(path.relative(results, dir));
      assert.ok(at >= 0);
      assert.equal(spawnSync('scancel', [`${sub.arrays[0].job}_${at}`], { env }).status, 0);
      process.kill(owner!.pid, 'SIGCONT');
      // The first sweep's figures job can no longer run (afterok): --wait exits 1, naming the cancelled run.
      assert.equal(
        await first.exit,
        1,
        `${first.out()}${first.err()}\n${dir}.log:\n${fs.readFileSync(`${dir}.log`, 'utf8')}`,
      );
      const rel = path.relative(results, dir);
      assert.match(first.err(), new RegExp(`^  ${dir}: .*interrupted during epoch 2/2`, 'm'));
      assert.match(first.err(), /figures job \d+: CANCELLED \(DependencyNeverSatisfied\)/);
      // The run stopped at its checkpoint and released its lock; its log says why, and so does ncl status.
      assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
      assert.equal(
        train.checkpointState<{ nextEpoch: number }>(path.join(dir, 'checkpoint.bin')).nextEpoch,
        1,
      );
      const log = fs.readFileSync(`${dir}.log`, 'utf8');
      assert.match(
        log,
        /^ncl: interrupted during epoch 2\/2; .*checkpoint\.bin \(epoch 1\) continues it with --resume$/m,
      );
      assert.match(log, /^== \S+ exit 143$/m);
      const status = ncl(['status', '--results', results, '--json']);
      assert.equal(await status.exit, 0, status.err());
      const [fig8] = JSON.parse(status.out()) as experiments.GroupStatus[];
      const mine = fig8.runs.find((r) => r.run === rel)!;
      assert.equal(mine.state, 'failed');
      assert.match(mine.reason!, /^interrupted during epoch 2\/2; /);
      assert.equal(mine.epoch, 1);

      // Submitted again: only the cancelled run; it continues after epoch 1 (that epoch's record is the one trained
      // before the cancel), and the figures job builds the figure.
      const again = ncl([
        'reproduce',
        ...sweep,
        '--executor',
        'slurm',
        '--wait',
        '--poll',
        '0.5',
        '--results',
        results,
      ]);
      assert.equal(await again.exit, 0, again.out() + again.err());
      assert.match(again.out(), /submitted 1 run\(s\) to SLURM: job array \d+ \(1 task\(s\)\)/);
      const m = train.readMetrics(dir)!;
      assert.equal(m.train.epochs.length, 2);
      assert.deepEqual(m.train.epochs[0], held.epochs[0]);
      assert.equal(
        (fs.readFileSync(`${dir}.log`, 'utf8').match(/^== .* job \d+_\d+ \(id \d+\)/gm) ?? []).length,
        2,
      );
      // The figure equals the one built here, number for number.
      assert.equal(
        fs.readFileSync(path.join(results, 'fig8.json'), 'utf8'),
        fs.readFileSync(path.join(local, 'fig8.json'), 'utf8'),
      );
      const entry = experiments.readManifest(results).figures.find((f) => f.id === 'fig8')!;
      assert.equal(entry.runs.length, 6);
      const done = ncl(['status', '--results', results]);
      assert.equal(await done.exit, 0);
      assert.match(done.out(), /^fig8: 6 runs: 6 finished, 0 running, 0 queued, 0 failed$/m);
    }),
);

test(
  'a wave larger than MaxArraySize goes in several arrays; the figures job waits for all of them; queued runs are not submitted again',
  { skip: why ?? false, timeout: 120_000 },
  async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-slurm-split-'));
    const cluster = await startCluster();
    const env = process.env.SLURM_CONF;
    process.env.SLURM_CONF = cluster.env.SLURM_CONF;
    try {
      const results = path.join(tmp, 'results');
      const configs = experiments.FIGURES.find((f) => f.id === 'fig8')!.runs('smoke', [0, 1]);
      const sweep = { command: 'test', groups: [] };
      // Held (--hold): nothing starts; the jobs are only looked at, then cancelled.
      const slurm = { sbatchArgs: ['--hold'] };
      const sub = experiments.submitRuns(configs, {
        resultsDir: results,
        slurm,
        sweep,
        followUp: { args: ['status'], name: 'figures' },
        maxArraySize: 4,
      });
      assert.deepEqual(
        sub.arrays.map((a) => a.runs.length),
        [4, 2],
      );
      assert.deepEqual(
        sub.arrays.flatMap((a) => a.runs).sort(),
        configs.map((c) => path.relative(results, experiments.runDir(results, c))).sort(),
      );
      const show = (job: string) =>
        spawnSync('scontrol', ['show', 'job', '-o', job], { env: cluster.env, encoding: 'utf8' }).stdout;
      const dependency = /Dependency=(\S+)/.exec(show(sub.followUp!.job))?.[1] ?? '';
      for (const a of sub.arrays) assert.match(dependency, new RegExp(`afterok:${a.job}_\\*`));
      // Every task is queued: the same runs again submit nothing, and name the tasks that hold them.
      const again = experiments.submitRuns(configs, { resultsDir: results, slurm, sweep, maxArraySize: 4 });
      assert.deepEqual(again.arrays, []);
      assert.deepEqual(
        again.skipped.inFlight.map((r) => r.job).sort(),
        [
          ...['0', '1', '2', '3'].map((i) => `${sub.arrays[0].job}_${i}`),
          ...['0', '1'].map((i) => `${sub.arrays[1].job}_${i}`),
        ].sort(),
      );
    } finally {
      process.env.SLURM_CONF = env;
      if (env === undefined) delete process.env.SLURM_CONF;
      await cluster.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);

test(
  'ncl compare and ncl start through SLURM: a method file trains on the node, the comparison job writes the figure the local compare writes',
  { skip: why ?? false, timeout: 600_000 },
  () =>
    withCluster('ncl-slurm-compare-', async ({ tmp, env }) => {
      const ncl = (args: string[]) => {
        const r = nclSync(args, { env });
        return { status: r.status, out: r.stdout, err: r.stderr };
      };
      const cmp = ['compare', 'methods/focal.ts', '--against', 'bsce', '--protocol', 'smoke', '--seeds', '1'];
      const slurm = ['--executor', 'slurm', '--wait', '--poll', '0.5', '--no-png'];
      const local = ncl([...cmp, '--root', path.join(tmp, 'local'), '--no-png']);
      assert.equal(local.status, 0, local.err);
      const root = path.join(tmp, 'cluster');
      const onCluster = ncl([...cmp, '--root', root, ...slurm]);
      assert.equal(onCluster.status, 0, onCluster.out + onCluster.err);
      assert.match(onCluster.out, /submitted 2 run\(s\) to SLURM: job array \d+ \(2 task\(s\)\)/);
      assert.match(onCluster.out, /^compare: job \d+, once every run has finished$/m);
      // The method file was loaded on the node: its run's log is the task's `ncl train`, and the run is focal's.
      const focal = train.getProtocol('smoke', 'focal', 0);
      const dir = experiments.runDir(root, focal);
      assert.ok(train.readMetrics(dir), `no finished focal run in ${dir}`);
      assert.match(fs.readFileSync(`${dir}.log`, 'utf8'), /== .* exit 0$/m);
      // The comparison job wrote the figure the local compare wrote, number for number.
      const json = (r: string) => fs.readFileSync(path.join(r, 'runs', 'compare-focal-smoke.json'), 'utf8');
      assert.equal(json(root), json(path.join(tmp, 'local')));
      // npm start's comparison: the job keeps its id, title and files.
      const start = ncl([
        'start',
        '--protocol',
        'smoke',
        '--seeds',
        '1',
        '--root',
        root,
        ...slurm.slice(0, -1),
      ]);
      assert.equal(start.status, 0, start.out + start.err);
      assert.match(start.out, /submitted 2 run\(s\) to SLURM/); // BSCE's run is the one compare trained
      const figure = JSON.parse(fs.readFileSync(path.join(root, 'runs', 'start-smoke.json'), 'utf8')) as {
        id: string;
        title: string;
        runs: string[];
      };
      assert.equal(figure.id, 'start');
      assert.equal(figure.title, 'NCL++ vs CE, BSCE');
      assert.equal(figure.runs.length, 3);
    }),
);
