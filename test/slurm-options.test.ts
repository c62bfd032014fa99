// The SLURM settings of `ncl reproduce --executor slurm`: flags over the cluster's file (slurm.json or
// NCL_SLURM_CONFIG), each bad value one line naming the flag or the file and key; SLURM time limits in minutes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { executorFromFlags } from '../lib/src/cli/executor';
import { UsageError } from '../lib/src/cli/options';
import { slurmMinutes } from '../lib/src/experiments/slurm';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-slurm-options-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function withConfig<T>(json: string, fn: (file: string) => T): T {
  const file = path.join(tmp, `slurm-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, json);
  const before = process.env.NCL_SLURM_CONFIG;
  process.env.NCL_SLURM_CONFIG = file;
  try {
    return fn(file);
  } finally {
    if (before === undefined) delete process.env.NCL_SLURM_CONFIG;
    else process.env.NCL_SLURM_CONFIG = before;
  }
}

const usage = (message: string | RegExp) => (e: unknown) =>
  e instanceof UsageError && (typeof message === 'string' ? e.message === message : message.test(e.message));

test('the cluster file gives the defaults, flags override them; a local run ignores it', () => {
  withConfig(
    '{"partition": "cpu", "time": "4:00:00", "sbatchArgs": ["--account=lab"], "cpusPerTask": 2}',
    () => {
      assert.deepEqual(executorFromFlags({ executor: 'slurm', time: '1:00:00', cpusPerTask: '4' }).slurm, {
        partition: 'cpu',
        time: '1:00:00',
        sbatchArgs: ['--account=lab'],
        cpusPerTask: 4,
      });
      assert.deepEqual(
        executorFromFlags({ executor: 'slurm', gpu: true, sbatch: '--qos=low  --nice=10' }).slurm,
        {
          partition: 'cpu',
          time: '4:00:00',
          sbatchArgs: ['--qos=low', '--nice=10'],
          cpusPerTask: 2,
          gpu: true,
        },
      );
      assert.deepEqual(executorFromFlags({}), { executor: 'local', wait: false, slurm: {} });
    },
  );
});

test('a bad cluster file or flag is one line naming the file and key, or the flag', () => {
  withConfig('{"partition": "cpu", "cpusPerTask": 0}', (file) =>
    assert.throws(
      () => executorFromFlags({ executor: 'slurm' }),
      usage(new RegExp(`^${file}: cpusPerTask: `)),
    ),
  );
  withConfig('{"partion": "cpu"}', (file) =>
    assert.throws(() => executorFromFlags({ executor: 'slurm' }), usage(new RegExp(`^${file}: .*partion`))),
  );
  withConfig('{"partition": ', (file) =>
    assert.throws(
      () => executorFromFlags({ executor: 'slurm' }),
      usage(new RegExp(`^${file}: not valid JSON`)),
    ),
  );
  assert.throws(
    () => executorFromFlags({ executor: 'slurm', time: 'soon' }),
    usage('--time: a SLURM time (minutes, HH:MM:SS or D-HH:MM)'),
  );
  assert.throws(
    () => executorFromFlags({ executor: 'slurm', mem: '4 GB' }),
    usage('--mem: a size such as 4G'),
  );
  assert.throws(
    () => executorFromFlags({ executor: 'slurm', cpusPerTask: '0x10' }),
    usage(/^--cpus-per-task: /),
  );
  assert.throws(
    () => executorFromFlags({ executor: 'local', partition: 'cpu', wait: true }),
    usage('--partition, --wait: only with --executor slurm'),
  );
});

test('SLURM time limits in minutes, worked by hand', () => {
  assert.equal(slurmMinutes('90'), 90);
  assert.equal(slurmMinutes('10:30'), 10.5); // MM:SS
  assert.equal(slurmMinutes('1:30:00'), 90); // HH:MM:SS
  assert.equal(slurmMinutes('2-00'), 2 * 1440); // D-HH
  assert.equal(slurmMinutes('1-02:30'), 1440 + 2 * 60 + 30); // D-HH:MM
  assert.equal(slurmMinutes('0-00:00:30'), 0.5); // D-HH:MM:SS
});
