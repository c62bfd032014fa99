/**
 * `ncl status`: where the runs of a sweep stand, read from their folders and from `squeue`: finished (metrics.json),
 * running (the folder's lock: host, SLURM job, and the epoch its checkpoint holds), queued (a task of a recorded
 * submission in `squeue`), failed (its log, `<run folder>.log`, ends with a non-zero exit: the reason is the last
 * `ncl:` line of that attempt), stopped (a checkpoint, nobody on it) or not started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkpointState } from '../train/checkpoint';
import { lockHolder, lockOwner } from '../train/lock';
import { readMetrics } from '../train/resume';
import { queuedRuns, submissions, type QueueEntry } from './slurm';

export type RunStateName = 'finished' | 'running' | 'queued' | 'failed' | 'stopped' | 'not started';

export interface RunStatus {
  /** The run folder, relative to the results folder. */
  run: string;
  state: RunStateName;
  /** running: the host (lock) or node (squeue); the SLURM job or task. */
  host?: string;
  job?: string;
  /** Epochs its checkpoint holds, of all its epochs (running, stopped, failed). */
  epoch?: number;
  epochs?: number;
  /** failed: one line from its log; queued: SLURM's reason. */
  reason?: string;
  /** Its log, when it has one (`<run folder>.log`). */
  log?: string;
}

/** How the last attempt in a task log ended: its exit status and the last `ncl:` line (null while it runs). */
export function lastAttempt(logFile: string): { exit: number | null; reason: string | null } | null {
  if (!fs.existsSync(logFile)) return null;
  const lines = fs.readFileSync(logFile, 'utf8').split('\n');
  const start = lines.map((l) => l.startsWith('== ') && / job \S+ \(id /.test(l)).lastIndexOf(true);
  const attempt = lines.slice(Math.max(0, start));
  const exit = attempt
    .map((l) => /^== \S+ exit (\d+)$/.exec(l)?.[1])
    .filter(Boolean)
    .pop();
  const said = attempt.filter((l) => /^ncl: /.test(l)).pop();
  return {
    exit: exit == null ? null : Number(exit),
    reason: said ? said.replace(/^ncl: (error: )?/, '') : null,
  };
}

function checkpointEpochs(dir: string): { epoch: number; epochs?: number } | null {
  const file = path.join(dir, 'checkpoint.bin');
  if (!fs.existsSync(file)) return null;
  try {
    const s = checkpointState<{ nextEpoch: number; totalEpochs?: number }>(file);
    return { epoch: s.nextEpoch, epochs: s.totalEpochs };
  } catch {
    return null;
  }
}

/** The state of each run folder of `runs` (relative to `resultsDir`); `q`: the queue (null: SLURM not asked). */
export function runStatuses(resultsDir: string, runs: string[], q: QueueEntry[] | null): RunStatus[] {
  const queued = q ? queuedRuns(resultsDir, q) : new Map<string, QueueEntry>();
  return runs.map((run): RunStatus => {
    const dir = path.join(resultsDir, run);
    const log = fs.existsSync(`${dir}.log`) ? `${dir}.log` : undefined;
    const where = { ...(log ? { log } : {}), ...(checkpointEpochs(dir) ?? {}) };
    let metrics = null;
    try {
      metrics = readMetrics(dir);
    } catch {
      /* unreadable: not finished */
    }
    if (metrics && run.endsWith(`-${metrics.configHash}`)) return { run, state: 'finished' };
    const entry = queued.get(run);
    if (lockHolder(dir)) {
      const owner = lockOwner(dir);
      return {
        run,
        state: 'running',
        host: owner?.host,
        job: entry?.id ?? owner?.job,
        ...where,
      };
    }
    if (entry && entry.state === 'RUNNING')
      return { run, state: 'running', host: entry.nodes, job: entry.id, ...where };
    if (entry)
      return { run, state: 'queued', job: entry.id, reason: `${entry.state}, ${entry.reason}`, ...where };
    const last = log ? lastAttempt(log) : null;
    if (last && last.exit !== 0)
      return {
        run,
        state: 'failed',
        reason:
          last.reason ??
          (last.exit == null
            ? 'ended without an exit status (killed, or its node failed)'
            : `exit ${last.exit}`),
        ...where,
      };
    return { run, state: where.epoch ? 'stopped' : 'not started', ...where };
  });
}

export interface GroupStatus {
  id: string;
  runs: RunStatus[];
  counts: Record<RunStateName, number>;
}

/** The state of each group's runs (a figure, a comparison), counted. */
export function sweepStatus(
  resultsDir: string,
  groups: { id: string; runs: string[] }[],
  q: QueueEntry[] | null,
): GroupStatus[] {
  const all = [...new Set(groups.flatMap((g) => g.runs))];
  const byRun = new Map(runStatuses(resultsDir, all, q).map((s) => [s.run, s]));
  return groups.map((g) => {
    const runs = g.runs.map((r) => byRun.get(r)!);
    const counts = { finished: 0, running: 0, queued: 0, failed: 0, stopped: 0, 'not started': 0 };
    for (const r of runs) counts[r.state]++;
    return { id: g.id, runs, counts };
  });
}

/** The groups of the sweeps submitted to SLURM from `resultsDir` (each group once, with every run it had). */
export function submittedGroups(resultsDir: string): { id: string; runs: string[] }[] {
  const groups = new Map<string, Set<string>>();
  for (const s of submissions(resultsDir))
    for (const g of s.sweep.groups) {
      const runs = groups.get(g.id) ?? new Set<string>();
      g.runs.forEach((r) => runs.add(r));
      groups.set(g.id, runs);
    }
  return [...groups].map(([id, runs]) => ({ id, runs: [...runs] }));
}

/** The status as text: a line per group, then a line per run that is not finished or not started. */
export function formatStatus(groups: GroupStatus[], resultsDir: string): string {
  const rel = (f: string) => path.relative(process.cwd(), f) || '.';
  const epochOf = (r: RunStatus) =>
    r.epoch != null ? `epoch ${r.epoch}${r.epochs ? `/${r.epochs}` : ''}` : '';
  const lines: string[] = [];
  for (const g of groups) {
    const c = g.counts;
    lines.push(
      `${g.id}: ${g.runs.length} runs: ${c.finished} finished, ${c.running} running, ${c.queued} queued, ` +
        `${c.failed} failed` +
        (c.stopped ? `, ${c.stopped} stopped` : '') +
        (c['not started'] ? `, ${c['not started']} not started` : ''),
    );
  }
  const shown = new Set<string>();
  for (const r of groups.flatMap((g) => g.runs)) {
    if (shown.has(r.run) || r.state === 'finished' || r.state === 'not started') continue;
    shown.add(r.run);
    const detail =
      r.state === 'running'
        ? `on ${r.host ?? '?'}${r.job ? ` (job ${r.job})` : ''}${epochOf(r) ? `, ${epochOf(r)} done` : ''}`
        : r.state === 'queued'
          ? `job ${r.job} (${r.reason})`
          : r.state === 'failed'
            ? `${r.reason}${r.log ? ` (log: ${rel(r.log)})` : ''}`
            : `checkpoint after ${epochOf(r)}; continues when run again`;
    lines.push(`  ${r.state.padEnd(8)} ${r.run}  ${detail}`);
  }
  if (!groups.length) lines.push(`no runs to report under ${rel(resultsDir)}`);
  return lines.join('\n');
}
