/**
 * The training configuration: one typed, validated object (zod) from which a run is fully determined.
 * Everything is validated here, at the boundary (CLI flags, `--set key=value`, JSON files); code inside trusts it.
 * A config is parsed into a canonical form (`canonicalConfig`: settings without effect take their default), and the
 * hash of its canonical JSON keys the results cache: two configs that train the same thing share one key.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ModelConfig } from '../models/registry';
import { LOSS_MODES } from '../losses/mode';
import { NclSwitches, PAPER_DEFAULTS } from '../losses/nested';
import { DATASET_CLASSES, HEAD_CLASS_IMAGES } from '../data/types';
import { MAX_SEED } from '../data/config';

import { METHODS } from '../losses/methods';
import { DataConfig } from '../data/config';
export { METHODS };
export type { Method } from '../losses/methods';

/** The data part (`data.DataConfig`, one schema for the data module and the trainer). */
export const DataSection = DataConfig;

/** The model part: the registry's `ModelConfig` without what the dataset decides (classes, input channels). */
export const ModelSection = ModelConfig.omit({ numClasses: true, inChannels: true });

/**
 * `loss.options`: the switches of the paper's ablations and variants (`losses.NclSwitches`: bil, interCL, intraCL,
 * nestedHard, hardMining, balancedInter), plus learnable λ1, λ2 (Table 6) and separate λ1 / λ2. Unknown keys are
 * an error. Read by 'ncl' and 'nclpp' only.
 */
export const LossOptionsSection = NclSwitches.extend({
  /** Learned (λ1, λ2) = softmax(w_intra, w_inter) instead of λ (Table 6). */
  learnable: z.boolean().default(false),
  /** λ1 (IntraCL) when it should differ from λ; null = λ. */
  lambdaIntra: z.number().finite().nonnegative().nullable().default(null),
  /** λ2 (InterCL) when it should differ from λ; null = λ. */
  lambdaInter: z.number().finite().nonnegative().nullable().default(null),
}).strict();

export const LossSection = z
  .object({
    /** λ = λ1 = λ2 (Eq. 14). */
    lambda: z.number().finite().min(0).default(PAPER_DEFAULTS.lambda),
    /** β = C_hard / C (Sec. 4.2); numHard = max(2, round(β·C)) unless `numHard` is set. */
    beta: z.number().min(0).max(1).default(PAPER_DEFAULTS.beta),
    numHard: z.number().int().min(1).nullable().default(null),
    /** 'official': as the authors' code computes it; 'paper': Eq. 1-14 as written. */
    mode: z.enum(LOSS_MODES).default('official'),
    /** T augmented copies per image (IntraCL needs ≥ 2; protocols set 1 for ce/bsce/ncl). */
    numCopies: z.number().int().min(1).max(64).default(1),
    options: LossOptionsSection.default({}),
    /**
     * Offline distillation (Fig. 12b, "BIL + OffDis"): finished runs (folders relative to the results root) whose
     * averaged balanced predictions on each batch are the fixed teacher; the loss becomes BSCE + λ·KL(teacher‖p).
     */
    teachers: z.array(z.string()).default([]),
  })
  .strict();

export const OptimSection = z
  .object({
    lr: z.number().finite().positive(),
    momentum: z.number().min(0).max(1).default(0.9),
    weightDecay: z.number().finite().min(0).default(2e-4),
    epochs: z.number().int().min(1).max(100_000),
    warmupEpochs: z.number().finite().min(0).default(5),
    schedule: z.enum(['step', 'cosine']),
    /** Step schedule: epochs at which lr is multiplied by `gamma`. */
    milestones: z.array(z.number().int().min(0)).default([]),
    gamma: z.number().finite().positive().default(0.1),
    /** Cosine schedule: final lr. */
    minLr: z.number().finite().min(0).default(0),
    /** Gradient accumulation: micro-batches per optimizer step. */
    accumulate: z.number().int().min(1).max(1024).default(1),
    /** Cap on optimizer steps per epoch (for tests and smoke runs); null = the whole epoch. */
    maxStepsPerEpoch: z.number().int().min(1).nullable().default(null),
  })
  .strict();

export const EvalSection = z
  .object({
    batchSize: z.number().int().min(1).max(65_536).default(500),
    /**
     * Learning curve: evaluate on the test set every this many epochs (0 = only at the end). It only changes what is
     * evaluated, so it is not part of the run's key (`keyedConfig`): turning it on retrains nothing.
     */
    every: z.number().int().min(0).default(0),
    /**
     * Report accuracy on the (long-tailed, unaugmented) training set at the end. Runs with a learning curve
     * (`every` > 0) report it too. Unlike `every` it is part of the key: the Table 6 runs were keyed with it and are
     * replicates of Table 1's NCL++ runs under another key.
     */
    trainAccuracy: z.boolean().default(false),
  })
  .strict();

/** The fields of a training config, each validated; `TrainConfig` adds the cross-field checks and the canonical form. */
export const TrainConfigFields = z
  .object({
    protocol: z.string(),
    method: z.enum(METHODS),
    seed: z.number().int().min(0).max(MAX_SEED),
    data: DataSection,
    model: ModelSection,
    loss: LossSection,
    optim: OptimSection,
    eval: EvalSection.default({}),
  })
  .strict();
type Fields = z.output<typeof TrainConfigFields>;

/** The defaults `canonicalConfig` puts back, each from its section's schema (copied where they are objects). */
const DEFAULTS = {
  loss: LossSection.parse({}),
  data: { randAugment: DataSection.shape.randAugment.parse(undefined) },
  model: { cosineScale: ModelSection.shape.cosineScale.parse(undefined) },
  optim: {
    milestones: OptimSection.shape.milestones.parse(undefined),
    gamma: OptimSection.shape.gamma.parse(undefined),
    minLr: OptimSection.shape.minLr.parse(undefined),
  },
};

/**
 * The config in canonical form: every setting that cannot change what is trained takes its default, so that two
 * configs that train the same networks the same way are one object (and one cache key). The rules, each an exact
 * equivalence of the loss or the data:
 *   - ce / bsce read no loss setting but `numCopies` (and, with offline-distillation teachers, λ and the mode);
 *   - IntraCL needs T ≥ 2 copies, InterCL K ≥ 2 experts, and NCL has no IntraCL: otherwise the switch is off;
 *   - an off InterCL has no balanced scale and no λ2, an off IntraCL no λ1; λ1 or λ2 equal to λ is λ;
 *   - without the hard-category terms, β, C_hard and the mining rule are unused;
 *   - without InterCL and IntraCL, λ is unused (unless learnable) and 'ncl' is 'nclpp' (their losses differ only
 *     in the collaborative terms); without the hard-category terms as well, the loss is BSCE (or CE, without BIL)
 *     summed over experts, i.e. method 'bsce' (or 'ce');
 *   - `data.subsetSeed` equal to the run seed is the default (null); RandAugment's settings only matter with
 *     RandAugment, the cosine classifier's scale only with it, milestones and γ only for the step schedule, the
 *     final lr only for the cosine one.
 */
export function canonicalConfig(input: Fields): Fields {
  const c = structuredClone(input);
  const o = c.loss.options;
  const single = c.method === 'ce' || c.method === 'bsce';
  if (single) {
    const teachers = c.loss.teachers.length > 0;
    c.loss = {
      ...structuredClone(DEFAULTS.loss),
      numCopies: c.loss.numCopies,
      teachers: c.loss.teachers,
      ...(teachers ? { lambda: c.loss.lambda, mode: c.loss.mode } : {}),
    };
  } else {
    if (c.loss.numCopies < 2 || c.method === 'ncl') o.intraCL = false;
    if (c.model.numExperts < 2) o.interCL = false;
    if (!o.interCL) {
      o.balancedInter = DEFAULTS.loss.options.balancedInter;
      o.lambdaInter = null;
    }
    if (!o.intraCL) o.lambdaIntra = null;
    if (o.lambdaIntra === c.loss.lambda) o.lambdaIntra = null;
    if (o.lambdaInter === c.loss.lambda) o.lambdaInter = null;
    if (!o.nestedHard) {
      c.loss.beta = DEFAULTS.loss.beta;
      c.loss.numHard = null;
      o.hardMining = DEFAULTS.loss.options.hardMining;
    }
    if (!o.interCL && !o.intraCL) {
      if (!o.learnable) c.loss.lambda = DEFAULTS.loss.lambda;
      o.learnable = false;
      if (c.method === 'ncl') c.method = 'nclpp';
      if (!o.nestedHard) {
        c.method = o.bil ? 'bsce' : 'ce';
        return canonicalConfig(c);
      }
    }
    if (o.learnable) o.lambdaIntra = o.lambdaInter = null;
  }
  if (c.data.subsetSeed === c.seed) c.data.subsetSeed = null;
  if (c.data.augment !== 'randaugment') c.data.randAugment = { ...DEFAULTS.data.randAugment };
  if (c.model.classifier !== 'cosine') c.model.cosineScale = DEFAULTS.model.cosineScale;
  if (c.optim.schedule !== 'step') {
    c.optim.milestones = [...DEFAULTS.optim.milestones];
    c.optim.gamma = DEFAULTS.optim.gamma;
  }
  if (c.optim.schedule !== 'cosine') c.optim.minLr = DEFAULTS.optim.minLr;
  return c;
}

/**
 * Checks across fields: C_hard within the dataset's C classes; an imbalance factor that leaves the tail class at least
 * one image (at most the head class's images).
 */
function checkFields(c: Fields, ctx: z.RefinementCtx): void {
  const classes = DATASET_CLASSES[c.data.dataset];
  const head = HEAD_CLASS_IMAGES[c.data.dataset];
  if (c.data.imbalanceFactor > head) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['data', 'imbalanceFactor'],
      message:
        `${c.data.imbalanceFactor} leaves the tail classes of ${c.data.dataset} without an image ` +
        `(its head class has ${head}); at most ${head}`,
    });
  }
  if (c.loss.numHard != null && c.loss.numHard > classes) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['loss', 'numHard'],
      message: `C_hard = ${c.loss.numHard} exceeds the ${classes} classes of ${c.data.dataset}`,
    });
  }
}

/**
 * The training configuration, validated and in canonical form (`canonicalConfig`): parse anything (CLI flags, JSON
 * files, protocol configs) through it. Parsing is idempotent.
 */
export const TrainConfig = TrainConfigFields.superRefine(checkFields).transform(canonicalConfig);
export type TrainConfig = z.output<typeof TrainConfig>;
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

/**
 * What a run's key hashes: the canonical config less the settings that only change what is evaluated during
 * training (`eval.every`, the learning curve), so that two runs that train the same networks share one key.
 */
export function keyedConfig(c: TrainConfig): TrainConfig {
  return { ...c, eval: { ...c.eval, every: 0 } };
}

/** Short content hash of a parsed (canonical) config, as `keyedConfig`: the cache key of a run. */
export function configHash(c: TrainConfig): string {
  return createHash('sha256')
    .update(canonicalJSON(keyedConfig(c)))
    .digest('hex')
    .slice(0, 16);
}

/** Format a zod error as one line naming the offending option. */
export function formatConfigError(err: z.ZodError, prefix = ''): string {
  return err.issues.map((i) => `${prefix}${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
}
