/**
 * The decomposition study: where NCL++'s gain over BSCE comes from. Five arms, each adding one part of NCL++ to the
 * one before, trained on the same seeds (same long-tailed subset, batch order and expert-1 initial weights), so each
 * step is a paired comparison; read on expert 1, the network every arm has:
 *
 *   (A) BSCE, T = 1                          the balanced baseline (Eq. 2-3)
 *   (B) BSCE on T = 2 augmented copies       + the copies: 2× the forward/backward passes of A
 *   (C) NCL++ at λ = 0 (K = 2, T = 2)        + hard-category mining (NFL_hard, Eq. 7-10), no KL term
 *   (D) IntraCL only (K = 1, T = 2, λ = 0.6) + the KL term between copies (Eq. 11-13), one expert
 *   (E) NCL++ (K = 2, T = 2, λ = 0.6)        + InterCL between experts (Eq. 4-6): the full method
 *
 * and the compute-matched control of B: BSCE with T = 1 trained 2× the epochs (as many passes as B). Each arm runs at
 * the protocol's schedule and at 3× it, to see whether the answer depends on how long the networks train. At the
 * protocol's schedule, arms C and E are also read in the PyTorch twin (twin.ts: `nclpp-lambda0` and `nclpp`), so the
 * KL terms' effect is measured in two implementations.
 */
import * as path from 'node:path';
import type { Figure } from '../viz';
import { greater, judge, POINTS } from './claims';
import { withReplicates } from './compare';
import { pooledStat } from './replicates';
import {
  accuracy,
  configsOf,
  EXPERT1,
  runConfig,
  runsOf,
  type FigureContext,
  type FigureSpec,
  type RunSpec,
} from './spec';
import {
  diffOf,
  formatDiff,
  meanStd,
  percentRange,
  stat,
  verdictOfDiff,
  type Diff,
  type Stat,
} from './stats';
import type { RunResult } from './runs';
import { readTwinRun, twinFile } from './twin';

export interface Arm {
  key: 'A' | 'B' | 'C' | 'D' | 'E' | 'A2';
  label: string;
  run: RunSpec;
}

/** The arms, in the order each adds one part; `A2` is B's compute-matched control (not a step of the chain). */
export const DECOMPOSITION_ARMS: Arm[] = [
  { key: 'A', label: 'BSCE', run: { method: 'bsce' } },
  { key: 'B', label: 'BSCE, T = 2 copies', run: { method: 'bsce', protocolCopies: true } },
  { key: 'C', label: 'NCL++ λ = 0', run: { method: 'nclpp', loss: { lambda: 0 } } },
  { key: 'D', label: 'IntraCL only (K = 1)', run: { method: 'nclpp', experts: 1 } },
  { key: 'E', label: 'NCL++', run: { method: 'nclpp' } },
  { key: 'A2', label: 'BSCE, 2× epochs', run: { method: 'bsce', epochScale: 2 } },
];

/** The training lengths, as multiples of the protocol's epochs (mini: 20 and 60 epochs). */
export const DECOMPOSITION_SCALES = [1, 3];

/** An arm's run at `scale` × the protocol's epochs. */
export function armRun(arm: Arm, scale: number): RunSpec {
  const base = arm.run.epochScale ?? 1;
  return { ...arm.run, ...(base * scale !== 1 ? { epochScale: base * scale } : {}) };
}

/** A step of the chain: `to` − `from`, and what it adds. */
interface Step {
  to: Arm['key'];
  from: Arm['key'];
  adds: string;
}

/** The steps the study reports, each a paired difference of expert 1's top-1. */
export const DECOMPOSITION_STEPS: Step[] = [
  { to: 'B', from: 'A', adds: 'T = 2 augmented copies' },
  { to: 'B', from: 'A2', adds: 'copies rather than as many passes spent on more epochs (compute-matched)' },
  { to: 'C', from: 'B', adds: 'hard-category mining and a second expert, no KL term (λ = 0)' },
  { to: 'D', from: 'B', adds: 'hard-category mining and IntraCL, one expert' },
  { to: 'E', from: 'C', adds: 'both KL terms, IntraCL and InterCL (λ = 0.6)' },
  { to: 'E', from: 'D', adds: 'a second expert with InterCL' },
];

/** Expert 1's test top-1 after each evaluated epoch of a run (its learning curve; the last epoch is the final test). */
export function expert1Curve(r: RunResult): { epoch: number; top1: number }[] {
  const points = r.metrics.train.epochs
    .filter((e) => e.test)
    .map((e) => ({ epoch: e.epoch, top1: e.test!.experts?.[0] ?? e.test!.top1 }));
  return [...points, { epoch: r.config.optim.epochs, top1: r.metrics.test.experts[0].top1 }];
}

/** Mean ± std over the runs that recorded a curve, at each epoch all of them evaluated. */
function meanCurve(runs: RunResult[]): { epochs: number[]; mean: number[]; std: number[]; runs: number } {
  const curves = runs.filter((r) => r.metrics.train.epochs.some((e) => e.test)).map(expert1Curve);
  if (!curves.length) return { epochs: [], mean: [], std: [], runs: 0 };
  const epochs = curves[0]
    .map((p) => p.epoch)
    .filter((ep) => curves.every((c) => c.some((p) => p.epoch === ep)));
  const at = (ep: number) => curves.map((c) => c.find((p) => p.epoch === ep)!.top1);
  const mean = epochs.map((ep) => at(ep).reduce((a, b) => a + b, 0) / curves.length);
  const std = epochs.map((ep, i) => {
    const v = at(ep);
    return v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean[i]) ** 2, 0) / (v.length - 1)) : 0;
  });
  return { epochs, mean, std, runs: curves.length };
}

/** The runs of every arm at `scale`, for the seeds of `ctx`. */
function armRuns(ctx: FigureContext, scale: number): Map<Arm['key'], RunResult[]> {
  return new Map(DECOMPOSITION_ARMS.map((a) => [a.key, withReplicates(ctx, runsOf(ctx, armRun(a, scale)))]));
}

const armLabel = (k: Arm['key']) => DECOMPOSITION_ARMS.find((a) => a.key === k)!.label;
const epochsAt = (protocol: string, scale: number) =>
  runConfig(protocol, 0, armRun(DECOMPOSITION_ARMS[0], scale)).optim.epochs;

/** Whether the KL terms add accuracy beyond the copies, as one sentence of a measured interval. */
function klAnswer(d: Diff, epochs: number | null): string {
  const v = verdictOfDiff(d);
  const what =
    v === 'reproduced'
      ? 'add accuracy beyond the copies and mining'
      : v === 'not reproduced'
        ? 'cost accuracy against the copies and mining alone'
        : 'neither add nor cost accuracy measurably beyond the copies and mining';
  return (
    `${epochs === null ? '' : `at ${epochs} epochs `}the KL terms ${what}: NCL++ − NCL++ λ = 0 = ${formatDiff(d)} points on expert 1 ` +
    `(95 % interval, ${d.test === 'paired' ? `paired over ${d.n} seeds` : `Welch, ${d.n}+ runs`})`
  );
}

/** The twin's names of the arms it trains (twin.ts, TWIN_RUNS). */
const TWIN_ARMS: Partial<Record<Arm['key'], string>> = { C: 'nclpp-lambda0', E: 'nclpp' };

/**
 * The KL terms' effect in the PyTorch twin: E − C on expert 1, paired over the seeds both twin runs exist for (their
 * configs checked against ours); the seeds each arm's twin run is missing for, and the files that could not be used.
 */
function twinKL(ctx: FigureContext): {
  diff: Diff | null;
  seeds: number[];
  missing: Record<string, number[]>;
  problems: string[];
} {
  const missing: Record<string, number[]> = {};
  const problems: string[] = [];
  const top1 = (k: 'C' | 'E') => {
    const arm = DECOMPOSITION_ARMS.find((a) => a.key === k)!;
    const name = TWIN_ARMS[k]!;
    return new Map(
      ctx.seeds.flatMap((seed) => {
        const file = twinFile(ctx.resultsDir, name, seed);
        const t = readTwinRun(file, runConfig(ctx.protocol, seed, armRun(arm, 1)));
        if (!('problem' in t)) return [[seed, t.run.top1] as const];
        if (t.problem === 'missing') (missing[name] ??= []).push(seed);
        else problems.push(`${path.relative(ctx.resultsDir, file)}: ${t.problem}`);
        return [];
      }),
    );
  };
  const c = top1('C');
  const e = top1('E');
  const seeds = ctx.seeds.filter((s) => c.has(s) && e.has(s));
  const of = (m: Map<number, number>) =>
    stat(
      seeds.map((s) => m.get(s)!),
      seeds.map((s) => `seed ${s}`),
    );
  return { diff: seeds.length >= 2 ? diffOf(of(e), of(c), ctx.floor ?? 0) : null, seeds, missing, problems };
}

/** The twin's reading as a sentence, naming what is missing and the command that trains it. */
function twinSentence(t: ReturnType<typeof twinKL>): string {
  const names = Object.keys(t.missing);
  const seeds = [...new Set(names.flatMap((n) => t.missing[n]))].sort((a, b) => a - b);
  const missing = names.length
    ? ` Twin runs missing: ${names.map((n) => `${n} seed(s) ${t.missing[n].join(', ')}`).join('; ')} ` +
      `(\`bash scripts/torch/twin.sh "${seeds.join(' ')}" "${names.join(' ')}"\` trains them).`
    : '';
  const unusable = t.problems.length ? ` Not read: ${t.problems.join('; ')}.` : '';
  const reading = t.diff
    ? ` In the PyTorch twin (seeds ${t.seeds.join(', ')}): ${klAnswer(t.diff, null)}.`
    : ' In the PyTorch twin, arms C and E have no two seeds in common yet.';
  return reading + missing + unusable;
}

/**
 * The decomposition at `scales` × the protocol's epochs (one entry per training length; the longer entry also
 * reads the shorter one's runs, to say whether the answer moves with training length).
 */
function decompositionFigure(id: string, title: string, scale: number, compareWith?: number): FigureSpec {
  const specs = (s: number): RunSpec[] => DECOMPOSITION_ARMS.map((a) => armRun(a, s));
  return {
    id,
    title,
    runs: (protocol, seeds) =>
      configsOf(protocol, seeds, [...specs(scale), ...(compareWith !== undefined ? specs(compareWith) : [])]),
    build: (ctx) => {
      const runs = armRuns(ctx, scale);
      const stats: Record<string, Stat> = Object.fromEntries(
        DECOMPOSITION_ARMS.map((a) => [a.label, pooledStat(runs.get(a.key)!, (r) => accuracy(r, EXPERT1))]),
      );
      const epochs = epochsAt(ctx.protocol, scale);
      const steps = DECOMPOSITION_STEPS.map((s) => {
        const d = diffOf(stats[armLabel(s.to)], stats[armLabel(s.from)], ctx.floor ?? 0);
        return {
          ...s,
          toLabel: armLabel(s.to),
          fromLabel: armLabel(s.from),
          diff: d,
          verdict: verdictOfDiff(d),
        };
      });
      const kl = steps.find((s) => s.to === 'E' && s.from === 'C')!.diff;
      let lengthSentence = '';
      let shorter: { epochs: number; kl: Diff } | null = null;
      if (compareWith !== undefined) {
        const other = armRuns(ctx, compareWith);
        const st = (k: Arm['key']) => pooledStat(other.get(k)!, (r) => accuracy(r, EXPERT1));
        shorter = {
          epochs: epochsAt(ctx.protocol, compareWith),
          kl: diffOf(st('E'), st('C'), ctx.floor ?? 0),
        };
        const same = verdictOfDiff(shorter.kl) === verdictOfDiff(kl);
        lengthSentence =
          ` The answer ${same ? 'does not change' : 'changes'} with training length: ` +
          `${klAnswer(shorter.kl, shorter.epochs)}.`;
      }
      const twin = scale === 1 ? twinKL(ctx) : null;
      const j = judge(
        [greater('NCL++', 'NCL++ λ = 0'), greater('NCL++', 'BSCE, T = 2 copies')],
        stats,
        POINTS,
        { floor: ctx.floor },
      );
      const curves = DECOMPOSITION_ARMS.map((a) => ({ arm: a, ...meanCurve(runs.get(a.key)!) }));
      const figure = decompositionPlot(
        `Where NCL++'s gain comes from (${epochs} epochs, expert 1)`,
        DECOMPOSITION_ARMS.map((a) => ({ label: a.label, stat: stats[a.label] })),
        curves.filter((c) => c.runs > 0).map((c) => ({ name: `${c.arm.label} (${c.runs} runs)`, ...c })),
      );
      const stepLines = steps.map(
        (s) =>
          `| ${s.toLabel} − ${s.fromLabel} | ${s.adds} | ${formatDiff(s.diff)} | ${s.diff.n} (${s.diff.test}) | ${
            s.verdict === 'reproduced' ? 'gain' : s.verdict === 'not reproduced' ? 'loss' : 'not settled'
          } |`,
      );
      const table = [
        `| arm | what it trains | expert 1 top-1 (${epochs} ep) | runs |`,
        '|---|---|---|---|',
        ...DECOMPOSITION_ARMS.map(
          (a) => `| ${a.key} | ${a.label} | ${meanStd(stats[a.label])} | ${stats[a.label].values.length} |`,
        ),
        '',
        '| step | adds | difference (points, 95 % interval) | n | reading |',
        '|---|---|---|---|---|',
        ...stepLines,
      ].join('\n');
      return {
        figure,
        data: {
          epochs,
          arms: DECOMPOSITION_ARMS.map((a) => ({
            key: a.key,
            label: a.label,
            runs: runs.get(a.key)!.map((r) => r.dir.slice(r.dir.indexOf('runs/'))),
            keys: stats[a.label].keys,
            perSeed: stats[a.label].values,
            mean: stats[a.label].mean,
            std: stats[a.label].std,
          })),
          steps: steps.map((s) => ({
            step: `${s.to} − ${s.from}`,
            adds: s.adds,
            diff: { mean: s.diff.mean, lo: s.diff.lo, hi: s.diff.hi },
            n: s.diff.n,
            test: s.diff.test,
            verdict: s.verdict,
          })),
          curves: curves.map((c) => ({
            arm: c.arm.key,
            epochs: c.epochs,
            mean: c.mean,
            std: c.std,
            runs: c.runs,
          })),
          ...(shorter ? { shorter: { epochs: shorter.epochs, klDiff: shorter.kl } } : {}),
          ...(twin
            ? {
                twin: { klDiff: twin.diff, seeds: twin.seeds, missing: twin.missing, notRead: twin.problems },
              }
            : {}),
          floor: ctx.floor ?? 0,
          checks: j.checks,
        },
        table,
        claim:
          'Nested collaboration (the KL terms of InterCL and IntraCL) adds accuracy beyond balanced learning on the ' +
          'same augmented copies (Sec. 3; Table 7 adds the terms one by one).',
        measured:
          DECOMPOSITION_ARMS.map((a) => `${a.label} ${meanStd(stats[a.label])}`).join(', ') +
          `. Answer: ${klAnswer(kl, epochs)}.${lengthSentence}${twin ? twinSentence(twin) : ''}`,
        verdict: j.verdict,
        reading: j.reading,
      };
    },
  };
}

/** Bars of each arm (left) and expert 1's learning curves (right), in percent. */
function decompositionPlot(
  title: string,
  bars: { label: string; stat: Stat }[],
  curves: { name: string; epochs: number[]; mean: number[]; std: number[] }[],
): Figure {
  const errorBars = (std: number[]) => ({ type: 'data', array: std.map((s) => 100 * s), visible: true });
  return {
    data: [
      {
        type: 'bar',
        name: 'final top-1',
        x: bars.map((b) => b.label),
        y: bars.map((b) => 100 * b.stat.mean),
        error_y: errorBars(bars.map((b) => b.stat.std)),
        showlegend: false,
      },
      ...curves.map((c) => ({
        type: 'scatter',
        mode: 'lines+markers',
        name: c.name,
        x: c.epochs,
        y: c.mean.map((m) => 100 * m),
        error_y: errorBars(c.std),
        xaxis: 'x2',
        yaxis: 'y2',
      })),
    ],
    layout: {
      title: { text: title },
      xaxis: { domain: [0, 0.42], tickangle: -30 },
      yaxis: { title: { text: 'expert 1 top-1 (%)' }, range: percentRange(bars.map((b) => b.stat)) },
      xaxis2: { domain: [0.55, 1], title: { text: 'epoch' }, anchor: 'y2' },
      yaxis2: { anchor: 'x2', title: { text: 'expert 1 test top-1 (%)' } },
      legend: { orientation: 'h', y: -0.3 },
    },
  };
}

export const DECOMPOSITION_FIGURES: FigureSpec[] = [
  decompositionFigure('decomposition', "Decomposition: where NCL++'s gain over BSCE comes from", 1),
  decompositionFigure(
    'decomposition-long',
    "Decomposition at 3× the epochs: does NCL++'s gain depend on training length?",
    3,
    1,
  ),
];
