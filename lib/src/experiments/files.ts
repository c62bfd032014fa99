/**
 * Reading the files `ncl reproduce` builds figures from and writes, checked against their schema (zod), one line
 * naming the file and the field at fault when they do not fit (../train/files.ts): `<results>/manifest.json`, a
 * figure's data `<results>/<id>.json`, and a run's `analysis.json.gz`. Objects keep the keys their schema does not
 * name, so files written by a newer version still read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { z } from 'zod';
import { FileFormatError, parseJSONFile, readFileOrFail, readJSONFile } from '../train/files';
import type { Analysis } from '../eval/analysis';

const num = z.number().finite();
const index = z.number().int().nonnegative();

/** One entry of manifest.json (`ManifestEntry` in ./reproduce.ts). */
export const ManifestEntrySchema = z
  .object({
    id: z.string(),
    title: z.string(),
    png: z.string().nullable(),
    html: z.string(),
    data: z.string(),
    protocol: z.string(),
    settings: z.string(),
    seeds: z.array(index),
    commit: z.string(),
    runs: z.array(z.string()),
    claim: z.string(),
    measured: z.string(),
    verdict: z.string(),
    reading: z.string().optional(),
    generated: z.string(),
  })
  .passthrough();

export const ManifestSchema = z
  .object({ description: z.string(), figures: z.array(ManifestEntrySchema) })
  .passthrough();
export type Manifest = z.infer<typeof ManifestSchema>;

/** A figure's data file, `<results>/<id>.json`: what it plots, per seed and mean ± std, and its table. */
export const FigureDataSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    protocol: z.string(),
    seeds: z.array(index),
    commit: z.string(),
    data: z.unknown().refine((v) => v !== undefined, 'Required'),
    table: z.string().nullable(),
  })
  .passthrough();
export type FigureData = z.infer<typeof FigureDataSchema>;

/** A run's analysis (`Analysis`, ../eval/analysis.ts). */
export const AnalysisSchema = z
  .object({
    klExperts: z.array(num).nullable(),
    klCopies: z.array(num),
    hardestNegative: z
      .object({
        edges: z.array(num),
        expert: z.array(num),
        ensemble: z.array(num),
        meanExpert: num,
        meanEnsemble: num,
      })
      .passthrough(),
    features: z
      .object({ labels: z.array(index), indices: z.array(index), values: z.array(z.array(num)) })
      .passthrough(),
    examples: z.array(z.object({ index, label: index, probs: z.array(z.array(num)) }).passthrough()),
  })
  .passthrough();

/** The manifest of a results folder, checked (an empty one when there is none yet). */
export function readManifest(resultsDir: string): Manifest {
  const f = path.join(resultsDir, 'manifest.json');
  if (!fs.existsSync(f))
    return {
      description: 'Every figure and table in this folder, with the runs it comes from.',
      figures: [],
    };
  return readJSONFile(f, ManifestSchema, 'a results manifest');
}

/** A figure's data file (`<results>/<id>.json`), checked. */
export function readFigureData(file: string): FigureData {
  return readJSONFile(file, FigureDataSchema, "a figure's data");
}

/**
 * A run folder's analysis: analysis.json.gz (gzip: every run's folder is committed) or a plain analysis.json,
 * checked; null when the run has none.
 */
export function readAnalysis(dir: string): Analysis | null {
  const gz = path.join(dir, 'analysis.json.gz');
  const plain = path.join(dir, 'analysis.json');
  const what = "a run's analysis";
  if (fs.existsSync(gz)) {
    let text: string;
    try {
      text = zlib.gunzipSync(readFileOrFail(gz)).toString('utf8');
    } catch (e) {
      if (e instanceof FileFormatError) throw e;
      throw new FileFormatError(gz, `${gz}: not valid gzip (${(e as Error).message}); truncated or edited?`);
    }
    return parseJSONFile(gz, text, AnalysisSchema, what) as Analysis;
  }
  if (fs.existsSync(plain)) return readJSONFile(plain, AnalysisSchema, what) as Analysis;
  return null;
}
