/** The data of a run: the dataset (and the folder it was read from), its long-tailed subset and the batches. */
import * as path from 'node:path';
import * as data from '../data';
import { dataFiles, searchRoots, verifyChecksums } from '../data/locate';
import type { TrainConfig } from './config';

export interface PreparedData {
  dataset: data.Dataset;
  train: data.ImageSet;
  test: data.ImageSet;
  classCounts: number[];
  subset: data.LongTailSubset;
  /** The dataset folder read, where it was found ('NCL_DATA_DIR', 'repo', 'system', ...), its verified checksums. */
  source?: DataSource;
}

/** Where a run's data came from (`PreparedData.source`, metrics.json's `data`). */
export interface DataSource {
  dir: string;
  origin: string;
  checksums: string | null;
}

/**
 * `s` as a run records it in metrics.json, naming no machine's folders (runs are committed): the dataset folder
 * `<root>/<sourceDir>` found under the repository's data/ as `data/<sourceDir>`, under $NCL_DATA_DIR as
 * `$NCL_DATA_DIR/<sourceDir>`, and its checksum file likewise; other places (the system copy, an explicit folder)
 * as they are. Also rewrites what earlier versions recorded (absolute paths of the machine that trained).
 */
export function recordedSource(s: DataSource, sourceDir: string): DataSource {
  const prefix = ({ repo: 'data', NCL_DATA_DIR: '$NCL_DATA_DIR' } as Record<string, string>)[s.origin];
  const norm = s.dir.replace(/\/+$/, '');
  if (!prefix || !path.isAbsolute(norm) || !norm.endsWith(`/${sourceDir}`)) return s;
  const dir = `${prefix}/${sourceDir}`;
  const checksums =
    s.checksums && path.isAbsolute(s.checksums) && path.dirname(s.checksums) === norm
      ? `${dir}/${path.basename(s.checksums)}`
      : s.checksums;
  return { ...s, dir, checksums };
}

/** First `perClass` test images of each class, in order (a deterministic, balanced cap). */
function capPerClass(set: data.ImageSet, numClasses: number, perClass: number): data.ImageSet {
  const seen = new Array<number>(numClasses).fill(0);
  const idx: number[] = [];
  for (let i = 0; i < set.n; i++) if (seen[set.labels[i]]++ < perClass) idx.push(i);
  return data.subsetImages(set, idx);
}

/** Load the dataset and build the long-tailed training subset of a config. */
export async function prepareData(c: TrainConfig, opts: { progress?: boolean } = {}): Promise<PreparedData> {
  const dir = await data.ensureDataset(c.data.dataset, { progress: opts.progress });
  const origin = searchRoots().find(
    (r) => path.join(r.dir, data.sourceOf(c.data.dataset).dir) === dir,
  )?.origin;
  const source = {
    dir,
    origin: origin ?? 'other',
    checksums: verifyChecksums(dir, dataFiles(data.sourceOf(c.data.dataset), dir)),
  };
  const dataset = await data.loadDataset(c.data.dataset, { progress: opts.progress });
  const subset = c.data.subsetFile
    ? data.loadSubset(c.data.subsetFile)
    : data.longTailSubset(dataset, {
        imbalanceFactor: c.data.imbalanceFactor,
        seed: c.data.subsetSeed ?? c.seed,
        fraction: c.data.fraction,
      });
  if (c.data.subsetFile) data.checkSubset(dataset, subset, c.data.subsetFile);
  const train = data.subsetImages(dataset.train, subset.indices);
  const test = c.data.testPerClass
    ? capPerClass(dataset.test, dataset.numClasses, c.data.testPerClass)
    : dataset.test;
  return { dataset, train, test, classCounts: subset.classCounts, subset, source };
}

/** The training batches of a config: its batch size, T copies, augmentation and seed, shuffled, last batch dropped. */
export function batchOptions(c: TrainConfig, dataset: data.Dataset): data.BatchOptions {
  return {
    batchSize: c.data.batchSize,
    numCopies: c.loss.numCopies,
    augment: c.data.augment,
    randAugment: c.data.randAugment,
    mixup: c.data.mixup,
    seed: c.seed,
    mean: dataset.mean,
    std: dataset.std,
    shuffle: true,
    dropLast: true,
  };
}
