/**
 * Reading the JSON files a run leaves behind, checked against their schema (zod) so that an edited or damaged file
 * is refused in one line naming it and the field at fault, never misread (a per-class accuracy edited to the string
 * "0.5" would otherwise be averaged as a string) nor a TypeError far away:
 *
 *   `<file>: not valid JSON (Unexpected end of JSON input); truncated or edited?`
 *   `<file>: not a run's metrics: test.perClass.3: Expected number, received string`
 *
 * Objects keep the keys their schema does not name (passthrough), so files written by a newer version still read.
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import { TrainingError } from './errors';
import type { Metrics } from './types';

/** A results file that cannot be read as what it should be: one line naming it and the field at fault. */
export class FileFormatError extends TrainingError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'FileFormatError';
  }
}

/** The first issue of a zod error as `path: message`, and how many more there are. */
export function zodLine(err: z.ZodError): string {
  const i = err.issues[0];
  const where = i.path.length ? `${i.path.join('.')}: ` : '';
  const more = err.issues.length > 1 ? ` (and ${err.issues.length - 1} more)` : '';
  return `${where}${i.message}${more}`;
}

/** `text` (the contents of `file`) parsed as JSON and checked against `schema`; a FileFormatError otherwise. */
export function parseJSONFile<S extends z.ZodTypeAny>(
  file: string,
  text: string,
  schema: S,
  what: string,
): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(
      file,
      `${file}: not valid JSON (${(e as Error).message}); truncated or edited?`,
    );
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new FileFormatError(file, `${file}: not ${what}: ${zodLine(r.error)}`);
  return r.data;
}

/** The bytes of `file`; a FileFormatError naming it when it cannot be read. */
export function readFileOrFail(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileFormatError(file, `${file}: cannot read (${code ?? (e as Error).message})`);
  }
}

/** `file` read as JSON and checked against `schema` (see the file comment). */
export function readJSONFile<S extends z.ZodTypeAny>(file: string, schema: S, what: string): z.output<S> {
  return parseJSONFile(file, readFileOrFail(file).toString('utf8'), schema, what);
}

const num = z.number().finite();
const count = z.number().int().nonnegative();

/** One model's accuracies (eval/metrics.ts `SplitAccuracy`). */
const SplitAccuracySchema = z
  .object({
    top1: num,
    perClass: z.array(num),
    many: num.nullable(),
    medium: num.nullable(),
    few: num.nullable(),
  })
  .passthrough();

/** eval/metrics.ts `EvalResult`. */
const EvalResultSchema = SplitAccuracySchema.extend({
  experts: z.array(SplitAccuracySchema).min(1),
  expertMean: SplitAccuracySchema,
  ensemble: SplitAccuracySchema,
}).passthrough();

const EpochSchema = z
  .object({
    epoch: count,
    lr: num,
    losses: z.record(num),
    imgPerSec: num,
    seconds: num,
    numTensors: num,
    host: z.string().optional(),
    test: z
      .object({ top1: num, many: num.nullable(), medium: num.nullable(), few: num.nullable() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/**
 * The config a metrics.json records, as it was written (also configs of an earlier schema, whose hash the run's key
 * is): the settings code reads from it are checked, the rest kept.
 */
const RecordedConfigSchema = z
  .object({
    protocol: z.string(),
    method: z.string(),
    seed: count,
    data: z.object({ dataset: z.string(), imbalanceFactor: num, batchSize: count }).passthrough(),
    model: z.object({ name: z.string(), width: count, numExperts: count }).passthrough(),
    loss: z.object({ numCopies: count }).passthrough(),
    optim: z.object({ epochs: count }).passthrough(),
  })
  .passthrough();

/** A finished run's metrics.json (`Metrics`, ./types.ts). */
export const MetricsSchema = z
  .object({
    config: RecordedConfigSchema,
    configHash: z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 hex digits'),
    backend: z.string(),
    classCounts: z.array(count).min(1),
    subset: z.object({ images: count, sha256: z.string() }).passthrough().optional(),
    data: z
      .object({ dir: z.string(), origin: z.string(), checksums: z.string().nullable() })
      .passthrough()
      .optional(),
    warnings: z.array(z.string()).optional(),
    lossVariables: z.record(z.array(num)).optional(),
    lossVariablesFrom: z.string().optional(),
    test: EvalResultSchema,
    trainSet: EvalResultSchema.optional(),
    train: z.object({ epochs: z.array(EpochSchema), seconds: num, imgPerSec: num }).passthrough(),
  })
  .passthrough()
  .superRefine((m, ctx) => {
    // Every per-class list has one value per class of the run.
    const classes = m.classCounts.length;
    const results = { test: m.test, ...(m.trainSet ? { trainSet: m.trainSet } : {}) };
    for (const [name, r] of Object.entries(results))
      for (const [at, s] of [
        ['', r],
        ['ensemble.', r.ensemble],
        ['expertMean.', r.expertMean],
        ...r.experts.map((e, k) => [`experts.${k}.`, e] as const),
      ] as const)
        if (s.perClass.length !== classes)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [...`${name}.${at}perClass`.split('.')],
            message: `${s.perClass.length} values for ${classes} classes (classCounts)`,
          });
  });

/** A finished run's metrics.json, checked (see the file comment). */
export function readMetricsFile(file: string): Metrics {
  return readJSONFile(file, MetricsSchema, "a run's metrics") as unknown as Metrics;
}
