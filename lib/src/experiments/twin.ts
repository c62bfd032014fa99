/**
 * `twin`: our CE, BSCE and NCL++ runs beside a PyTorch twin's (scripts/torch/mini_run.py: its own data pipeline,
 * initialisation and RNG on the same long-tailed subsets), which scripts/torch/twin.sh writes to
 * `<results>/twin/<name>-seed<N>.json`. Our runs are Table 1's at IF 100 (the same configs, so the same cached
 * runs); the twin's are read, never trained here. A twin file that is missing, unreadable or of other settings is
 * named in the table and left out of the comparison. The twin also trains the decomposition's NCL++ at λ = 0
 * (`nclpp-lambda0`), so that the KL terms' effect is read in both implementations (decomposition.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getProtocol } from '../train/protocols';
import { configHash, canonicalJSON, TrainConfig } from '../train/config';
import { meanStdBarsFigure } from '../viz/stat-plots';
import { judge, within, type Check } from './claims';
import {
  analysisRun,
  configsOf,
  runConfig,
  accuracy,
  EXPERT1,
  ENSEMBLE,
  methodLabel,
  FigureSpec,
  Metric,
  runStat,
  type RunSpec,
} from './spec';
import { meanStd, percentRange, stat, Stat, type Verdict } from './stats';

/** The methods scripts/torch/mini_run.py implements. */
export const TWIN_METHODS = ['ce', 'bsce', 'nclpp'];
/** Ours and the twin agree when their means differ by at most this (a fraction: 0.5 points). */
export const TWIN_TOLERANCE = 0.005;
const TWIN_IF = 100;

/** One twin run, as mini_run.py writes it (accuracies are fractions; `top1` is expert 1's). */
export interface TwinRun {
  method: string;
  seed: number;
  epochs: number;
  top1: number;
  experts: number[];
  ensemble: number;
  seconds: number;
  config: unknown;
}

/**
 * The runs the twin trains, by the name of their files (`<name>-seed<N>.json`): Table 1's CE, BSCE and NCL++ at
 * IF 100, and NCL++ at λ = 0 (the decomposition's arm C; its arm E is Table 1's NCL++).
 */
export const TWIN_RUNS: Record<string, RunSpec> = {
  ...Object.fromEntries(TWIN_METHODS.map((m) => [m, analysisRun(m, TWIN_IF)])),
  'nclpp-lambda0': { method: 'nclpp', loss: { lambda: 0 } },
};

/** The config of the twin run `name` at `seed`: what scripts/torch/twin.sh hands mini_run.py. */
export function twinConfig(protocol: string, name: string, seed: number): TrainConfig {
  const spec = TWIN_RUNS[name];
  if (!spec) throw new Error(`twin: no run named '${name}' (${Object.keys(TWIN_RUNS).join(', ')})`);
  return runConfig(protocol, seed, spec);
}

export const twinFile = (resultsDir: string, name: string, seed: number) =>
  path.join(resultsDir, 'twin', `${name}-seed${seed}.json`);

/**
 * The twin run of (method, seed) if its file is there and trained what our run `ours` trains (the same config but
 * for the number of experts: CE and BSCE train one network there, two independent ones here, and expert 1 is
 * compared); else why not.
 */
export function readTwinRun(file: string, ours: TrainConfig): { run: TwinRun } | { problem: string } {
  if (!fs.existsSync(file)) return { problem: 'missing' };
  let r: TwinRun;
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8')) as TwinRun;
  } catch (e) {
    return { problem: `unreadable: ${(e as Error).message}` };
  }
  const fields = ['top1', 'ensemble', 'seconds', 'epochs', 'seed'] as const;
  const bad = fields.filter((k) => typeof r[k] !== 'number' || !Number.isFinite(r[k]));
  if (bad.length || !Array.isArray(r.experts) || typeof r.config !== 'object' || r.config === null)
    return { problem: `not a mini_run.py result (fields ${[...bad, 'experts', 'config'].join(', ')})` };
  if (r.method !== ours.method || r.seed !== ours.seed)
    return { problem: `holds ${r.method} seed ${r.seed}, not ${ours.method} seed ${ours.seed}` };
  let theirs: TrainConfig;
  try {
    const c = r.config as TrainConfig;
    theirs = TrainConfig.parse({ ...c, model: { ...c.model, numExperts: ours.model.numExperts } });
  } catch (e) {
    return { problem: `its config does not parse: ${(e as Error).message.split('\n')[0]}` };
  }
  if (configHash(theirs) !== configHash(ours)) {
    const sections = (['protocol', 'data', 'model', 'loss', 'optim', 'eval'] as const).filter(
      (k) => canonicalJSON(theirs[k]) !== canonicalJSON(ours[k]),
    );
    return { problem: `trained other settings (${sections.join(', ')} differ)` };
  }
  return { run: r };
}

interface TwinRow {
  method: string;
  metric: Metric;
  name: string;
  ours: Stat;
  twin: Stat | null;
  twinSeeds: number[];
  oursMinutes: number;
  twinMinutes: number | null;
}

export const TWIN: FigureSpec = {
  id: 'twin',
  title: 'PyTorch twin: CE, BSCE and NCL++ here vs in PyTorch (expert 1, and the ensemble where K > 1)',
  runs: (protocol, seeds) =>
    configsOf(
      protocol,
      seeds,
      TWIN_METHODS.map((m) => analysisRun(m, TWIN_IF)),
    ),
  build: (ctx) => {
    const problems: string[] = [];
    const rel = (f: string) => path.relative(ctx.resultsDir, f);
    const rows: TwinRow[] = TWIN_METHODS.flatMap((method) => {
      const configs = ctx.seeds.map((s) => runConfig(ctx.protocol, s, analysisRun(method, TWIN_IF)));
      const ours = configs.map((c) => ctx.get(c));
      const twins = configs.flatMap((c) => {
        const file = twinFile(ctx.resultsDir, method, c.seed);
        const t = readTwinRun(file, c);
        if ('problem' in t) {
          problems.push(`${rel(file)}: ${t.problem}`);
          return [];
        }
        return [t.run];
      });
      // The ensemble where the twin trains K > 1 experts too (the protocol's K for the method).
      const metrics =
        getProtocol(ctx.protocol, method).model.numExperts > 1 ? [EXPERT1, ENSEMBLE] : [EXPERT1];
      return metrics.map((metric) => {
        const ensemble = metric.predictor === 'ensemble';
        const minutes = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length / 60;
        return {
          method,
          metric,
          name: `${methodLabel(method)} (${ensemble ? 'ensemble' : 'expert 1'})`,
          ours: runStat(ours, (r) => accuracy(r, metric)),
          twin: twins.length ? stat(twins.map((t) => (ensemble ? t.ensemble : t.top1))) : null,
          twinSeeds: twins.map((t) => t.seed),
          oursMinutes: minutes(ours.map((r) => r.metrics.train.seconds)),
          twinMinutes: twins.length ? minutes(twins.map((t) => t.seconds)) : null,
        };
      });
    });
    const compared = rows.filter((r) => r.twin);
    const stats: Record<string, Stat> = Object.fromEntries(
      compared.flatMap((r) => [
        [`${r.name} here`, r.ours],
        [`${r.name} twin`, r.twin!],
      ]),
    );
    const checks: Check[] = compared.map((r) => within(`${r.name} here`, `${r.name} twin`, TWIN_TOLERANCE));
    const j = compared.length ? judge(checks, stats) : null;
    const rowVerdict = (r: TwinRow) =>
      !r.twin
        ? 'no twin runs'
        : Math.abs(r.ours.mean - r.twin.mean) <= TWIN_TOLERANCE
          ? `within ${100 * TWIN_TOLERANCE} points`
          : `not within ${100 * TWIN_TOLERANCE} points`;
    const diff = (r: TwinRow) => (r.twin ? (100 * (r.ours.mean - r.twin.mean)).toFixed(2) : '-');
    const seedsOf = (n: number[]) =>
      n.length === ctx.seeds.length ? '' : ` (seeds ${n.join(', ') || 'none'})`;
    const table = [
      '| method | here (ncl-lab) | PyTorch twin | difference (points) | verdict | minutes per run: here / twin |',
      '|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${meanStd(r.ours)} | ${r.twin ? meanStd(r.twin) + seedsOf(r.twinSeeds) : '-'} | ${diff(r)} | ${rowVerdict(r)} | ${r.oursMinutes.toFixed(0)} / ${r.twinMinutes == null ? '-' : r.twinMinutes.toFixed(0)} |`,
      ),
      '',
      `Here: ${ctx.protocol}, IF ${TWIN_IF}, mean ± std over seeds ${ctx.seeds.join(', ')} (Table 1's runs; CE and BSCE: expert 1 of two independent networks). ` +
        'Twin: scripts/torch/mini_run.py (PyTorch: its own data pipeline, initialisation and RNG; the same long-tailed subsets), ' +
        'written by `bash scripts/torch/twin.sh` to results/twin/.',
      ...(problems.length ? ['', `Not compared: ${problems.join('; ')}.`] : []),
    ].join('\n');
    // A twin run missing or unusable leaves the verdict open: the agreement of the others says nothing of it.
    const verdict: Verdict =
      !j || (problems.length && j.verdict === 'reproduced') ? 'inconclusive' : j.verdict;
    const missing = problems.filter((p) => p.endsWith(': missing')).map((p) => p.replace(/: missing$/, ''));
    const other = problems.filter((p) => !p.endsWith(': missing'));
    const reading = [
      j ? j.reading : 'No twin run to compare with yet (`bash scripts/torch/twin.sh` trains them).',
      ...(missing.length ? [`Twin runs missing: ${missing.join(', ')}.`] : []),
      ...(other.length ? [`Twin runs not compared: ${other.join('; ')}.`] : []),
    ].join(' ');
    return {
      figure: meanStdBarsFigure({
        title: `Top-1 (%) here and in the PyTorch twin (${ctx.protocol}, IF ${TWIN_IF})`,
        categories: rows.map((r) => r.name),
        series: [
          {
            name: 'here (ncl-lab)',
            mean: rows.map((r) => 100 * r.ours.mean),
            std: rows.map((r) => 100 * r.ours.std),
          },
          {
            name: 'PyTorch twin',
            mean: rows.map((r) => (r.twin ? 100 * r.twin.mean : NaN)),
            std: rows.map((r) => (r.twin ? 100 * r.twin.std : 0)),
          },
        ],
        yTitle: 'top-1 (%)',
        yRange: percentRange(rows.flatMap((r) => (r.twin ? [r.ours, r.twin] : [r.ours]))),
      }),
      data: {
        rows: rows.map((r) => ({
          ...r,
          difference: r.twin ? r.ours.mean - r.twin.mean : null,
          verdict: rowVerdict(r),
        })),
        tolerance: TWIN_TOLERANCE,
        notCompared: problems,
        checks: j?.checks ?? [],
      },
      table,
      claim: `ncl-lab and an independent PyTorch implementation of the same runs agree: each method's mean within ${100 * TWIN_TOLERANCE} points.`,
      measured: rows
        .map((r) => `${r.name}: here ${meanStd(r.ours)}, twin ${r.twin ? meanStd(r.twin) : 'not run'}`)
        .join('; '),
      verdict,
      reading,
    };
  },
};
