/**
 * The data part of a run's configuration (zod): which dataset, its long-tailed subset, augmentation and batch size.
 * The training config (`train.TrainConfig.data`) is this schema, so a config validated here is exactly what a run
 * reads. `dataset` and `batchSize` have no default: protocols set them.
 *   DataConfig.parse({ dataset: 'cifar100', imbalanceFactor: 100, batchSize: 64 }) fills in the rest.
 */
import { z } from 'zod';
import { DATASET_NAMES } from './types';

/** The largest seed (run, subset): 2^31 - 1. */
export const MAX_SEED = 2 ** 31 - 1;

export const DataConfig = z
  .object({
    dataset: z.enum(DATASET_NAMES),
    /**
     * n_max / n_min of the long-tailed training subset (1 = the full balanced set); at most the head class's images
     * (`HEAD_CLASS_IMAGES`, checked by the training config), so that the tail class keeps one.
     */
    imbalanceFactor: z.number().finite().min(1),
    /** Fraction of each class's LT count that is kept (Table 9); 1 = all. */
    fraction: z.number().gt(0).max(1).default(1),
    /** Seed of the subset choice (defaults to the run seed when null). */
    subsetSeed: z.number().int().min(0).max(MAX_SEED).nullable().default(null),
    /** Optional JSON file of subset indices to re-use exactly (overrides the seeded choice). */
    subsetFile: z.string().nullable().default(null),
    /** Cap on test images per class; null = the whole test set. */
    testPerClass: z.number().int().min(1).nullable().default(null),
    augment: z.enum(['none', 'simaug', 'randaugment']).default('simaug'),
    randAugment: z
      .object({ n: z.number().int().min(0).max(16), m: z.number().finite().min(0).max(30) })
      .strict()
      .default({ n: 2, m: 10 }),
    /** Mixup α; 0 = off. */
    mixup: z.number().finite().min(0).default(0),
    batchSize: z.number().int().min(1).max(65_536),
  })
  .strict();
export type DataConfig = z.infer<typeof DataConfig>;
