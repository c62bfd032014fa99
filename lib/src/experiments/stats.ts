/**
 * Mean ± std over seeds, and the paper-vs-here verdict: a comparison of two quantities is the 95 % interval of their
 * difference, paired over seeds where the runs are paired (`pairedDiff`), Welch's otherwise (`welchDiff`).
 */
import { jStat } from 'jstat';

export interface Stat {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for one value. */
  std: number;
  values: number[];
  /**
   * What pairs each value with another quantity's (`pairKey`: the seed and the long-tailed subset, which fix the
   * batch order and expert 1's initial weights too); absent when the values cannot be paired.
   */
  keys?: string[];
}

export function stat(values: number[], keys?: string[]): Stat {
  if (keys && keys.length !== values.length)
    throw new Error(`stat: ${values.length} values but ${keys.length} pairing keys`);
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, values, ...(keys ? { keys } : {}) };
}

/** The difference a − b of two quantities, with its two-sided 95 % interval. */
export interface Diff {
  mean: number;
  lo: number;
  hi: number;
  /** Pairs (paired) or the smaller group's runs (Welch). */
  n: number;
  /** 'paired': per-seed differences, Student t with n − 1 degrees of freedom; 'welch': unpaired runs. */
  test: 'paired' | 'welch';
  /** Degrees of freedom of the t quantile (Welch–Satterthwaite for 'welch'). */
  df: number;
  /** The noise floor the interval was widened to (std of one difference between runs of one config); 0 if none. */
  floor: number;
}

/** The 95 % two-sided Student t quantile for `df` degrees of freedom. */
export const t975 = (df: number): number => jStat.studentt.inv(0.975, df);

/** The values of `a` and `b` at the keys both have, in `a`'s order (replicates of one key already averaged). */
export function pairedValues(a: Stat, b: Stat): { a: number[]; b: number[]; keys: string[] } | null {
  if (!a.keys || !b.keys) return null;
  const bAt = new Map(b.keys.map((k, i) => [k, b.values[i]]));
  const keys = a.keys.filter((k) => bAt.has(k));
  return { keys, a: keys.map((k) => a.values[a.keys!.indexOf(k)]), b: keys.map((k) => bAt.get(k)!) };
}

/**
 * Paired: the mean of the per-seed differences a_i − b_i ± t(0.975, n − 1) · s / √n, where s is their sample std,
 * widened to the noise floor (s ≥ `floor`): differences between runs of one config set how small s can honestly be.
 */
export function pairedDiff(a: number[], b: number[], floor = 0): Diff {
  if (a.length !== b.length) throw new Error(`pairedDiff: ${a.length} vs ${b.length} values`);
  const d = stat(a.map((x, i) => x - b[i]));
  const n = a.length;
  const s = Math.max(d.std, floor);
  const half = n > 1 ? t975(n - 1) * (s / Math.sqrt(n)) : Infinity;
  return { mean: d.mean, lo: d.mean - half, hi: d.mean + half, n, test: 'paired', df: n - 1, floor };
}

/**
 * Unpaired (runs on different subsets): Welch's interval, mean(a) − mean(b) ± t(0.975, ν) · √(s_a²/n_a + s_b²/n_b),
 * ν by Welch–Satterthwaite; each group's std is at least the noise of one run, floor / √2.
 */
export function welchDiff(a: number[], b: number[], floor = 0): Diff {
  const [sa, sb] = [stat(a), stat(b)];
  const [na, nb] = [a.length, b.length];
  const perRun = floor / Math.SQRT2;
  const va = Math.max(sa.std, perRun) ** 2 / na;
  const vb = Math.max(sb.std, perRun) ** 2 / nb;
  const df = na > 1 && nb > 1 ? (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)) : 0;
  const half = df > 0 && va + vb > 0 ? t975(df) * Math.sqrt(va + vb) : df > 0 ? 0 : Infinity;
  const mean = sa.mean - sb.mean;
  return { mean, lo: mean - half, hi: mean + half, n: Math.min(na, nb), test: 'welch', df, floor };
}

/**
 * a − b as the rule compares them: paired over the seeds both have when both carry pairing keys and share at least
 * two, Welch's otherwise.
 */
export function diffOf(a: Stat, b: Stat, floor = 0): Diff {
  const p = pairedValues(a, b);
  if (p && p.keys.length >= 2) return pairedDiff(p.a, p.b, floor);
  return welchDiff(a.values, b.values, floor);
}

/** Element-wise stat of equally long arrays (one per seed). */
export function statArrays(arrays: number[][]): Stat[] {
  return arrays[0].map((_, j) => stat(arrays.map((a) => a[j])));
}

export type Verdict = 'reproduced' | 'not reproduced' | 'inconclusive';

/**
 * Does "a > b" (the paper's claim) hold here? Reproduced (*holds*) when the 95 % interval of a − b (`diffOf`) lies
 * above zero, not reproduced (*reversed*) when it lies below, inconclusive (*not settled*) when it contains zero (or
 * there are too few runs for an interval).
 */
export function verdictGreater(a: Stat, b: Stat, floor = 0): Verdict {
  return verdictOfDiff(diffOf(a, b, floor));
}

/** The verdict of "a > b" from the interval of a − b. */
export function verdictOfDiff(d: Diff): Verdict {
  if (d.lo > 0) return 'reproduced';
  if (d.hi < 0) return 'not reproduced';
  return 'inconclusive';
}

/** An interval as text, scaled (fractions → points by default): "+0.54 [+0.21, +0.87]". */
export function formatDiff(d: Diff, scale = 100, digits = 2): string {
  const f = (x: number) =>
    `${x >= 0 ? '+' : '−'}${Number.isFinite(x) ? Math.abs(scale * x).toFixed(digits) : '∞'}`;
  return `${f(d.mean)} [${f(d.lo)}, ${f(d.hi)}]`;
}

/** Combine verdicts of several sub-claims: all reproduced → reproduced; any reversed → not reproduced. */
export function combineVerdicts(vs: Verdict[]): Verdict {
  if (vs.every((v) => v === 'reproduced')) return 'reproduced';
  if (vs.some((v) => v === 'not reproduced')) return 'not reproduced';
  return 'inconclusive';
}

/**
 * A value-axis range for bars or points with error bars, in percent (stats are fractions): every mean ± std inside,
 * padded by half the span (at least 1 point), rounded out to whole points and kept within [0, 100]. Bars of top-1
 * values that differ by tenths of a point are unreadable on a 0-100 axis; the paper's bar charts are zoomed the same
 * way.
 */
export function percentRange(stats: Stat[]): [number, number] {
  const ok = stats.filter((s) => Number.isFinite(s.mean));
  if (!ok.length) return [0, 100];
  const lo = Math.min(...ok.map((s) => 100 * (s.mean - s.std)));
  const hi = Math.max(...ok.map((s) => 100 * (s.mean + s.std)));
  const pad = Math.max(1, (hi - lo) / 2);
  return [Math.max(0, Math.floor(lo - pad)), Math.min(100, Math.ceil(hi + pad))];
}

/** "mean ± std" of a stat, scaled (fractions → percent by default). */
export const meanStd = (s: Stat, scale = 100, digits = 2) =>
  `${(scale * s.mean).toFixed(digits)} ± ${(scale * s.std).toFixed(digits)}`;
