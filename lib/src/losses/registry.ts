/**
 * Methods by name, as timm registers models: a method is one object (`defineMethod`) and `registerMethod` adds it
 * to the registry that configs, `ncl train --method`, figures and `compare` look names up in (`getMethod`).
 *
 *   registerMethod({
 *     name: 'focal', label: 'Focal loss',
 *     options: z.object({ gamma: z.number().min(0).default(2) }),   // its options, defaults written once
 *     loss: ({ gamma }) => (logits, labels) => ...,                // options → LossFn
 *   });
 *
 * A method's options are the config's `loss` section as they are: the section holds `numCopies` (T), `teachers`
 * (offline distillation, Fig. 12b) and the method's own fields, validated by its schema (unknown keys are an error).
 * `experts` / `copies` are its default K and T on a protocol (a number, or 'protocol': the protocol's). `canonical`
 * puts settings that cannot change training to their default (it may name another method: a variant of NCL++ with
 * every collaborative term off is BSCE), so that two configs that train the same thing share one cache key.
 *
 * The lib's own methods (losses/methods.ts: ce, bsce, ncl, nclpp and the paper's ablation variants) are registered
 * the same way, without a source. Any other method records where it came from (`MethodSource`): a file and the
 * content hash of it and of the files it imports (`methodFile`), or, for one registered in a running process (a
 * notebook), the hash of its functions' text. The source is part of every config of the method, so its runs never
 * share a key with another method's, and editing its loss trains it again.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { tf } from '../tf';
import type { TrainConfig } from '../train/config';

/**
 * The trainer's loss contract: K experts' logits [T·B, C] (copy-major rows), labels [T·B] int32, class counts [C]
 * → the scalar to minimise and named scalar terms for logging.
 */
export interface LossFn {
  (
    logits: tf.Tensor2D[],
    labels: tf.Tensor1D,
    classCounts: number[],
  ): { total: tf.Scalar; terms: Record<string, tf.Scalar> };
  /** Trainable variables the loss owns, by name: optimised with the model's, checkpointed as `loss.<name>`. */
  variables?: Record<string, tf.Variable>;
  /** Called before each training step's forward pass with the global step (e.g. per-step random draws). */
  onStep?(globalStep: number): void;
  /** Frees what the loss owns (its variables). */
  dispose?(): void;
}

/** What a loss factory knows besides its options. */
export interface LossContext {
  /** C, the number of classes, when known (a run knows it; a bare `lossForMethod` call need not). */
  numClasses?: number;
  /** The run's seed. */
  seed?: number;
}

/** The fields of the `loss` section that every method has. */
export const LossBase = z
  .object({
    /** T augmented copies per image (IntraCL needs ≥ 2). */
    numCopies: z.number().int().min(1).max(64).default(1),
    /**
     * Offline distillation (Fig. 12b, "BIL + OffDis"): finished runs (folders relative to the results root) whose
     * averaged balanced predictions on each batch are the fixed teacher; the loss becomes BSCE + λ·KL(teacher‖p).
     */
    teachers: z.array(z.string()).default([]),
  })
  .strict();
export type LossBase = z.output<typeof LossBase>;

/** What `MethodSpec.canonical` returns: a config whose `loss` section may leave out what takes a default. */
export type CanonicalForm = Omit<TrainConfig, 'loss'> & { loss: Record<string, unknown> };

/** An issue a method finds in a whole config (e.g. C_hard larger than the dataset's classes). */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

/** A method: what `defineMethod` takes and `registerMethod` adds. */
export interface MethodSpec<S extends z.AnyZodObject = z.AnyZodObject> {
  /** Its name in configs, on the command line and in run folders (`<name>-<hash>`). */
  name: string;
  /** Its name in tables and figures. */
  label: string;
  /** One line: what it trains. */
  description?: string;
  /** Its options in a config's `loss` section, with their defaults (a zod object; not `numCopies` / `teachers`). */
  options: S;
  /** Default experts K on a protocol: a number, or 'protocol' (the protocol's K). Default 1. */
  experts?: number | 'protocol';
  /** Default augmented copies T on a protocol: a number, or 'protocol' (the protocol's T). Default 1. */
  copies?: number | 'protocol';
  /** The loss of a config: its `loss` section (the options, with `numCopies` and `teachers`) → LossFn. */
  loss(options: z.output<S> & LossBase, context: LossContext): LossFn;
  /**
   * The config with every setting that cannot change training at its default (optional). It may name another method
   * (whose rules then apply in turn); its `loss` section is parsed again by the schema of the method it names, so it
   * may leave out what takes a default.
   */
  canonical?(config: TrainConfig): CanonicalForm;
  /** Problems of a whole config the options schema cannot see (optional). */
  check?(config: TrainConfig): ConfigIssue[];
  /** What a config leaves out that the method's name promises (printed at the start, kept in metrics.json). */
  warnings?(config: TrainConfig): string[];
}

/**
 * Where a method that is not the lib's own comes from: a file (relative to the workspace root when inside it) and
 * the content hash of it and of the files it imports from the workspace; or, for a method registered in a running
 * process (a notebook), `file: null` and the hash of its functions' text.
 */
export const MethodSource = z
  .object({
    file: z.string().min(1).nullable(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex'),
  })
  .strict();
export type MethodSource = z.output<typeof MethodSource>;

/** A registered method: its spec and its source (null: one of the lib's own). */
export interface Method extends MethodSpec {
  source: MethodSource | null;
  /** The schema of a config's whole `loss` section for this method: `LossBase` and its options. */
  lossSchema: z.AnyZodObject;
}

const NAME = /^[a-z][a-z0-9+._-]*$/i;

/**
 * A method spec, checked (name, options schema); `registerMethod` adds it to the registry. A method file's default
 * export is one (`export default defineMethod({...})`).
 */
export function defineMethod<S extends z.AnyZodObject>(spec: MethodSpec<S>): MethodSpec<S> {
  if (typeof spec?.name !== 'string' || !NAME.test(spec.name))
    throw new Error(
      `a method needs a name of letters, digits and + . _ - (starting with a letter), got '${spec?.name}'`,
    );
  if (!(spec.options instanceof z.ZodObject))
    throw new Error(`method '${spec.name}': options must be a zod object (z.object({...}))`);
  const reserved = Object.keys(LossBase.shape).filter((k) => k in spec.options.shape);
  if (reserved.length)
    throw new Error(
      `method '${spec.name}': options may not define ${reserved.join(', ')} (every method has them)`,
    );
  if (typeof spec.loss !== 'function') throw new Error(`method '${spec.name}': loss must be a function`);
  for (const k of ['experts', 'copies'] as const) {
    const v = spec[k];
    if (v !== undefined && v !== 'protocol' && !(Number.isInteger(v) && v >= 1))
      throw new Error(
        `method '${spec.name}': ${k} must be a positive integer or 'protocol', got ${String(v)}`,
      );
  }
  return spec;
}

const registry = new Map<string, Method>();

function add(spec: MethodSpec, source: MethodSource | null): Method {
  defineMethod(spec);
  const known = registry.get(spec.name);
  if (known && known.source === null)
    throw new Error(`method '${spec.name}' is one of the lib's own: give yours another name`);
  const method: Method = {
    ...(spec as MethodSpec),
    source,
    lossSchema: spec.options.merge(LossBase).strict(),
  };
  registry.set(spec.name, method);
  return method;
}

/**
 * The hash of a method registered in this process: the text of its functions (the loss factory and its hooks) and
 * its defaults K and T. It covers the code inside them, not what they call.
 */
export function inlineSource(spec: MethodSpec): MethodSource {
  const text = JSON.stringify([
    spec.name,
    spec.experts ?? 1,
    spec.copies ?? 1,
    String(spec.loss),
    String(spec.canonical ?? ''),
  ]);
  return { file: null, sha256: createHash('sha256').update(text).digest('hex') };
}

/**
 * Register a method (a spec, or `defineMethod`'s result) under its name, replacing an earlier one of that name (a
 * notebook cell run again); the lib's own names cannot be taken. `source`: where it comes from (`loadMethodFile`
 * passes its file); default: the hash of its functions (`inlineSource`).
 */
export function registerMethod<S extends z.AnyZodObject>(spec: MethodSpec<S>, source?: MethodSource): Method {
  return add(spec as unknown as MethodSpec, source ?? inlineSource(spec as unknown as MethodSpec));
}

/** Register one of the lib's own methods (losses/methods.ts): no source. */
export function registerBuiltin<S extends z.AnyZodObject>(spec: MethodSpec<S>): Method {
  if (registry.has(spec.name)) throw new Error(`method '${spec.name}' is registered twice`);
  return add(spec as unknown as MethodSpec, null);
}

/** The registered method of this name, or null. */
export function findMethod(name: string): Method | null {
  return registry.get(name) ?? null;
}

/** The registered method of this name; an error naming the registered ones otherwise. */
export function getMethod(name: string): Method {
  const m = registry.get(name);
  if (!m) throw new Error(unknownMethodMessage(name));
  return m;
}

/** The names of the registered methods, the lib's own first, each group in registration order. */
export function methodNames(): string[] {
  const all = [...registry.values()];
  return [...all.filter((m) => !m.source), ...all.filter((m) => m.source)].map((m) => m.name);
}

export function unknownMethodMessage(name: string): string {
  return (
    `unknown method '${name}'; registered: ${methodNames().join(', ')}; or a method file ` +
    `(./methods/${/^[\w-]+$/.test(name) ? name : 'NAME'}.ts, or NAME for methods/NAME.ts)`
  );
}

/** K (or T) of a method on a protocol whose K (or T) is `protocol`. */
export function methodDefault(v: number | 'protocol' | undefined, protocol: number): number {
  return v === 'protocol' ? protocol : (v ?? 1);
}

/**
 * The loss of method `name` with `options` (its options and `numCopies`; unknown keys are an error, defaults from
 * its schema). A method whose default T is the protocol's (NCL++) needs `numCopies` (T: 4 in the paper, 2 on
 * ImageNet-LT). `context.numClasses`, when given, is also checked against the logits of every call.
 */
export function lossForMethod(
  name: string,
  options: Record<string, unknown> = {},
  context: LossContext = {},
): LossFn {
  const m = getMethod(name);
  if (m.copies === 'protocol' && options.numCopies === undefined)
    throw new Error(
      `lossForMethod('${name}') needs numCopies: T augmented copies per sample (the paper uses 4; 2 on ImageNet-LT)`,
    );
  const fn = m.loss(m.lossSchema.parse(options) as LossBase, context);
  const C = context.numClasses;
  if (C === undefined) return fn;
  const checked: LossFn = (logits, labels, counts) => {
    if (logits[0]?.shape[1] !== C)
      throw new Error(`${name}: expected C = ${C} classes, logits have ${logits[0]?.shape[1]}`);
    return fn(logits, labels, counts);
  };
  return Object.assign(checked, {
    variables: fn.variables,
    onStep: fn.onStep && ((s: number) => fn.onStep!(s)),
    dispose: fn.dispose && (() => fn.dispose!()),
  });
}
