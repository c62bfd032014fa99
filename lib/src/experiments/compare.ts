/**
 * The common kind of figure: series of points, each point one run (a `RunSpec`) per seed, each read with the
 * series' metric; drawn as bars or lines; judged by the claim's comparisons between points. `comparisonFigure`
 * turns such a declaration into a `FigureSpec`.
 */
import { meanStdBarsFigure, meanStdLinesFigure } from '../viz/stat-plots';
import * as path from 'node:path';
import { Claim, judge, POINTS } from './claims';
import { pooledStat } from './replicates';
import type { RunResult } from './runs';
import {
  accuracy,
  configsOf,
  runsOf,
  FigureContext,
  FigureSpec,
  Metric,
  RunSpec,
  PREDICTOR_LABEL,
} from './spec';
import { meanStd, percentRange, Stat } from './stats';

export interface Point {
  /** Where it is plotted: a number on a line's x axis, or a category. */
  x: number | string;
  /** Its name in text and tables (e.g. "β = 0.3"). */
  label: string;
  run: RunSpec;
  /** Default: the series' metric. */
  metric?: Metric;
}

export interface Series {
  name: string;
  metric: Metric;
  points: Point[];
}

/** The name of a measured point: its label, prefixed by its series' name when the figure has several series. */
export const cellName = (series: string | null, label: string) => (series ? `${series}, ${label}` : label);

/** What a figure measured: each point's mean ± std over seeds, by `cellName`. */
export interface Measured {
  stats: Record<string, Stat>;
  /** The stat of `label` in `series` (the only series when omitted). */
  at(label: string, series?: string): Stat;
}

export interface ComparisonSpec {
  id: string;
  title: string;
  plot: { kind: 'bars' | 'lines'; title: string; xTitle?: string; yTitle?: string };
  series: Series[];
  claim: Claim;
  /** The series the measured line lists (default: all). */
  measuredSeries?: string[];
  /** Markdown table of the measured points (tables of the paper). */
  table?(m: Measured, ctx: FigureContext): string;
  /** What else the figure reports: more data for <id>.json and a sentence added to the measured line. */
  more?(m: Measured, ctx: FigureContext): { data?: Record<string, unknown>; measured?: string };
}

/** `runs` and every replicate the context has of their trainings (each run once). */
export function withReplicates(ctx: FigureContext, runs: RunResult[]): RunResult[] {
  const seen = new Map(runs.map((r) => [path.resolve(r.dir), r]));
  for (const r of runs)
    for (const rep of ctx.replicates?.(r.config) ?? [])
      if (!seen.has(path.resolve(rep.dir))) seen.set(path.resolve(rep.dir), rep);
  return [...seen.values()];
}

export function comparisonFigure(spec: ComparisonSpec): FigureSpec {
  const several = spec.series.length > 1;
  const name = (s: Series, p: Point) => cellName(several ? s.name : null, p.label);
  return {
    id: spec.id,
    title: spec.title,
    runs: (protocol, seeds) =>
      configsOf(
        protocol,
        seeds,
        spec.series.flatMap((s) => s.points.map((p) => p.run)),
      ),
    build: (ctx) => {
      const series = spec.series.map((s) => ({
        name: s.name,
        metric: s.metric,
        points: s.points.map((p) => {
          const metric = p.metric ?? s.metric;
          const own = runsOf(ctx, p.run);
          // A replicate pools only where it measured the same set (clean train accuracy is recorded by some runs).
          const runs = withReplicates(ctx, own).filter(
            (r) => own.includes(r) || metric.set !== 'train' || r.metrics.trainSet !== undefined,
          );
          const st = pooledStat(runs, (r) => accuracy(r, metric));
          return {
            x: p.x,
            label: p.label,
            name: name(s, p),
            runs: runs.map((r) => path.relative(ctx.resultsDir, r.dir)),
            seeds: st.keys!.map((k) => Number(k.split('|')[0])),
            perSeed: st.values,
            mean: st.mean,
            std: st.std,
            stat: st,
          };
        }),
      }));
      const stats: Record<string, Stat> = Object.fromEntries(
        series.flatMap((s) => s.points.map((p) => [p.name, p.stat])),
      );
      const measured: Measured = {
        stats,
        at: (label, s) => {
          const key = cellName(several ? (s ?? spec.series[0].name) : null, label);
          if (!stats[key]) throw new Error(`${spec.id}: no measured point '${key}'`);
          return stats[key];
        },
      };
      const judged = judge(spec.claim.checks, stats, POINTS, { floor: ctx.floor });
      const more = spec.more?.(measured, ctx) ?? {};
      const plotted = series.map((s) => ({
        name: s.name,
        mean: s.points.map((p) => 100 * p.mean),
        std: s.points.map((p) => 100 * p.std),
      }));
      const yTitle = spec.plot.yTitle ?? 'top-1 (%)';
      const figure =
        spec.plot.kind === 'bars'
          ? meanStdBarsFigure({
              title: spec.plot.title,
              categories: spec.series[0].points.map((p) => p.label),
              series: plotted,
              yTitle,
              yRange: percentRange(Object.values(stats)),
            })
          : meanStdLinesFigure({
              title: spec.plot.title,
              xTitle: spec.plot.xTitle ?? '',
              yTitle,
              xs: spec.series[0].points.map((p) => p.x),
              series: plotted,
            });
      const line = (s: (typeof series)[number]) =>
        s.points.map((p) => `${p.label} ${meanStd(p.stat)}`).join(', ');
      return {
        figure,
        data: {
          series: series.map((s) => ({
            name: s.name,
            metric: s.metric,
            metricLabel: PREDICTOR_LABEL[s.metric.predictor],
            points: s.points.map(({ stat: _s, name: _n, ...p }) => p),
          })),
          checks: judged.checks,
          ...more.data,
        },
        table: spec.table?.(measured, ctx),
        claim: spec.claim.text,
        measured:
          (several
            ? series
                .filter((s) => !spec.measuredSeries || spec.measuredSeries.includes(s.name))
                .map((s) => `${s.name}: ${line(s)}`)
                .join('; ')
            : line(series[0])) + (more.measured ? `; ${more.measured}` : ''),
        verdict: judged.verdict,
        reading: judged.reading,
      };
    },
  };
}
