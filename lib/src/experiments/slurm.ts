/**
 * The SLURM executor: the runs a sweep is missing go to the cluster as one job array (`sbatch --array`), one task per
 * run key, each `ncl train` on that run's config into its folder under the shared results folder (resumed from its
 * checkpoint, requeueable), then a follow-up job (e.g. building the figures) that starts when every task succeeded
 * (`--dependency=afterok`, cancelled when one fails). Runs that learn from teacher runs go in a second array that
 * waits for the first. `submitRuns` prints nothing and returns the job ids; `followSubmission` polls `squeue` (not
 * `sbatch --wait`, which returns up to ~30 s late on arrays) until the follow-up job has ended.
 *
 * What a submission leaves in `<results>/slurm/<stamp>/`: `submission.json` (jobs, run folders, what it was for),
 * the task scripts and their run lists, the configs, and each job's SLURM output. Each task appends its own output
 * to `<run folder>.log`, beside the run folder, with one header line per attempt and an `== exit N` line at the end.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { TrainConfig, configHash } from '../train/config';
import { lockHolder, lockOwner } from '../train/lock';
import { makeFolder, writing } from '../train/folders';
import { workspaceRoot } from '../data/locate';
import { isFinished, runDir } from './runs';

/** A SLURM time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS. */
const SLURM_TIME = /^(\d+-\d{1,2}(:\d{1,2}){0,2}|\d+(:\d{1,2}){0,2})$/;

/** The cluster's settings of a submission, validated once; every default is written here. */
export const SlurmOptions = z
  .object({
    /** `--partition` (default: the cluster's default partition). */
    partition: z
      .string()
      .regex(/^[\w.,-]+$/, 'a partition name')
      .optional(),
    /** `--time` of each task (default: the partition's); runs longer than that continue in a requeued task. */
    time: z.string().regex(SLURM_TIME, 'a SLURM time (minutes, HH:MM:SS or D-HH:MM)').optional(),
    /** `--mem` of each task, e.g. 4G (default: the partition's). */
    mem: z
      .string()
      .regex(/^\d+[KMGT]?$/i, 'a size such as 4G')
      .optional(),
    /** `--cpus-per-task`. */
    cpusPerTask: z.number().int().min(1).max(4096).default(1),
    /** One GPU per task (`--gres=gpu:1`), trained on the webgpu backend. */
    gpu: z.boolean().default(false),
    /** At most this many tasks of the array at once (`--array=…%N`; default: as many as the cluster gives). */
    maxRunning: z.number().int().min(1).optional(),
    /** More `sbatch` arguments, as given (e.g. `--account=lab`, `--qos=low`). */
    sbatchArgs: z.array(z.string()).default([]),
    /** The Node.js the tasks run (a path on the nodes; default: the one running this). */
    node: z.string().min(1).optional(),
    /** Job name of the tasks (the follow-up job adds `-<its name>`). */
    jobName: z
      .string()
      .regex(/^[\w.-]+$/, 'letters, digits, . _ -')
      .default('ncl'),
    /** How often `--wait` asks `squeue` (seconds). */
    pollSeconds: z.number().min(0.1).max(3600).default(15),
  })
  .strict();
export type SlurmOptions = z.infer<typeof SlurmOptions>;
export type SlurmOptionsInput = z.input<typeof SlurmOptions>;

/** What a sweep is, recorded with its submission for `ncl status`: its groups (e.g. figures) and their runs. */
export interface SweepLabel {
  /** The command that made it, e.g. `ncl reproduce fig8 --protocol smoke --seeds 2`. */
  command: string;
  groups: { id: string; runs: string[] }[];
  /** For `ncl status`: the figures, protocol and seeds of a `reproduce` sweep. */
  reproduce?: { ids: string[]; protocol: string; seeds: number };
}

export interface Submission {
  /** `<results>/slurm/<stamp>`: scripts, configs, record, SLURM output. */
  dir: string;
  resultsDir: string;
  /** One array per wave (runs that learn from teachers wait for the wave that trains them): job id, run folders. */
  arrays: { job: string; runs: string[] }[];
  /** The job that runs once every task succeeded (and the runs that other jobs were already training). */
  followUp: { job: string; name: string; log: string } | null;
  /** Runs not submitted: finished, or already training or queued (with the job that holds them). */
  skipped: { finished: string[]; inFlight: { run: string; job: string }[] };
  sweep: SweepLabel;
  submitted: string;
}

/** Runs a SLURM command; its output, or an Error whose message is the command's own first error line. */
function slurm(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT')
      throw new Error(`${cmd} not found: SLURM's commands are needed on this machine`);
    const line = (err.stderr ?? '').trim().split('\n').pop() || err.message.split('\n')[0];
    throw new Error(`${cmd} ${args.join(' ')}: ${line}`);
  }
}

/** Whether SLURM's commands are on this machine's PATH. */
export function slurmAvailable(): boolean {
  try {
    execFileSync('squeue', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** One line of `squeue`: an array task (`12_3`) or a job (`13`), its state, node(s) and reason. */
export interface QueueEntry {
  id: string;
  state: string;
  nodes: string;
  reason: string;
}

/** This user's jobs in the queue, array tasks one per line. */
export function queue(): QueueEntry[] {
  const out = slurm('squeue', ['--me', '-h', '--array', '-o', '%i|%T|%N|%r']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, state, nodes, reason] = l.split('|');
      return { id, state, nodes, reason };
    });
}

/** The submissions recorded under a results folder, oldest first. */
export function submissions(resultsDir: string): Submission[] {
  const root = path.join(resultsDir, 'slurm');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .sort()
    .map((d) => path.join(root, d, 'submission.json'))
    .filter((f) => fs.existsSync(f))
    .map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as Submission);
}

/**
 * The runs (relative folder → task or job id) that recorded submissions have in the queue (pending, running,
 * requeued), from `squeue`; `q` is the queue to read (default: asked now).
 */
export function queuedRuns(resultsDir: string, q: QueueEntry[] = queue()): Map<string, QueueEntry> {
  const byId = new Map(q.map((e) => [e.id, e]));
  const out = new Map<string, QueueEntry>();
  for (const s of submissions(resultsDir))
    for (const a of s.arrays)
      a.runs.forEach((run, i) => {
        const e = byId.get(`${a.job}_${i}`);
        if (e) out.set(run, e);
      });
  return out;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The command line that runs `ncl` on the nodes: this Node.js (or `node`) with this process's loader flags. */
export function nclCommand(node = process.execPath): string[] {
  const ext = path.extname(__filename); // .ts under tsx, .js when compiled
  return [node, ...process.execArgv, path.join(__dirname, '..', 'cli', `main${ext}`)];
}

/** Minutes of a SLURM time limit. */
export function slurmMinutes(t: string): number {
  const [days, rest] = t.includes('-') ? t.split('-') : ['0', t];
  const parts = rest.split(':').map(Number);
  let min: number;
  if (t.includes('-')) min = (parts[0] ?? 0) * 60 + (parts[1] ?? 0) + (parts[2] ?? 0) / 60;
  else if (parts.length === 1) min = parts[0];
  else if (parts.length === 2) min = parts[0] + parts[1] / 60;
  else min = parts[0] * 60 + parts[1] + parts[2] / 60;
  return Number(days) * 1440 + min;
}

/** The script of one wave's array tasks: see the file comment. */
function taskScript(o: {
  list: string;
  resultsDir: string;
  ncl: string[];
  timeLimit: number | null;
  gpu: boolean;
}): string {
  const train = [
    ...o.ncl.map(quote),
    'train --config "$config" --out "$run" --resume --results',
    quote(o.resultsDir),
    ...(o.timeLimit ? [`--time-limit ${o.timeLimit}`] : []),
    ...(o.gpu ? ['--backend webgpu'] : []),
  ].join(' ');
  return `#!/bin/bash
# One run of an ncl sweep per array task: \`ncl train\` on the run's config into its folder under the results
# (resumed from its checkpoint), its output appended to <run folder>.log. A task that stops at its time limit
# (--time-limit, before SLURM's) requeues itself to continue from its checkpoint.
set -u
line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${quote(o.list)})
dir=\${line%% *}
config=\${line#* }
run=${quote(o.resultsDir)}/$dir
log=$run.log
task=\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}
mkdir -p "$(dirname "$log")"
echo "== $(date -u +%FT%TZ) job $task (id $SLURM_JOB_ID) on $(hostname), restart \${SLURM_RESTART_COUNT:-0}" >>"$log"
${train} >>"$log" 2>&1 &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT
wait $child
rc=$?
while kill -0 $child 2>/dev/null; do
  wait $child
  rc=$?
done
if [ $rc -eq 0 ] && [ ! -f "$run/metrics.json" ]; then
  echo "== $(date -u +%FT%TZ) time limit: requeued, continues from the checkpoint" >>"$log"
  scontrol requeue "$task"
  exit 0
fi
echo "== $(date -u +%FT%TZ) exit $rc" >>"$log"
exit $rc
`;
}

/**
 * Submit the runs of `configs` that are neither finished nor already training or queued under `o.resultsDir` as job
 * arrays, and `o.followUp` (the arguments of an `ncl` command) as a job that runs once they (and the runs other jobs
 * hold) have all succeeded. Returns the submission (also recorded in its folder); submits nothing when nothing is
 * missing (then `followUp` is null: the caller runs it itself).
 */
export function submitRuns(
  configs: TrainConfig[],
  o: {
    resultsDir: string;
    slurm?: SlurmOptionsInput;
    sweep: SweepLabel;
    followUp?: { args: string[]; name: string };
  },
): Submission {
  const opts = SlurmOptions.parse(o.slurm ?? {});
  const resultsDir = path.resolve(o.resultsDir);
  const unique = new Map<string, TrainConfig>();
  for (const c of configs) unique.set(configHash(c), c);
  const rel = (c: TrainConfig) => path.relative(resultsDir, runDir(resultsDir, c));
  const q = queue();
  const queued = queuedRuns(resultsDir, q);
  const finished: string[] = [];
  const inFlight: { run: string; job: string }[] = [];
  const todo: TrainConfig[] = [];
  for (const c of unique.values()) {
    const run = rel(c);
    if (isFinished(resultsDir, c)) finished.push(run);
    else if (queued.has(run)) inFlight.push({ run, job: queued.get(run)!.id });
    else if (lockHolder(runDir(resultsDir, c))) {
      const owner = lockOwner(runDir(resultsDir, c));
      inFlight.push({ run, job: owner?.job ?? `process ${owner?.pid} on ${owner?.host}` });
    } else todo.push(c);
  }
  // Waves: a run waits for the wave that trains its teachers.
  const waveOf = new Map<string, number>();
  const wave = (c: TrainConfig): number => {
    const h = configHash(c);
    if (waveOf.has(h)) return waveOf.get(h)!;
    const teachers = todo.filter((t) => c.loss.teachers.includes(rel(t)));
    const w = teachers.length ? 1 + Math.max(...teachers.map(wave)) : 0;
    waveOf.set(h, w);
    return w;
  };
  const waves: TrainConfig[][] = [];
  for (const c of todo) (waves[wave(c)] ??= []).push(c);

  const stamp = `${new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${process.pid}`;
  const dir = path.join(resultsDir, 'slurm', stamp);
  const sub: Submission = {
    dir,
    resultsDir,
    arrays: [],
    followUp: null,
    skipped: { finished, inFlight },
    sweep: o.sweep,
    submitted: new Date().toISOString(),
  };
  if (!todo.length && !inFlight.length) return sub;
  makeFolder(path.join(dir, 'configs'));
  const ncl = nclCommand(opts.node);
  const cwd = workspaceRoot() ?? process.cwd();
  const common = [
    '--parsable',
    `--chdir=${cwd}`,
    ...(opts.partition ? [`--partition=${opts.partition}`] : []),
    ...(opts.time ? [`--time=${opts.time}`] : []),
    ...(opts.mem ? [`--mem=${opts.mem}`] : []),
    ...opts.sbatchArgs,
  ];
  const submitted: string[] = [];
  const sbatch = (args: string[]) => {
    const id = slurm('sbatch', args).trim().split(';')[0];
    submitted.push(id);
    return id;
  };
  try {
    let previous: string | null = null;
    waves.forEach((runs, w) => {
      const list = path.join(dir, `runs-${w}.txt`);
      const lines = runs.map((c, i) => {
        const cfg = path.join(dir, 'configs', `${w}-${i}.json`);
        writing(cfg, () => fs.writeFileSync(cfg, JSON.stringify(c, null, 2) + '\n'));
        return `${rel(c)} ${cfg}`;
      });
      writing(list, () => fs.writeFileSync(list, lines.join('\n') + '\n'));
      const script = path.join(dir, `task-${w}.sh`);
      const text = taskScript({
        list,
        resultsDir,
        ncl,
        // Stop in time to requeue: 5 % of the limit (at least 2 minutes) before SLURM would.
        timeLimit: opts.time
          ? Math.max(1, Math.floor(slurmMinutes(opts.time) - Math.max(2, 0.05 * slurmMinutes(opts.time))))
          : null,
        gpu: opts.gpu,
      });
      writing(script, () => fs.writeFileSync(script, text, { mode: 0o755 }));
      const job = sbatch([
        ...common,
        `--job-name=${opts.jobName}`,
        `--array=0-${runs.length - 1}${opts.maxRunning ? `%${opts.maxRunning}` : ''}`,
        '--requeue',
        `--cpus-per-task=${opts.cpusPerTask}`,
        ...(opts.gpu ? ['--gres=gpu:1'] : []),
        `--output=${path.join(dir, 'task-%A_%a.out')}`,
        ...(previous ? [`--dependency=afterok:${previous}`, '--kill-on-invalid-dep=yes'] : []),
        script,
      ]);
      sub.arrays.push({ job, runs: runs.map(rel) });
      previous = job;
    });
    if (o.followUp) {
      const after = [
        ...sub.arrays.map((a) => a.job),
        ...inFlight.map((r) => r.job).filter((j) => /^\d+(_\d+)?$/.test(j)),
      ];
      const script = path.join(dir, `${o.followUp.name}.sh`);
      const log = path.join(dir, `${o.followUp.name}-%j.log`);
      writing(script, () =>
        fs.writeFileSync(
          script,
          `#!/bin/bash\n# Runs once every run of the sweep is finished (afterok on its tasks).\nexec ${[...ncl, ...o.followUp!.args].map(quote).join(' ')}\n`,
          { mode: 0o755 },
        ),
      );
      const job = sbatch([
        ...common,
        `--job-name=${opts.jobName}-${o.followUp.name}`,
        `--cpus-per-task=${opts.cpusPerTask}`,
        `--output=${log}`,
        ...(after.length ? [`--dependency=afterok:${after.join(':')}`, '--kill-on-invalid-dep=yes'] : []),
        script,
      ]);
      sub.followUp = { job, name: o.followUp.name, log: log.replace('%j', job) };
    }
  } catch (e) {
    // Nothing half-submitted: cancel what this call submitted before the failure.
    if (submitted.length) {
      try {
        slurm('scancel', submitted);
      } catch {
        /* reported below with the first error */
      }
    }
    throw e;
  }
  const record = path.join(dir, 'submission.json');
  writing(record, () => fs.writeFileSync(record, JSON.stringify(sub, null, 1) + '\n'));
  return sub;
}

/** The state of a job from `scontrol show job` (e.g. COMPLETED, FAILED, CANCELLED), or null once SLURM forgot it. */
export function jobState(job: string): { state: string; reason: string } | null {
  try {
    const out = slurm('scontrol', ['show', 'job', '-o', job]);
    const state = /JobState=(\S+)/.exec(out)?.[1];
    return state ? { state, reason: /Reason=(\S+)/.exec(out)?.[1] ?? 'None' } : null;
  } catch {
    return null;
  }
}

/** `squeue`, asynchronously (for `followSubmission`, which must not block the process while it waits). */
function queueAsync(): Promise<QueueEntry[]> {
  return new Promise((resolve, reject) =>
    execFile(
      'squeue',
      ['--me', '-h', '--array', '-o', '%i|%T|%N|%r'],
      { timeout: 120_000 },
      (err, out, errOut) => {
        if (err) reject(new Error(`squeue: ${String(errOut).trim().split('\n').pop() || err.message}`));
        else
          resolve(
            out
              .split('\n')
              .filter(Boolean)
              .map((l) => {
                const [id, state, nodes, reason] = l.split('|');
                return { id, state, nodes, reason };
              }),
          );
      },
    ),
  );
}

export interface FollowProgress {
  finished: number;
  total: number;
  running: number;
  pending: number;
}

/**
 * Wait for a submission: poll `squeue` every `pollSeconds` and report the runs finished (of `configs`), running and
 * pending, until the follow-up job has left the queue. Resolves with its final state ('COMPLETED' when it
 * succeeded); `signal` stops the waiting (not the jobs).
 */
export async function followSubmission(
  sub: Submission,
  configs: TrainConfig[],
  o: {
    pollSeconds?: number;
    onProgress?: (p: FollowProgress) => void;
    signal?: AbortSignal;
  } = {},
): Promise<{ state: string; reason: string }> {
  const ids = new Set(sub.arrays.map((a) => a.job));
  const poll = 1000 * (o.pollSeconds ?? SlurmOptions.shape.pollSeconds.parse(undefined));
  for (;;) {
    const q = await queueAsync();
    const mine = q.filter((e) => ids.has(e.id.split('_')[0]));
    o.onProgress?.({
      finished: configs.filter((c) => isFinished(sub.resultsDir, c)).length,
      total: configs.length,
      running: mine.filter((e) => e.state === 'RUNNING' || e.state === 'COMPLETING').length,
      pending: mine.filter((e) => e.state === 'PENDING' || e.state === 'REQUEUED').length,
    });
    const follow = sub.followUp?.job;
    const inQueue = follow ? q.some((e) => e.id === follow) : mine.length > 0;
    if (!inQueue) {
      if (!follow) return { state: 'COMPLETED', reason: 'None' };
      return jobState(follow) ?? { state: 'UNKNOWN', reason: 'no longer known to SLURM' };
    }
    if (o.signal?.aborted) return { state: 'WATCHING_STOPPED', reason: 'None' };
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, poll);
      o.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
}
