/**
 * What a figure or table of the paper is here: its runs, described as `RunSpec`s and turned into training configs
 * by one builder (`runConfig`), the metric it reads from them, the paper's claim as comparisons (claims.ts) and a
 * plot kind (viz/stat-plots.ts). `FigureSpec` is what the runner (reproduce.ts) trains and writes.
 */
import { getProtocol } from '../train/protocols';
import { configHash, TrainConfig } from '../train/config';
import { getMethod, type VariantName } from '../losses';
import type { Figure } from '../viz';
import { runDir, type RunResult } from './runs';
import { stat, type Stat, type Verdict } from './stats';

/** The protocol and the number of seeds (0, 1, …) of `ncl reproduce` and the notebooks unless told otherwise. */
export const DEFAULT_PROTOCOL = 'mini';
export const DEFAULT_SEEDS = 3;

/** A method's name in tables and figures (`MethodSpec.label`). */
export const methodLabel = (method: string): string => getMethod(method).label;

export type Augmentation = 'simaug' | 'randaugment' | 'mixup';

/**
 * One run of a figure, as a change to the protocol's config of `method` (every field unset keeps the protocol's,
 * and the method's defaults). `runConfig` turns it into the validated config of one seed.
 */
export interface RunSpec {
  /** A registered method (e.g. 'bsce', or a variant of the paper such as 'bil+nfl'). */
  method: string;
  /** Experts K. */
  experts?: number;
  /** Augmented copies T. */
  copies?: number;
  /** The method's options: merged into the config's `loss` section (objects key by key), e.g. `{ lambda: 0.4 }`. */
  loss?: Record<string, unknown>;
  /** T = the copies NCL++ trains on under the protocol (the compute-matched controls: BSCE on NCL++'s copies). */
  protocolCopies?: boolean;
  imbalanceFactor?: number;
  /** Share of the protocol's training set (Table 9): multiplies `data.fraction`. */
  dataShare?: number;
  /** 'mixup' is SimAug with Mixup (α = 1). */
  augment?: Augmentation;
  /** Also measure accuracy on the training set (Table 6). */
  trainAccuracy?: boolean;
  /**
   * Train this many times the protocol's epochs (the schedule stretched to match: warm-up kept, cosine or steps
   * over the longer run): the longer schedules of the decomposition study and the compute-matched BSCE control.
   */
  epochScale?: number;
  /**
   * Offline distillation (Fig. 12b): the average of `count` runs of `run` as the teacher. The teachers of seed s
   * have seeds 1000 + 10 s + k, k = 1 … count, distinct from every student's.
   */
  teachers?: { run: RunSpec; count: number };
}

/** Seeds of the offline teachers of a student of seed `seed` (see `RunSpec.teachers`). */
export function teacherSeeds(seed: number, count: number): number[] {
  return Array.from({ length: count }, (_, k) => 1000 + 10 * seed + k + 1);
}

/** The validated training config of `run` under `protocol`, for `seed`. */
export function runConfig(protocol: string, seed: number, run: RunSpec): TrainConfig {
  const c = getProtocol(protocol, run.method, seed);
  if (run.experts !== undefined) c.model.numExperts = run.experts;
  if (run.copies !== undefined) c.loss.numCopies = run.copies;
  if (run.protocolCopies) c.loss.numCopies = getProtocol(protocol, 'nclpp', seed).loss.numCopies;
  if (run.loss) c.loss = merged(c.loss, run.loss) as TrainConfig['loss'];
  if (run.imbalanceFactor !== undefined) c.data.imbalanceFactor = run.imbalanceFactor;
  if (run.dataShare !== undefined && run.dataShare !== 1) c.data.fraction *= run.dataShare;
  if (run.augment === 'mixup') {
    c.data.augment = 'simaug';
    c.data.mixup = 1;
  } else if (run.augment) c.data.augment = run.augment;
  if (run.trainAccuracy) c.eval.trainAccuracy = true;
  if (run.epochScale !== undefined && run.epochScale !== 1) {
    const scale = run.epochScale;
    c.optim.epochs = Math.round(scale * c.optim.epochs);
    c.optim.milestones = c.optim.milestones.map((m) => Math.round(scale * m));
    c.eval.every = Math.round(scale * c.eval.every);
  }
  if (run.teachers) {
    const { run: teacher, count } = run.teachers;
    c.loss.teachers = teacherSeeds(seed, count).map((s) => runDir('', runConfig(protocol, s, teacher)));
  }
  return TrainConfig.parse(c);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/** `changes` over `base`: plain objects merged key by key, anything else replaced. */
function merged(base: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    const was = out[k];
    out[k] = isRecord(v) && isRecord(was) ? merged(was, v) : v;
  }
  return out;
}

/** Every config `run` needs for `seed`: its offline teachers first, then the run itself. */
export function runConfigs(protocol: string, seed: number, run: RunSpec): TrainConfig[] {
  const teachers = run.teachers
    ? teacherSeeds(seed, run.teachers.count).map((s) => runConfig(protocol, s, run.teachers!.run))
    : [];
  return [...teachers, runConfig(protocol, seed, run)];
}

/**
 * A loss variant of the paper (`losses.EXPERIMENT_VARIANTS`: a registered method with its switches, K and T as
 * defaults) as a run, with more changes on top.
 */
export function variantRun(name: VariantName, more: Omit<RunSpec, 'method'> = {}): RunSpec {
  return { method: name, ...more };
}

/**
 * The analysis figures' runs (Sec. 4.6): every method with K = 2 experts. CE and BSCE experts never interact, so
 * each is a network trained alone (same batches, its own initial weights), and the pair gives the "two experts
 * without collaboration" of Figs. 2 and 9.
 */
export const ANALYSIS_EXPERTS = 2;
export const analysisRun = (method: string, imbalanceFactor?: number): RunSpec => ({
  method,
  experts: ANALYSIS_EXPERTS,
  ...(imbalanceFactor !== undefined ? { imbalanceFactor } : {}),
});

/** Which prediction an accuracy is of: expert 1 (index 0), the mean over the experts' accuracies, or the ensemble. */
export type Predictor = 'expert1' | 'expertMean' | 'ensemble';
export type Split = 'top1' | 'many' | 'medium' | 'few';

/** An accuracy read from a finished run (a fraction; NaN for a split without classes). */
export interface Metric {
  predictor: Predictor;
  /** Default 'top1'. */
  split?: Split;
  /** Default 'test'; 'train' needs a run with `trainAccuracy`. */
  set?: 'test' | 'train';
}

export const EXPERT1: Metric = { predictor: 'expert1' };
export const EXPERT_MEAN: Metric = { predictor: 'expertMean' };
export const ENSEMBLE: Metric = { predictor: 'ensemble' };

export const PREDICTOR_LABEL: Record<Predictor, string> = {
  expert1: 'expert 1',
  expertMean: 'mean over experts',
  ensemble: 'ensemble',
};

export function accuracy(r: RunResult, m: Metric): number {
  const set = m.set === 'train' ? r.metrics.trainSet : r.metrics.test;
  if (!set) throw new Error(`${r.dir}: no accuracy on the training set (run without eval.trainAccuracy)`);
  const p =
    m.predictor === 'ensemble' ? set.ensemble : m.predictor === 'expert1' ? set.experts[0] : set.expertMean;
  return p[m.split ?? 'top1'] ?? NaN;
}

export interface FigureContext {
  protocol: string;
  seeds: number[];
  /** The results folder the runs are read from (and files beside them, e.g. the PyTorch twin's). */
  resultsDir: string;
  /** The finished run of a config (the runner trained it before build() is called). */
  get(c: TrainConfig): RunResult;
  /**
   * Other finished runs of the training `c` describes (`replicates.replicatesOf`: other seeds, other keys), which a
   * figure pools into the quantity of `c`; the runner lists them among the entry's runs. Absent: none pooled.
   */
  replicates?(c: TrainConfig): RunResult[];
  /** The noise floor of a top-1 difference (`replicates.noiseFloor` of the results folder); absent: 0. */
  floor?: number;
}

export interface FigureOutput {
  figure: Figure;
  /** The numbers plotted: per seed and mean ± std. */
  data: unknown;
  /** Markdown table, for tables. */
  table?: string;
  claim: string;
  measured: string;
  verdict: Verdict | 'n/a (illustration)';
  /** The verdict in plain words: each comparison of the claim, as measured. */
  reading: string;
}

export interface FigureSpec {
  id: string;
  title: string;
  runs(protocol: string, seeds: number[]): TrainConfig[];
  /** What a figure without runs describes (for its settings label); default: its runs. */
  describes?(protocol: string): TrainConfig[];
  build(ctx: FigureContext): FigureOutput;
}

/** The configs of `runs` for each seed (with their teachers), each once, run by run. */
export function configsOf(protocol: string, seeds: number[], runs: RunSpec[]): TrainConfig[] {
  const unique = new Map<string, TrainConfig>();
  for (const run of runs)
    for (const s of seeds) for (const c of runConfigs(protocol, s, run)) unique.set(configHash(c), c);
  return [...unique.values()];
}

/**
 * What makes two runs paired: the same seed and the same long-tailed subset (dataset, imbalance, share, subset seed,
 * test set), hence the same batch order and the same initial weights of expert 1 whatever the method.
 */
export function pairKey(c: TrainConfig): string {
  const d = c.data;
  return [
    c.seed,
    d.dataset,
    d.imbalanceFactor,
    d.fraction,
    d.subsetSeed ?? c.seed,
    d.testPerClass ?? 'all',
  ].join('|');
}

/** A quantity read from each run, over seeds, with the runs' pairing keys (`pairKey`). */
export function runStat(runs: RunResult[], f: (r: RunResult) => number): Stat {
  return stat(
    runs.map(f),
    runs.map((r) => pairKey(r.config)),
  );
}

/** The finished runs of `run`, one per seed of the context. */
export function runsOf(ctx: FigureContext, run: RunSpec): RunResult[] {
  return ctx.seeds.map((s) => ctx.get(runConfig(ctx.protocol, s, run)));
}
