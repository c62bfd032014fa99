/**
 * The `--executor local|slurm` flags shared by the commands that train sweeps (`ncl reproduce`, `ncl compare`,
 * `ncl start`), and the SLURM settings they pass through, validated by `SlurmOptions` (experiments/slurm.ts) with
 * errors naming the flag.
 */
import { Command, Option } from 'commander';
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

/** The executor and SLURM settings of parsed flags; a UsageError naming the flag for a bad value. */
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
  return { executor, wait: Boolean(f.wait), slurm: input };
}
