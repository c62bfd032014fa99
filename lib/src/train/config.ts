/**
 * The training configuration: one typed, validated object (zod) from which a run is fully determined.
 * Everything is validated here, at the boundary (CLI flags, `--set key=value`, JSON files); code inside trusts it.
 * A config is parsed into a canonical form (`canonicalConfig`: settings without effect take their default), and the
 * hash of its canonical JSON keys the results cache: two configs that train the same thing share one key.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ModelConfig } from '../models/registry';
import { getMethod, MethodSource, type LossBase, type Method } from '../losses/methods';
import { methodOfConfig } from '../losses/method-file';
import { HEAD_CLASS_IMAGES } from '../data/types';
import { DataConfig, MAX_SEED } from '../data/config';

/** The data part (`data.DataConfig`, one schema for the data module and the trainer). */
export const DataSection = DataConfig;

/** The model part: the registry's `ModelConfig` without what the dataset decides (classes, input channels). */
export const ModelSection = ModelConfig.omit({ numClasses: true, inChannels: true });

/**
 * The `loss` section: `numCopies` (T), `teachers` (offline distillation) and the method's options, as its schema
 * (`MethodSpec.options`) validates them; e.g. for the paper's methods λ, β, C_hard, the semantics and the switches
 * of `loss.options` (losses.PaperLossOptions).
 */
export type LossSection = LossBase & Record<string, unknown>;

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

/**
 * The fields of a training config, each validated but the method's options (`loss` is read by the method's schema
 * in `TrainConfig`). `method` names a registered method; `methodSource` records where a method that is not the lib's
 * own comes from (a file and its content hash: losses/method-file.ts), so that its runs never share a key with
 * another's.
 */
export const TrainConfigFields = z
  .object({
    protocol: z.string(),
    method: z.string().min(1),
    methodSource: MethodSource.optional(),
    seed: z.number().int().min(0).max(MAX_SEED),
    data: DataSection,
    model: ModelSection,
    loss: z.record(z.string(), z.unknown()),
    optim: OptimSection,
    eval: EvalSection.default({}),
  })
  .strict();
type Fields = z.output<typeof TrainConfigFields>;

/** A validated training config: the fields, with the `loss` section as the method's schema gives it. */
export type TrainConfig = Omit<Fields, 'loss'> & { loss: LossSection };
export type TrainConfigInput = z.input<typeof TrainConfigFields>;

/** The defaults `canonicalConfig` puts back, each from its section's schema (copied where they are objects). */
const DEFAULTS = {
  data: { randAugment: DataSection.shape.randAugment.parse(undefined) },
  model: { cosineScale: ModelSection.shape.cosineScale.parse(undefined) },
  optim: {
    milestones: OptimSection.shape.milestones.parse(undefined),
    gamma: OptimSection.shape.gamma.parse(undefined),
    minLr: OptimSection.shape.minLr.parse(undefined),
  },
};

/** `c` naming `method`: the method's name, and its source (after it) unless it is one of the lib's own. */
function naming(c: TrainConfig, method: Method): TrainConfig {
  const { protocol, method: _name, methodSource: _source, ...rest } = c;
  const source = method.source ? { methodSource: method.source } : {};
  return { protocol, method: method.name, ...source, ...rest };
}

/**
 * The config in canonical form: every setting that cannot change what is trained takes its default, so that two
 * configs that train the same networks the same way are one object (and one cache key). The method puts its own
 * settings in canonical form (`MethodSpec.canonical`; it may name another method, whose options schema and rules
 * then apply in turn); then, each an exact equivalence of the data or the optimiser:
 *   - `data.subsetSeed` equal to the run seed is the default (null); RandAugment's settings only matter with
 *     RandAugment, the cosine classifier's scale only with it, milestones and γ only for the step schedule, the
 *     final lr only for the cosine one.
 */
export function canonicalConfig(input: TrainConfig): TrainConfig {
  let c = structuredClone(input);
  for (let i = 0; ; i++) {
    const m = getMethod(c.method);
    if (!m.canonical) break;
    const next = m.canonical(structuredClone(c));
    // The method it names (itself, or another whose own rules then apply) parses the loss section again.
    const named = getMethod(next.method);
    c = naming({ ...next, loss: named.lossSchema.parse(next.loss) as LossSection }, named);
    if (named === m) break;
    if (i >= 8) throw new Error(`method '${input.method}': its canonical form renames it without end`);
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
 * The fields with the method resolved (a registered name, methods/<name>.ts, or the file `methodSource` names) and
 * its options validated by its schema; issues name the option (`loss.options.interCL: ...`). Checks across fields:
 * an imbalance factor that leaves the tail class at least one image (at most the head class's images), and the
 * method's own (`MethodSpec.check`, e.g. C_hard within the dataset's C classes).
 */
function withMethod(f: Fields, ctx: z.RefinementCtx): TrainConfig {
  const head = HEAD_CLASS_IMAGES[f.data.dataset];
  if (f.data.imbalanceFactor > head) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['data', 'imbalanceFactor'],
      message:
        `${f.data.imbalanceFactor} leaves the tail classes of ${f.data.dataset} without an image ` +
        `(its head class has ${head}); at most ${head}`,
    });
  }
  let method: Method;
  try {
    method = methodOfConfig(f.method, f.methodSource);
  } catch (e) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: [f.methodSource ? 'methodSource' : 'method'],
      message: (e as Error).message,
    });
    return z.NEVER;
  }
  const loss = method.lossSchema.safeParse(f.loss);
  if (!loss.success) {
    for (const issue of loss.error.issues) ctx.addIssue({ ...issue, path: ['loss', ...issue.path] });
    return z.NEVER;
  }
  const c = naming({ ...f, loss: loss.data as LossSection }, method);
  for (const issue of method.check?.(c) ?? []) ctx.addIssue({ code: z.ZodIssueCode.custom, ...issue });
  return c;
}

/**
 * The training configuration, validated and in canonical form (`canonicalConfig`): parse anything (CLI flags, JSON
 * files, protocol configs) through it. Parsing is idempotent.
 */
export const TrainConfig: z.ZodType<TrainConfig, z.ZodTypeDef, TrainConfigInput> =
  TrainConfigFields.transform(withMethod).transform(canonicalConfig);

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
