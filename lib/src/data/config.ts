/**
 * The data part of a run's configuration (zod). The training config composes it:
 *   DataConfig.parse({ dataset: 'cifar100', imbalanceFactor: 100 }) fills in the rest with the defaults below.
 * Defaults follow NCL++ Sec. 4.2 where it says (RandAugment on, T = 4 copies for the CIFAR-LT sets), and the
 * embedded Fashion-MNIST as the dataset so that a run needs no download.
 */
import { z } from 'zod';
import { DATASET_NAMES } from './types';

export const DataConfig = z
  .object({
    dataset: z.enum(DATASET_NAMES).default('fashion-mnist'),
    /** n_max / n_min of the LT profile; 1 = the full balanced training set. */
    imbalanceFactor: z.number().min(1).default(100),
    /** Seed of the per-class choice of images. */
    subsetSeed: z.number().int().default(0),
    /** A subset saved by `saveSubset`, used instead of drawing one (it must match dataset and IF). */
    subsetFile: z.string().optional(),
    /** Fraction of each class's LT count kept (Table 9). */
    fraction: z.number().gt(0).max(1).default(1),
    augment: z.enum(['none', 'simaug', 'randaugment']).default('randaugment'),
    /** RandAugment N ops at magnitude M on the 0–30 scale. */
    randAugment: z
      .object({ n: z.number().int().min(0).max(14), m: z.number().min(0).max(30) })
      .strict()
      .default({ n: 2, m: 9 }),
    /** Mixup α; 0 = off. */
    mixup: z.number().min(0).default(0),
    /** T augmented copies per image (IntraCL). */
    numCopies: z.number().int().min(1).default(4),
    batchSize: z.number().int().min(1).default(128),
    /** Horizontal flips (off makes sense for digits). */
    hflip: z.boolean().default(true),
  })
  .strict();
export type DataConfig = z.infer<typeof DataConfig>;
