/** The comparison table printed by `ncl start`: one row per run, top-1 and the three splits, in percent. */
import type { Metrics } from '../train/trainer';

export function comparisonTable(runs: Metrics[]): string {
  const pct = (x: number | null | undefined) => (x == null ? '-' : (100 * x).toFixed(2));
  const rows = runs.map((m) => [
    m.config.method,
    String(m.config.model.numExperts),
    pct(m.test.experts[0]?.top1),
    pct(m.test.ensemble.top1),
    pct(m.test.many),
    pct(m.test.medium),
    pct(m.test.few),
    m.train.seconds.toFixed(0),
  ]);
  const head = ['method', 'K', 'top1 (expert 1)', 'top1 (ensemble)', 'many', 'medium', 'few', 'train s'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join('  ');
  const p = runs[0]?.config;
  const title = p
    ? `${p.protocol}: ${p.data.dataset}-LT IF ${p.data.imbalanceFactor}, ${p.model.name} w${p.model.width}, seed ${p.seed}`
    : '';
  return [title, line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
