/**
 * The lib's own methods, registered like any other (./registry.ts):
 *
 *   'ce'    Σ_k CE(z_k, y)           plain cross-entropy per expert (Table 7, naive row; Table 4 "CE")
 *   'bsce'  Σ_k BSCE(z_k, y)         balanced softmax CE per expert (Eq. 3; the "BSCE (baseline)" rows)
 *   'ncl'   NCL (CVPR 2022): NCL++ without IntraCL, InterCL as NCL's code computes it (Σ KL / (K − 1); its
 *           hard-category KL on softmax(b ⊙ mask)); its self-supervised branch is not reproduced
 *   'nclpp' NCL++, Eq. 14 in full
 *
 * and the paper's ablations (`EXPERIMENT_VARIANTS`: 'bil+nfl', 'bil+inter', ...), each a method whose defaults are
 * its switches, K and T, and whose canonical form is the config of the method it varies (so its runs are those runs).
 *
 * The four share one options schema (`PaperLossOptions`, a config's `loss` section as it is): λ, β, C_hard, the
 * semantics and the switches of `loss.options`, with the paper's defaults (λ = 0.6, β = 0.3, i.e. C_hard =
 * max(2, round(0.3·C)), the authors' code semantics 'official'). Every loss is averaged over the T·B rows and summed
 * over the K experts.
 */
import { z } from 'zod';
import { tf } from '../tf';
import type { TrainConfig } from '../train/config';
import { DATASET_CLASSES } from '../data/types';
import { bsce, crossEntropy } from './balanced';
import { numHardFromRatio } from './hcm';
import { LearnableLossWeights } from './learnable';
import { LOSS_MODES } from './mode';
import {
  COLLABORATIONS,
  NCL_TERMS,
  NclSwitches,
  PAPER_DEFAULTS,
  nclLossWith,
  type NclLossConfig,
} from './nested';
import {
  registerBuiltin,
  type ConfigIssue,
  type LossBase,
  type LossContext,
  type LossFn,
  type MethodSpec,
} from './registry';

export {
  LossBase,
  MethodSource,
  defineMethod,
  registerMethod,
  getMethod,
  findMethod,
  methodNames,
  lossForMethod,
} from './registry';
export type { LossFn, LossContext, Method, MethodSpec } from './registry';

/**
 * `loss.options`: the switches of the paper's ablations and variants (`NclSwitches`: bil, interCL, intraCL,
 * nestedHard, hardMining, balancedInter), learnable λ1, λ2 (Table 6) and separate λ1 / λ2. Unknown keys are an error.
 */
export const NclOptions = NclSwitches.extend({
  /** Learned (λ1, λ2) = softmax(w_intra, w_inter) instead of λ (Table 6). */
  learnable: z.boolean().default(false),
  /** λ1 (IntraCL) when it should differ from λ; null = λ. */
  lambdaIntra: z.number().finite().nonnegative().nullable().default(null),
  /** λ2 (InterCL) when it should differ from λ; null = λ. */
  lambdaInter: z.number().finite().nonnegative().nullable().default(null),
}).strict();
export type NclOptions = z.output<typeof NclOptions>;

/** The options of ce, bsce, ncl and nclpp: a config's `loss` section but for `numCopies` and `teachers`. */
export const PaperLossOptions = z
  .object({
    /** λ = λ1 = λ2 (Eq. 14). */
    lambda: z.number().finite().min(0).default(PAPER_DEFAULTS.lambda),
    /** β = C_hard / C (Sec. 4.2); numHard = max(2, round(β·C)) unless `numHard` is set. */
    beta: z.number().min(0).max(1).default(PAPER_DEFAULTS.beta),
    /** C_hard, the size of the hard set, target included (Eq. 7); null: from β. */
    numHard: z.number().int().min(1).nullable().default(null),
    /** 'official': as the authors' code computes it; 'paper': Eq. 1-14 as written. */
    mode: z.enum(LOSS_MODES).default('official'),
    /** The switches (`NclOptions`). */
    options: NclOptions.default({}),
  })
  .strict();
/** The `loss` section of a config of ce, bsce, ncl or nclpp. */
export type PaperLoss = z.output<typeof PaperLossOptions> & LossBase;
type PaperConfig = Omit<TrainConfig, 'loss'> & { loss: PaperLoss };
type Canonical = (c: TrainConfig) => PaperConfig;

/** Every default of the `loss` section, for the canonical forms. */
const DEFAULTS: PaperLoss = { ...PaperLossOptions.parse({}), numCopies: 1, teachers: [] };

/** Σ_k f(z_k) over the experts, logged as one term. */
function perExpert(
  term: string,
  f: (z: tf.Tensor2D, labels: tf.Tensor1D, counts: number[]) => tf.Scalar,
): LossFn {
  return (logits, labels, classCounts) => {
    if (logits.length === 0) throw new Error(`${term}: give one logits tensor per expert`);
    return tf.tidy(() => {
      const total = tf.addN(logits.map((z) => f(z, labels, classCounts))) as tf.Scalar;
      return { total, terms: { [term]: tf.clone(total) } };
    });
  };
}

/**
 * The nested loss of a config (nclLossWith): λ, C_hard (`numHard`, else β·C), T, the semantics and the switches as
 * they are. `learnable` creates the two weights of Table 6, owned by the LossFn. Random hard categories (Fig. 6b)
 * are drawn afresh at every step from a seed of (run seed, step): deterministic, and the same after a resume.
 */
function nestedLossFn(
  o: PaperLoss,
  ctx: LossContext,
  collaboration: (typeof COLLABORATIONS)[number],
  withIntraCL: boolean,
): LossFn {
  const C = ctx.numClasses;
  const numHard = o.numHard ?? (C === undefined ? null : numHardFromRatio(o.beta, C));
  if (numHard != null && C !== undefined && numHard > C)
    throw new Error(`loss.numHard: C_hard = ${numHard} exceeds the ${C} classes`);
  const weights = o.options.learnable ? new LearnableLossWeights() : undefined;
  const config: NclLossConfig = {
    ...o.options,
    intraCL: withIntraCL && o.options.intraCL,
    learnable: weights,
    numCopies: o.numCopies,
    lambda: o.lambda,
    numHard,
    beta: o.beta,
    mode: o.mode,
    collaboration,
    seed: ctx.seed,
  };
  const fn: LossFn = (logits, labels, classCounts) => {
    const r = nclLossWith(logits, labels, classCounts, config);
    const terms: Record<string, tf.Scalar> = {};
    for (const name of NCL_TERMS) terms[name] = r[name];
    return { total: r.total, terms };
  };
  const seed = ctx.seed ?? 0;
  if (config.hardMining === 'random')
    fn.onStep = (globalStep) => (config.seed = (Math.imul(seed + 1, 1_000_003) + globalStep) | 0);
  if (weights) {
    fn.variables = { w_intra: weights.intra, w_inter: weights.inter };
    fn.dispose = () => weights.dispose();
  }
  return fn;
}

/** CE and BSCE read no loss setting but T (and, with offline-distillation teachers, λ and the semantics). */
const singleNetworkCanonical: Canonical = (input) => {
  const c = input as PaperConfig;
  const teachers = c.loss.teachers.length > 0;
  c.loss = {
    ...structuredClone(DEFAULTS),
    numCopies: c.loss.numCopies,
    teachers: c.loss.teachers,
    ...(teachers ? { lambda: c.loss.lambda, mode: c.loss.mode } : {}),
  };
  return c;
};

/**
 * NCL and NCL++, each rule an exact equivalence of the loss:
 *   - IntraCL needs T ≥ 2 copies, InterCL K ≥ 2 experts, and NCL has no IntraCL: otherwise the switch is off;
 *   - an off InterCL has no balanced scale and no λ2, an off IntraCL no λ1; λ1 or λ2 equal to λ is λ;
 *   - without the hard-category terms, β, C_hard and the mining rule are unused;
 *   - without InterCL and IntraCL, λ is unused (unless learnable) and NCL is NCL++ (their losses differ only in the
 *     collaborative terms); without the hard-category terms as well, the loss is BSCE (or CE, without BIL) summed
 *     over experts, i.e. method 'bsce' (or 'ce').
 */
function collaborativeCanonical(input: TrainConfig, withIntraCL: boolean): PaperConfig {
  const c = input as PaperConfig;
  const o = c.loss.options;
  if (c.loss.numCopies < 2 || !withIntraCL) o.intraCL = false;
  if (c.model.numExperts < 2) o.interCL = false;
  if (!o.interCL) {
    o.balancedInter = DEFAULTS.options.balancedInter;
    o.lambdaInter = null;
  }
  if (!o.intraCL) o.lambdaIntra = null;
  if (o.lambdaIntra === c.loss.lambda) o.lambdaIntra = null;
  if (o.lambdaInter === c.loss.lambda) o.lambdaInter = null;
  if (!o.nestedHard) {
    c.loss.beta = DEFAULTS.beta;
    c.loss.numHard = null;
    o.hardMining = DEFAULTS.options.hardMining;
  }
  if (!o.interCL && !o.intraCL) {
    if (!o.learnable) c.loss.lambda = DEFAULTS.lambda;
    o.learnable = false;
    c.method = 'nclpp';
    if (!o.nestedHard) {
      c.method = o.bil ? 'bsce' : 'ce';
      return c;
    }
  }
  if (o.learnable) o.lambdaIntra = o.lambdaInter = null;
  return c;
}

/** C_hard within the dataset's C classes. */
function checkNumHard(input: TrainConfig): ConfigIssue[] {
  const c = input as PaperConfig;
  const classes = DATASET_CLASSES[c.data.dataset];
  return c.loss.numHard != null && c.loss.numHard > classes
    ? [
        {
          path: ['loss', 'numHard'],
          message: `C_hard = ${c.loss.numHard} exceeds the ${classes} classes of ${c.data.dataset}`,
        },
      ]
    : [];
}

/** What a config of NCL (`withIntraCL` false) or NCL++ leaves out that the method's name promises. */
function collaborativeWarnings(input: TrainConfig, withIntraCL: boolean): string[] {
  const c = input as PaperConfig;
  const w: string[] = [];
  if (withIntraCL && c.loss.numCopies < 2)
    w.push(
      `${c.method} with loss.numCopies = ${c.loss.numCopies}: IntraCL needs T ≥ 2 copies and is 0 in this run`,
    );
  if (c.model.numExperts < 2)
    w.push(
      `${c.method} with model.numExperts = ${c.model.numExperts}: InterCL needs K ≥ 2 experts and is 0 in this run`,
    );
  return w;
}

type PaperSpec = MethodSpec<typeof PaperLossOptions>;
const paper = (spec: Omit<PaperSpec, 'options' | 'check'>): PaperSpec => ({
  ...spec,
  options: PaperLossOptions,
  check: checkNumHard,
});

const ce = paper({
  name: 'ce',
  label: 'CE',
  description: 'plain cross-entropy per expert (Eq. 1)',
  loss: () => perExpert('ce', (z, y) => crossEntropy(z, y)),
  canonical: singleNetworkCanonical,
});
const bsceMethod = paper({
  name: 'bsce',
  label: 'BSCE',
  description: 'balanced softmax cross-entropy per expert (Eq. 2-3), the baseline',
  loss: () => perExpert('bsce', bsce),
  canonical: singleNetworkCanonical,
});
const ncl = paper({
  name: 'ncl',
  label: 'NCL',
  description: 'NCL (CVPR 2022): NCL++ without IntraCL, with NCL’s own InterCL',
  experts: 'protocol',
  loss: (o, ctx) => nestedLossFn(o as PaperLoss, ctx, 'ncl', false),
  canonical: (c) => collaborativeCanonical(c, false),
  warnings: (c) => collaborativeWarnings(c, false),
});
const nclpp = paper({
  name: 'nclpp',
  label: 'NCL++',
  description: 'NCL++ (Eq. 14): nested BSCE + λ·IntraCL + λ·InterCL',
  experts: 'protocol',
  copies: 'protocol',
  loss: (o, ctx) => nestedLossFn(o as PaperLoss, ctx, 'nclpp', true),
  canonical: (c) => collaborativeCanonical(c, true),
  warnings: (c) => collaborativeWarnings(c, true),
});
const BASE = { ce, bsce: bsceMethod, ncl, nclpp };
for (const m of Object.values(BASE)) registerBuiltin(m);

/** The switches a variant sets in `loss.options` (NclSwitches, and learnable λ1, λ2 of Table 6). */
export type VariantOptions = Partial<NclOptions>;

/** One of the paper's loss variants, as a run trains it. */
export interface ExperimentVariant {
  /** The method it varies. */
  method: keyof typeof BASE;
  /** Its `loss.options` switches. */
  options: VariantOptions;
  /** Experts K; unset: the method's default (1 for CE and BSCE, the protocol's for NCL and NCL++). */
  experts?: number;
  /** Augmented copies T; unset: the method's default (the protocol's for NCL++, else 1). */
  copies?: number;
  label: string;
  what: string;
}

/**
 * The paper's loss variants: the rows of Table 7 (`TABLE7_ROWS`), Fig. 6b's random categories, Fig. 12a's InterCL
 * without the balanced scale and Table 6's learnable weights. Each is a registered method of that name (but those
 * named like their method). Fig. 12b (BIL + OffDis) needs teacher runs: see `RunSpec.teachers` and
 * `offlineDistillation`.
 */
const VARIANTS = {
  ce: { method: 'ce', options: {}, label: 'CE', what: 'Table 7 row 1: plain cross-entropy' },
  bil: { method: 'bsce', options: {}, label: 'BIL', what: 'Table 7: BIL (BSCE), the baseline' },
  'bil+nfl': {
    method: 'nclpp',
    options: { interCL: false, intraCL: false },
    experts: 1,
    copies: 1,
    label: 'BIL + NFL_hard',
    what: 'Table 7: BIL + NFL_hard, one network (Fig. 6b "BSCE + HCM")',
  },
  'bil+random': {
    method: 'nclpp',
    options: { interCL: false, intraCL: false, hardMining: 'random' },
    experts: 1,
    copies: 1,
    label: 'BIL + random categories',
    what: 'Fig. 6b: BSCE + random categories, one network',
  },
  'bil+inter': {
    method: 'ncl',
    options: { nestedHard: false },
    experts: 2,
    label: 'BIL + InterCL',
    what: 'Table 7: BIL + InterCL (NCL without its hard-category terms; Fig. 7 at K = 2)',
  },
  'bil+inter-unbalanced': {
    method: 'ncl',
    options: { nestedHard: false, balancedInter: false },
    experts: 2,
    label: 'BIL + InterCL w/o balanced scale',
    what: 'Fig. 12a: BIL + InterCL w/o the balanced scale',
  },
  'bil+intra': {
    method: 'nclpp',
    options: { interCL: false, nestedHard: false },
    experts: 1,
    label: 'BIL + IntraCL',
    what: 'Table 7: BIL + IntraCL, one network',
  },
  'bil+inter+intra': {
    method: 'nclpp',
    options: { nestedHard: false },
    label: 'BIL + InterCL + IntraCL',
    what: 'Table 7: BIL + InterCL + IntraCL',
  },
  nclpp: { method: 'nclpp', options: {}, label: 'NCL++', what: 'Table 7: NCL++ (all components)' },
  'nclpp-learnable': {
    method: 'nclpp',
    options: { learnable: true },
    label: 'NCL++ (learnable λ)',
    what: 'Table 6: NCL++ with learnable λ1, λ2',
  },
  ncl: { method: 'ncl', options: {}, label: 'NCL', what: 'NCL (CVPR 2022): NCL++ without IntraCL' },
} satisfies Record<string, ExperimentVariant>;
export type VariantName = keyof typeof VARIANTS;
export const EXPERIMENT_VARIANTS: Readonly<Record<VariantName, ExperimentVariant>> = VARIANTS;

/** The options schema of a variant: its method's, with the variant's switches as the defaults of `loss.options`. */
function variantOptions(options: VariantOptions) {
  const shape = NclOptions.shape as Record<string, z.ZodDefault<z.ZodTypeAny>>;
  const defaults = Object.fromEntries(
    Object.entries(options).map(([k, v]) => [k, shape[k].removeDefault().default(v)]),
  );
  return PaperLossOptions.extend({ options: NclOptions.extend(defaults).strict().default({}) }).strict();
}

for (const [name, v] of Object.entries(VARIANTS) as [VariantName, ExperimentVariant][]) {
  if (name in BASE) continue;
  const base: PaperSpec = BASE[v.method];
  registerBuiltin({
    ...base,
    name,
    label: v.label,
    description: v.what,
    options: variantOptions(v.options),
    experts: v.experts ?? base.experts,
    copies: v.copies ?? base.copies,
    // Its runs are the runs of the method it varies, with its switches written out.
    canonical: (c) => ({ ...c, method: v.method }),
  });
}

/** Table 7's rows, top to bottom (its last row is NCL++'s ensemble of the same runs). */
export const TABLE7_ROWS: VariantName[] = [
  'ce',
  'bil',
  'bil+nfl',
  'bil+inter',
  'bil+intra',
  'bil+inter+intra',
  'nclpp',
];

/**
 * Which of Table 7's components a variant trains with, on a protocol with `protocol.experts` experts and
 * `protocol.copies` copies for NCL++: BIL (balanced logits), InterCL (K ≥ 2 collaborating experts), IntraCL (T ≥ 2
 * copies, NCL++ only) and NFL_hard.
 */
export function variantComponents(
  v: ExperimentVariant,
  protocol: { experts: number; copies: number },
): { bil: boolean; interCL: boolean; intraCL: boolean; nestedHard: boolean } {
  const collaborative = v.method === 'ncl' || v.method === 'nclpp';
  const o = v.options;
  const experts = v.experts ?? protocol.experts;
  const copies = v.copies ?? protocol.copies;
  return {
    bil: v.method !== 'ce' && o.bil !== false,
    interCL: collaborative && experts > 1 && o.interCL !== false,
    intraCL: v.method === 'nclpp' && copies > 1 && o.intraCL !== false,
    nestedHard: collaborative && o.nestedHard !== false,
  };
}
