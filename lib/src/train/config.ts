/**
 * The training configuration: one typed, validated object (zod) from which a run is fully determined.
 * Everything is validated here, at the boundary (CLI flags, `--set key=value`, JSON files); code inside trusts it.
 * Its canonical JSON is hashed to key the results cache.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MODEL_NAMES } from '../models/registry';

import { METHODS } from '../losses/methods';
import { DataConfig } from '../data/config';
export { METHODS };
export type { Method } from '../losses/methods';

/** The data part (`data.DataConfig`, one schema for the data module and the trainer). */
export const DataSection = DataConfig;

export const ModelSection = z
  .object({
    name: z.enum(MODEL_NAMES),
    width: z.number().int().min(1).default(16),
    classifier: z.enum(['linear', 'cosine']).default('linear'),
    cosineScale: z.number().positive().default(30),
    /** K experts (protocols default to 1 for ce/bsce). */
    numExperts: z.number().int().min(1).default(2),
  })
  .strict();

export const LossSection = z
  .object({
    /** λ = λ1 = λ2 (Eq. 14). */
    lambda: z.number().min(0).default(0.6),
    /** β = C_hard / C (Sec. 4.2); numHard = max(2, round(β·C)) unless `numHard` is set. */
    beta: z.number().min(0).max(1).default(0.3),
    numHard: z.number().int().min(1).nullable().default(null),
    /** 'official': as the authors' code computes it; 'paper': Eq. 1-14 as written. */
    mode: z.enum(['official', 'paper']).default('official'),
    /** T augmented copies per image (IntraCL needs ≥ 2; protocols default to 1 for ce/bsce/ncl). */
    numCopies: z.number().int().min(1).default(2),
    /** Extra switches passed to the loss (ablations, variants); see losses.lossForMethod. */
    options: z.record(z.string(), z.unknown()).default({}),
    /**
     * Offline distillation (Fig. 12b, "BIL + OffDis"): finished runs (folders relative to the results root) whose
     * averaged balanced predictions on each batch are the fixed teacher; the loss becomes BSCE + λ·KL(teacher‖p).
     */
    teachers: z.array(z.string()).default([]),
  })
  .strict();

export const OptimSection = z
  .object({
    lr: z.number().positive(),
    momentum: z.number().min(0).max(1).default(0.9),
    weightDecay: z.number().min(0).default(2e-4),
    epochs: z.number().int().min(1),
    warmupEpochs: z.number().min(0).default(5),
    schedule: z.enum(['step', 'cosine']),
    /** Step schedule: epochs at which lr is multiplied by `gamma`. */
    milestones: z.array(z.number().int().min(0)).default([]),
    gamma: z.number().positive().default(0.1),
    /** Cosine schedule: final lr. */
    minLr: z.number().min(0).default(0),
    /** Gradient accumulation: micro-batches per optimizer step. */
    accumulate: z.number().int().min(1).default(1),
    /** Cap on optimizer steps per epoch (for tests and smoke runs); null = the whole epoch. */
    maxStepsPerEpoch: z.number().int().min(1).nullable().default(null),
  })
  .strict();

export const TrainConfig = z
  .object({
    protocol: z.string(),
    method: z.enum(METHODS),
    seed: z.number().int().min(0),
    data: DataSection,
    model: ModelSection,
    loss: LossSection,
    optim: OptimSection,
    eval: z
      .object({
        batchSize: z.number().int().min(1).default(500),
        /** Evaluate on the test set every this many epochs (0 = only at the end). */
        every: z.number().int().min(0).default(0),
        /** Also report accuracy on the (long-tailed, unaugmented) training set at the end (Table 6). */
        trainAccuracy: z.boolean().default(false),
      })
      .strict()
      .default({}),
  })
  .strict();
export type TrainConfig = z.infer<typeof TrainConfig>;
export type TrainConfigInput = z.input<typeof TrainConfig>;

/** Deep-sorted JSON, so equal configs give equal strings whatever the key order. */
export function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Short content hash of a (validated) config: the cache key of a run. */
export function configHash(c: TrainConfig): string {
  return createHash('sha256').update(canonicalJSON(c)).digest('hex').slice(0, 16);
}

/** Format a zod error as one line naming the offending option. */
export function formatConfigError(err: z.ZodError, prefix = ''): string {
  return err.issues.map((i) => `${prefix}${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
}
