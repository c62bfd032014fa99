/**
 * Runs as cached, content-addressed folders: a run's folder is `<root>/runs/<protocol>/<method>-<hash>`, where the
 * hash is of its full validated config. A finished run (metrics.json with that hash) is never trained again; an
 * interrupted one resumes from its checkpoint. The runner (runner.ts) trains the missing ones.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig, configHash } from '../train/config';
import { readMetrics } from '../train/resume';
import type { Metrics } from '../train/types';
import type { Analysis } from '../eval/analysis';
import { readAnalysis as readAnalysisFile } from './files';

export interface RunResult {
  dir: string;
  config: TrainConfig;
  metrics: Metrics;
  analysis: Analysis | null;
}

export function runDir(root: string, c: TrainConfig): string {
  return path.join(root, 'runs', c.protocol, `${c.method}-${configHash(c)}`);
}

/** The finished runs under `folder` (e.g. results/runs/mini): run folder name and metrics, in name order. */
export function finishedRuns(folder: string): { name: string; metrics: Metrics }[] {
  const out: { name: string; metrics: Metrics }[] = [];
  for (const name of fs.existsSync(folder) ? fs.readdirSync(folder).sort() : []) {
    const metrics = readMetrics(path.join(folder, name));
    if (metrics) out.push({ name, metrics });
  }
  return out;
}

/** The finished run of `c` under `root`, or null. */
export function loadRun(root: string, c: TrainConfig): RunResult | null {
  const dir = runDir(root, c);
  const metrics = readMetrics(dir);
  if (!metrics || metrics.configHash !== configHash(c)) return null;
  return { dir, config: c, metrics, analysis: readAnalysis(dir) };
}

/** Whether `c` has a finished run under `root`: `loadRun`'s test, without reading the run's analysis. */
export function isFinished(root: string, c: TrainConfig): boolean {
  return readMetrics(runDir(root, c))?.configHash === configHash(c);
}

/**
 * A run folder's analysis (eval/analysis.ts): analysis.json.gz or a plain analysis.json, schema-checked
 * (./files.ts); null when the run has none.
 */
export function readAnalysis(dir: string): Analysis | null {
  return readAnalysisFile(dir);
}
