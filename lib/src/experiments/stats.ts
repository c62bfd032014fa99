/** Mean ± std over seeds, and the paper-vs-here verdict. */

export interface Stat {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for one value. */
  std: number;
  values: number[];
}

export function stat(values: number[]): Stat {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, values };
}

/** Element-wise stat of equally long arrays (one per seed). */
export function statArrays(arrays: number[][]): Stat[] {
  return arrays[0].map((_, j) => stat(arrays.map((a) => a[j])));
}

export type Verdict = 'reproduced' | 'not reproduced' | 'inconclusive';

/**
 * Does "a > b" (the paper's claim) hold here? Reproduced when the mean gap is positive and larger than the seeds'
 * spread (the larger of the two stds, and at least a small floor); not reproduced when it is as large the other way;
 * inconclusive otherwise (the gap is within the seed-to-seed spread, or there is a single seed and so no spread).
 */
export function verdictGreater(a: Stat, b: Stat, floor = 1e-9): Verdict {
  if (a.values.length < 2 || b.values.length < 2) return 'inconclusive'; // one seed: no spread to judge a gap by
  const gap = a.mean - b.mean;
  const spread = Math.max(a.std, b.std, floor);
  if (gap > spread) return 'reproduced';
  if (gap < -spread) return 'not reproduced';
  return 'inconclusive';
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
