/**
 * A claim of the paper as comparisons between measured quantities, and the code that judges them: the verdict and
 * the same in plain words. A quantity is a `Stat` over seeds under a name (e.g. "NCL++, IF 100").
 */
import { combineVerdicts, diffOf, formatDiff, verdictOfDiff, Diff, Stat, Verdict } from './stats';

/**
 * `greater`: the paper says a > b; judged by the 95 % interval of a − b (`stats.diffOf`: paired over seeds where
 * the runs are paired, Welch's otherwise): it holds when the interval lies above zero.
 * `within`: a and b agree to `tolerance` (in the quantity's unit): |mean a − mean b| ≤ tolerance.
 */
export type Check =
  { kind: 'greater'; a: string; b: string } | { kind: 'within'; a: string; b: string; tolerance: number };

export const greater = (a: string, b: string): Check => ({ kind: 'greater', a, b });
export const within = (a: string, b: string, tolerance: number): Check => ({
  kind: 'within',
  a,
  b,
  tolerance,
});

export interface Claim {
  /** The paper's statement, in words. */
  text: string;
  checks: Check[];
}

/** How a quantity is written: values × scale with `digits` decimals and a unit ('points' for accuracies). */
export interface Unit {
  scale: number;
  digits: number;
  name: string;
}
export const POINTS: Unit = { scale: 100, digits: 2, name: 'points' };
export const RAW = (digits: number): Unit => ({ scale: 1, digits, name: '' });

/** One check as judged: its words, verdict, the interval of a − b and how many runs it rests on. */
export interface CheckResult {
  check: string;
  verdict: Verdict;
  /** a − b with its 95 % interval (in the quantities' own units, fractions for accuracies). */
  diff: Pick<Diff, 'mean' | 'lo' | 'hi'>;
  /** Pairs of runs (paired) or the smaller group's runs (Welch). */
  n: number;
  /** Whether the runs were paired over seeds, or compared unpaired (Welch). */
  test: Diff['test'];
}

export interface Judgement {
  verdict: Verdict;
  /** Plain words: each comparison as measured. */
  reading: string;
  checks: CheckResult[];
}

export interface JudgeOptions {
  /**
   * The noise floor of an accuracy (a fraction): the std of one difference between runs of one config
   * (`experiments.noiseFloor`). Intervals of quantities in points are never narrower than it allows.
   */
  floor?: number;
}

/**
 * Judge `checks` on the quantities `stats` (by name); a name without a quantity is an error naming it. `unit`: how
 * the quantities are written, one for all or per name.
 */
export function judge(
  checks: Check[],
  stats: Record<string, Stat>,
  unit: Unit | ((name: string) => Unit) = POINTS,
  opts: JudgeOptions = {},
): Judgement {
  const get = (name: string) => {
    const s = stats[name];
    if (!s) throw new Error(`claim: no measured quantity '${name}' (have: ${Object.keys(stats).join(', ')})`);
    return s;
  };
  const results = checks.map((c) => {
    const [a, b] = [get(c.a), get(c.b)];
    const un = typeof unit === 'function' ? unit(c.a) : unit;
    const f = (x: number) => (un.scale * x).toFixed(un.digits);
    const u = un.name ? ` ${un.name}` : '';
    const d = diffOf(a, b, un === POINTS ? (opts.floor ?? 0) : 0);
    const iv = `${formatDiff(d, un.scale, un.digits)}${u}`;
    const over =
      d.test === 'paired'
        ? `paired over ${d.n} seeds`
        : `unpaired (Welch), ${a.values.length} vs ${b.values.length} runs`;
    let verdict: Verdict;
    let words: string;
    if (c.kind === 'within') {
      verdict = Math.abs(d.mean) <= c.tolerance ? 'reproduced' : 'not reproduced';
      words = `${c.a} − ${c.b} = ${iv}, ${over}: mean ${verdict === 'reproduced' ? 'within' : 'not within'} ${f(c.tolerance)}${u}`;
    } else if (a.values.length < 2 || b.values.length < 2) {
      verdict = 'inconclusive';
      words = `${c.a} ${f(a.mean)} vs ${c.b} ${f(b.mean)}: one run, no interval to judge the gap by`;
    } else {
      verdict = verdictOfDiff(d);
      const state =
        verdict === 'reproduced' ? 'holds' : verdict === 'not reproduced' ? 'is reversed' : 'is not settled';
      words = `${c.a} > ${c.b} ${state}: ${c.a} − ${c.b} = ${iv} (95 % interval, ${over})`;
    }
    return { check: words, verdict, diff: { mean: d.mean, lo: d.lo, hi: d.hi }, n: d.n, test: d.test };
  });
  const verdict = combineVerdicts(results.map((r) => r.verdict));
  return { verdict, reading: `${results.map((r) => r.check).join('; ')}.`, checks: results };
}
