/**
 * The `--executor local|slurm` flags of the commands that train sweeps (`ncl reproduce`), and the SLURM settings they
 * pass through, validated by `SlurmOptions` (experiments/slurm.ts) with errors naming the flag. A cluster's settings
 * are written once in a JSON file of `SlurmOptions` (e.g. `{"partition": "cpu", "time": "4:00:00"}`): `slurm.json` at
 * the workspace root (git-ignored), or the file `NCL_SLURM_CONFIG` names; flags given override it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { workspaceRoot } from '../data/locate';
import { ZodError } from 'zod';
import { EXECUTORS, type ExecutorName } from '../experiments/executor';
import { SlurmOptions, type SlurmOptionsInput } from '../experiments/slurm';
import { intOption, UsageError } from './options';

/** Add the executor flags to `cmd`. */
export function addExecutorOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--executor <name>', 'where the runs train: here, or as SLURM jobs')
        .choices([...EXECUTORS])
        .default('local'),
    )
    .option(
      '--wait',
      'slurm: follow the jobs (a bar over finished runs) until they are done, instead of returning',
    )
    .option('--partition <name>', 'slurm: partition (sbatch --partition)')
    .option('--time <limit>', 'slurm: time limit per run (sbatch --time, e.g. 2:00:00); longer runs requeue')
    .option('--mem <size>', 'slurm: memory per run (sbatch --mem, e.g. 4G)')
    .option('--cpus-per-task <n>', 'slurm: CPUs per run (sbatch --cpus-per-task)')
    .option('--gpu', 'slurm: one GPU per run (--gres=gpu:1), trained on the webgpu backend')
    .option('--max-running <n>', 'slurm: at most this many runs at once (sbatch --array=…%N)')
    .option(
      '--sbatch <args>',
      "slurm: more sbatch arguments, space-separated (e.g. --sbatch='--account=lab')",
    )
    .option('--node <path>', 'slurm: the Node.js to run on the nodes (default: this one)')
    .option('--poll <seconds>', 'slurm --wait: how often to ask squeue');
}

const FLAG: Record<string, string> = {
  partition: 'partition',
  time: 'time',
  mem: 'mem',
  cpusPerTask: 'cpus-per-task',
  gpu: 'gpu',
  maxRunning: 'max-running',
  sbatchArgs: 'sbatch',
  node: 'node',
  pollSeconds: 'poll',
};

/** The file of a cluster's settings (see the file comment), or null when there is none. */
export function slurmDefaultsFile(): string | null {
  const named = process.env.NCL_SLURM_CONFIG;
  if (named) {
    if (!fs.existsSync(named)) throw new UsageError(`NCL_SLURM_CONFIG=${named}: no such file`);
    return named;
  }
  const root = workspaceRoot();
  const file = root ? path.join(root, 'slurm.json') : null;
  return file && fs.existsSync(file) ? file : null;
}

/** The settings in the cluster's file (validated: a UsageError naming the file and key), or none. */
function slurmDefaults(): SlurmOptionsInput {
  const file = slurmDefaultsFile();
  if (!file) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const parsed = SlurmOptions.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.join('.');
    throw new UsageError(`${file}: ${key ? `${key}: ` : ''}${issue.message}`);
  }
  return raw as SlurmOptionsInput;
}

/**
 * The executor and SLURM settings of parsed flags (over the cluster's file, for slurm); a UsageError naming the flag
 * for a bad value.
 */
export function executorFromFlags(f: Record<string, unknown>): {
  executor: ExecutorName;
  wait: boolean;
  slurm: SlurmOptionsInput;
} {
  const executor = (f.executor as ExecutorName | undefined) ?? 'local';
  const input: SlurmOptionsInput = {
    ...(f.partition !== undefined ? { partition: String(f.partition) } : {}),
    ...(f.time !== undefined ? { time: String(f.time) } : {}),
    ...(f.mem !== undefined ? { mem: String(f.mem) } : {}),
    ...(f.cpusPerTask !== undefined
      ? { cpusPerTask: intOption(String(f.cpusPerTask), 'cpus-per-task') }
      : {}),
    ...(f.gpu ? { gpu: true } : {}),
    ...(f.maxRunning !== undefined ? { maxRunning: intOption(String(f.maxRunning), 'max-running') } : {}),
    ...(f.sbatch !== undefined ? { sbatchArgs: String(f.sbatch).split(/\s+/).filter(Boolean) } : {}),
    ...(f.node !== undefined ? { node: String(f.node) } : {}),
    ...(f.poll !== undefined ? { pollSeconds: Number(f.poll) } : {}),
  };
  const given = Object.keys(input).map((k) => `--${FLAG[k]}`);
  if (executor !== 'slurm' && (given.length || f.wait))
    throw new UsageError(
      `${[...given, ...(f.wait ? ['--wait'] : [])].join(', ')}: only with --executor slurm`,
    );
  try {
    SlurmOptions.parse(input);
  } catch (e) {
    if (!(e instanceof ZodError)) throw e;
    const issue = e.issues[0];
    const key = String(issue.path[0] ?? '');
    throw new UsageError(`--${FLAG[key] ?? key}: ${issue.message}`);
  }
  return {
    executor,
    wait: Boolean(f.wait),
    slurm: executor === 'slurm' ? { ...slurmDefaults(), ...input } : input,
  };
}
