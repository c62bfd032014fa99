/**
 * Two config hashes, one training. A run's hash covers its config as written, so a figure spec that spells out an
 * NCL++ switch at its default (`interCL: true`), or sets one that has no effect (IntraCL with T = 1 copy; InterCL or
 * its balanced scale with K = 1 expert: each KL term is then exactly 0), queues a second run of one already finished
 * (found in session 7: fig6a's T = 1 runs duplicated fig6b's BSCE + HCM; six table7 runs duplicated fig6b and fig8).
 * The same for 'ncl', which is 'nclpp' with `intraCL: false` (table7's "BIL + InterCL" runs, `nclpp` with T = 1 and
 * IntraCL off, turned out to be fig12a's balanced NCL runs). `equivalenceKey` drops such switches, and `ncl reproduce`
 * (and its --plan) warns about a queued run whose key equals a finished run's. Hashes themselves stay as they are:
 * changing them would orphan every cached run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NclLossOptions } from '../losses/nested';
import { canonicalJSON, TrainConfig } from '../train/config';
import { readMetrics, type Metrics } from '../train/trainer';

/** nclLoss switches that only `loss.options` sets, with their defaults (from the loss's own schema). */
const SWITCHES = ['bil', 'interCL', 'intraCL', 'nestedHard', 'hardMining', 'balancedInter'] as const;
const DEFAULTS: Record<string, unknown> = NclLossOptions.parse({ numCopies: 1 });

/**
 * The config with `loss.options` switches at their default or without effect removed, as canonical JSON: equal keys
 * train the same network the same way (same data, seeds, schedule; the loss differs by exact zeros at most).
 * Only 'ncl' / 'nclpp' read these switches; 'ncl' is keyed as 'nclpp' with IntraCL off.
 */
export function equivalenceKey(c: TrainConfig): string {
  const o: Record<string, unknown> = { ...c.loss.options };
  let method = c.method;
  if (method === 'ncl') {
    // lossForMethod('ncl') is nclpp's loss with IntraCL forced off; nothing else reads the method's name.
    method = 'nclpp';
    o.intraCL = false;
  }
  if (method === 'nclpp') {
    for (const k of SWITCHES) if (k in o && o[k] === DEFAULTS[k]) delete o[k];
    if (c.model.numExperts === 1) {
      delete o.interCL;
      delete o.balancedInter;
    }
    if (c.loss.numCopies === 1) delete o.intraCL;
  }
  return canonicalJSON({ ...c, method, loss: { ...c.loss, options: o } });
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

/** Finished runs (`finishedRuns`) by equivalence key → run folder name (the last in name order when keys repeat). */
export function finishedByKey(runs: { name: string; metrics: Metrics }[]): Map<string, string> {
  return new Map(runs.map((r) => [equivalenceKey(r.metrics.config), r.name]));
}

/** The warning for a queued run (`what`: its folder, maybe with more) that trains what the finished `finished` holds. */
export function equivalentRunWarning(what: string, finished: string): string {
  return (
    `warning: ${what} trains what the finished ${finished} holds (their configs differ only in loss switches at ` +
    'their default or without effect); write its config as that run does to reuse it'
  );
}
