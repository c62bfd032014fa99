/**
 * data: long-tailed datasets for NCL++ (issue 3).
 *
 *   const ds = await data.loadDataset('fashion-mnist');            // uint8 NHWC ImageSets, mean/std
 *   const lt = data.longTailSubset(ds, { imbalanceFactor: 100, seed: 0 });
 *   const train = data.subsetImages(ds.train, lt.indices);
 *   for (const b of data.trainBatches(train, { batchSize: 128, numCopies: 2, augment: 'randaugment',
 *                                                seed: 0, mean: ds.mean, std: ds.std }, epoch)) { ... }
 *
 * Files: idx.ts / cifar.ts (readers), sources.ts / locate.ts / fetch.ts / tar.ts (finding and fetching),
 * datasets.ts (loadDataset), longtail.ts (LT protocol, subsets), augment.ts (SimAug, RandAugment),
 * rng.ts (seeded randomness), grid.ts (image grids for figures), batches.ts (T copies, Mixup, tensors), config.ts (zod), cli.ts (`ncl data`).
 */
export * from './types';
export { DataError, displayPath } from './errors';
export { readIdx, readIdxImageSet, readMaybeGzip, type IdxArray } from './idx';
export { readCifarBinary, readLabelNames, type CifarReadOptions } from './cifar';
export { SOURCES, sourceOf, type DatasetSource, type RemoteFile } from './sources';
export {
  searchRoots,
  locateSource,
  repoDataDir,
  workspaceRoot,
  SYSTEM_DATA_DIR,
  type SearchRoot,
} from './locate';
export {
  downloadFile,
  fetchSource,
  fileDigest,
  checksumProblem,
  offlineByEnv,
  type FetchOptions,
} from './fetch';
export { extractTar } from './tar';
export {
  loadDataset,
  ensureDataset,
  readDatasetDir,
  clearDatasetCache,
  channelStats,
  NORMALIZATION,
  FASHION_MNIST_CLASSES,
  MNIST_CLASSES,
  CIFAR10_CLASSES,
  CIFAR100_CLASSES,
  CIFAR100_COARSE_CLASSES,
  type LoadOptions,
} from './datasets';
export {
  longTailCounts,
  splitOf,
  classHistogram,
  longTailSubset,
  subsetImages,
  saveSubset,
  subsetDigest,
  loadSubset,
  checkSubset,
  LongTailSubsetSchema,
  type LongTailSubset,
  type Split,
} from './longtail';
export {
  augmentImage,
  applyOp,
  cropFlip,
  simAugParams,
  randAugmentInto,
  randAugmentOps,
  opValue,
  imageAt,
  mixImages,
  RAND_AUGMENT_OPS,
  SIMAUG_PAD,
  type AugmentName,
  type Image,
  type RandAugmentOp,
  type AugmentImageOptions,
} from './augment';
export { tileImages, denormalizeRow } from './grid';
export { rngFor, permutation, beta, gamma, type Rng } from './rng';
export {
  trainBatches,
  evalBatches,
  numBatches,
  epochOrder,
  buildBatchArrays,
  normalizationTable,
  type BatchOptions,
  type Batch,
} from './batches';
export { DataConfig } from './config';
export { dataCommand, runDataCli } from './cli';
