/**
 * A claim of the paper as comparisons between measured quantities, and the code that judges them: the verdict and
 * the same in plain words. A quantity is a `Stat` over seeds under a name (e.g. "NCL++, IF 100").
 */
import { combineVerdicts, verdictGreater, Stat, Verdict } from './stats';

/**
 * `greater`: the paper says a > b; judged by `verdictGreater` (the gap against the seeds' spread).
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

export interface Judgement {
  verdict: Verdict;
  /** Plain words: each comparison as measured. */
  reading: string;
  checks: { check: string; verdict: Verdict; gap: number; spread: number }[];
}

function checkVerdict(c: Check, a: Stat, b: Stat): Verdict {
  if (c.kind === 'greater') return verdictGreater(a, b);
  return Math.abs(a.mean - b.mean) <= c.tolerance ? 'reproduced' : 'not reproduced';
}

/**
 * Judge `checks` on the quantities `stats` (by name); a name without a quantity is an error naming it. `unit`: how
 * the quantities are written, one for all or per name.
 */
export function judge(
  checks: Check[],
  stats: Record<string, Stat>,
  unit: Unit | ((name: string) => Unit) = POINTS,
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
    const verdict = checkVerdict(c, a, b);
    const gap = a.mean - b.mean;
    const spread = Math.max(a.std, b.std);
    let words: string;
    if (c.kind === 'within') {
      const d = `${c.a} − ${c.b} = ${gap >= 0 ? '+' : ''}${f(gap)}${u}`;
      words = `${d}: ${verdict === 'reproduced' ? 'within' : 'not within'} ${f(c.tolerance)}${u}`;
    } else if (a.values.length < 2 || b.values.length < 2) {
      words = `${c.a} ${f(a.mean)} vs ${c.b} ${f(b.mean)}: one seed, no spread to judge the gap by`;
    } else {
      const by = `${f(Math.abs(gap))}${u}`;
      const sp = `the seeds' spread (${f(spread)})`;
      words =
        verdict === 'reproduced'
          ? `${c.a} > ${c.b} holds: higher by ${by}, more than ${sp}`
          : verdict === 'not reproduced'
            ? `${c.a} > ${c.b} is reversed: ${c.b} is higher by ${by}, more than ${sp}`
            : `${c.a} > ${c.b} is not settled: the gap (${gap >= 0 ? '+' : '−'}${by}) is within ${sp}`;
    }
    return { check: words, verdict, gap, spread };
  });
  const verdict = combineVerdicts(results.map((r) => r.verdict));
  return { verdict, reading: `${results.map((r) => r.check).join('; ')}.`, checks: results };
}
