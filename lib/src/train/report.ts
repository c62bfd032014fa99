/**
 * Tabular outputs of a run, through danfojs: the per-class CSV (class, training count, split, accuracy of the
 * ensemble and of each expert).
 */
import * as fs from 'node:fs';
import { splitOf } from '../data';
import type { EvalResult } from '../eval/metrics';

type Danfo = {
  DataFrame: new (rows: Record<string, unknown>[]) => unknown;
  toCSV: (df: unknown, o?: { filePath?: string }) => string | void;
};
let danfo: Danfo | null = null;
/** danfojs-node, loaded on first use (it is heavy). */
export function dfd(): Danfo {
  danfo ??= require('danfojs-node') as Danfo;
  return danfo;
}

export function perClassRows(
  classNames: string[],
  classCounts: number[],
  r: EvalResult,
): Record<string, unknown>[] {
  return classCounts.map((n, j) => {
    const row: Record<string, unknown> = {
      class: j,
      name: classNames[j] ?? String(j),
      train_count: n,
      split: splitOf(n),
      accuracy: r.ensemble.perClass[j],
    };
    r.experts.forEach((e, k) => (row[`expert${k}`] = e.perClass[j]));
    return row;
  });
}

/** Write the per-class CSV atomically. */
export async function writePerClassCSV(
  file: string,
  classNames: string[],
  classCounts: number[],
  r: EvalResult,
): Promise<void> {
  const { DataFrame, toCSV } = dfd();
  const csv = toCSV(new DataFrame(perClassRows(classNames, classCounts, r))) as string;
  fs.writeFileSync(`${file}.tmp`, csv);
  fs.renameSync(`${file}.tmp`, file);
}
