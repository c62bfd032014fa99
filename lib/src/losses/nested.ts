/**
 * The whole NCL++ loss: nested (global + hard-category) individual and collaborative learning.
 *
 *   Eq. 10  L_bil   = L_bil^G   + L_bil^P          BSCE on all classes + on the hard set (Eq. 3, 9)
 *   Eq. 12  L_inter = L_inter^G + L_inter^P        mutual KL among experts, all classes + hard set (Eq. 4, 11)
 *   Eq. 13  L_intra = L_intra^G + L_intra^P        mutual KL among copies, per expert, summed (Eq. 5, 6)
 *   Eq. 14  L = L_bil + λ1 L_intra + λ2 L_inter,   λ1 = λ2 = λ = 0.6 in the paper
 *
 * Inputs: K experts' logits, each [T·B, C] with copy-major rows (row t·B + i is copy t of sample i), labels [T·B].
 * One shared hard set (Eq. 7) supports the collaborative partial terms: it is mined from expert 0's raw logits, and
 * IntraCL uses the hard set of copy 0 (rows 0..B−1) for every copy. In 'paper' mode L_bil^P mines each expert's own
 * hard set; in 'official' mode it uses the shared one. See mode.ts for how 'paper' and 'official' differ.
 *
 * Variants (all options of `nclLoss`): the Table 7 ablation switches (`bil`, `interCL`, `intraCL`, `nestedHard`),
 * random instead of hard categories (`hardMining: 'random'`, Fig. 6b), InterCL on unbalanced probabilities
 * (`balancedInter: false`, Fig. 12a), separate or learnable λ1, λ2 (Table 6), and NCL (CVPR 2022) = `intraCL: false`
 * with `collaboration: 'ncl'` (its own normalisation and hard-category KL, as the authors' NCL code computes them).
 */
import { z } from 'zod';
import { tf } from '../tf';
import { balancedLogits, crossEntropy } from './balanced';
import { interCL, interCLOnHardSet, intraCL, intraCLOnHardSet } from './collaborative';
import {
  hardCategoryMask,
  numHardFromRatio,
  partialCrossEntropy,
  randomCategoryMask,
  resolveNumHard,
} from './hcm';
import { type Distribution, distribution, maskedLogitsDistribution, partialDistribution } from './kl';
import { LearnableLossWeights } from './learnable';
import { LOSS_MODES } from './mode';

/** The paper's settings (Sec. 4.2): λ = 0.6, β = C_hard / C = 0.3, two experts, four copies (two on ImageNet-LT). */
export const PAPER_DEFAULTS = { lambda: 0.6, beta: 0.3, numExperts: 2, numCopies: 4 } as const;

/** The six terms of Eq. 10-13, in the order of `NclLossResult`. */
export const NCL_TERMS = ['bil', 'bilPartial', 'intra', 'intraPartial', 'inter', 'interPartial'] as const;
export type NclTermName = (typeof NCL_TERMS)[number];

/** Every term as a scalar. `intra*` already carry λ1 and `inter*` carry λ2; `total` is their sum (Eq. 14). */
export type NclLossResult = Record<NclTermName | 'total', tf.Scalar>;

/**
 * The switches of the paper's ablations and variants (Table 7, Figs. 6b, 12a): the part of the loss options a run's
 * config sets in `loss.options` (losses/methods.ts `NclOptions`), with the paper's NCL++ as the default.
 */
export const NclSwitches = z
  .object({
    /** Table 7 "BIL": balanced individual learning; false = plain cross-entropy on raw logits (the naive row). */
    bil: z.boolean().default(true),
    /** Table 7 "InterCL": mutual distillation among experts. */
    interCL: z.boolean().default(true),
    /** Table 7 "IntraCL": mutual distillation among copies. */
    intraCL: z.boolean().default(true),
    /** Table 7 "NFL_hard": the partial (hard-category) terms L_bil^P, L_intra^P, L_inter^P. */
    nestedHard: z.boolean().default(true),
    /** 'hcm' (Eq. 7) or 'random' categories (Fig. 6b, "BSCE + random"). */
    hardMining: z.enum(['hcm', 'random']).default('hcm'),
    /** false: InterCL on unbalanced softmax(z) instead of softmax(z + log n) (Fig. 12a "w/o balanced scale"). */
    balancedInter: z.boolean().default(true),
  })
  .strict();
export type NclSwitches = z.output<typeof NclSwitches>;

/**
 * Whose collaborative terms: 'nclpp' (NCL++, Eq. 4 and 11: Σ_{k≠q} KL / (K(K−1)/2), the authors' `NBOD_NCL_plus`) or
 * 'ncl' (NCL, CVPR 2022, the authors' `NBOD`: Σ_{k≠q} KL / (K−1), and in 'official' mode its hard-category KL is
 * between softmax(b ⊙ mask) over all classes rather than the restricted full softmax). Equal at K = 2 except for
 * that partial term.
 */
export const COLLABORATIONS = ['nclpp', 'ncl'] as const;

/** Options of `nclLoss`, validated with zod. Everything but `numCopies` has the paper's default. */
export const NclLossOptions = NclSwitches.extend({
  /** T, augmented copies per sample; the rows of each logits tensor are T blocks of B samples. */
  numCopies: z.number().int().positive(),
  /** λ = λ1 = λ2 of Eq. 14. */
  lambda: z.number().finite().nonnegative().default(PAPER_DEFAULTS.lambda),
  /** λ1 (IntraCL) when it should differ from λ. */
  lambdaIntra: z.number().finite().nonnegative().nullish(),
  /** λ2 (InterCL) when it should differ from λ. */
  lambdaInter: z.number().finite().nonnegative().nullish(),
  /** Learned (λ1, λ2) = softmax(w1, w2) (Table 6); replaces λ. */
  learnable: z.instanceof(LearnableLossWeights).optional(),
  /** C_hard, the size of the hard set, target included (Eq. 7); takes precedence over β. null = not set. */
  numHard: z.number().int().positive().nullish(),
  /** β = C_hard / C, used when numHard is not set: C_hard = max(2, round(β·C)). */
  beta: z.number().min(0).max(1).default(PAPER_DEFAULTS.beta),
  /** 'official' (the authors' code, default) or 'paper' (Eq. 1-14 as written). */
  mode: z.enum(LOSS_MODES).default('official'),
  /** Whose collaborative terms (see COLLABORATIONS); method 'ncl' sets 'ncl'. */
  collaboration: z.enum(COLLABORATIONS).default('nclpp'),
  /** Seed for `hardMining: 'random'` (the same seed draws the same sets on every call). */
  seed: z.number().int().optional(),
})
  .strict()
  .refine((o) => o.learnable === undefined || (o.lambdaIntra == null && o.lambdaInter == null), {
    message: 'learnable weights replace lambdaIntra / lambdaInter: give one or the other',
    path: ['learnable'],
  });
/** What callers pass (defaults optional). */
export type NclLossOptionsInput = z.input<typeof NclLossOptions>;
/** After parsing (defaults filled in). */
export type NclLossConfig = z.output<typeof NclLossOptions>;

/** A λ of Eq. 14: a number, or a scalar tensor (learnable weights). */
export type LossWeight = number | tf.Scalar;

/**
 * Eq. 10-14 from the six unweighted terms: weights the collaborative terms by λ1 (intra) and λ2 (inter) and sums.
 * @param parts scalars: bil, bilPartial and the *unweighted* intra, intraPartial, inter, interPartial.
 * @returns the weighted terms and `total`.
 */
export function nestedLoss(
  parts: Record<NclTermName, tf.Scalar>,
  weights: { lambdaIntra: LossWeight; lambdaInter: LossWeight },
): NclLossResult {
  return tf.tidy(() => {
    const intra = tf.mul(parts.intra, weights.lambdaIntra) as tf.Scalar;
    const intraPartial = tf.mul(parts.intraPartial, weights.lambdaIntra) as tf.Scalar;
    const inter = tf.mul(parts.inter, weights.lambdaInter) as tf.Scalar;
    const interPartial = tf.mul(parts.interPartial, weights.lambdaInter) as tf.Scalar;
    const bil = tf.clone(parts.bil);
    const bilPartial = tf.clone(parts.bilPartial);
    const total = tf.addN([bil, bilPartial, intra, intraPartial, inter, interPartial]) as tf.Scalar;
    return { total, bil, bilPartial, intra, intraPartial, inter, interPartial };
  });
}

/**
 * The NCL++ loss (Eq. 14) and its six terms. Differentiable (tf.grads / tf.variableGrads) in every expert's logits
 * (and in learnable weights when given).
 * @param logits K tensors [T·B, C]: raw outputs z of each expert, copy-major rows.
 * @param labels [T·B] int32: the B labels repeated T times.
 * @param classCounts n, [C]: training images per class (each ≥ 1).
 * @param options see `NclLossOptions` (numCopies is required).
 * @returns { total, bil, bilPartial, intra, intraPartial, inter, interPartial }, scalars.
 */
export function nclLoss(
  logits: readonly tf.Tensor2D[],
  labels: tf.Tensor1D,
  classCounts: readonly number[],
  options: NclLossOptionsInput,
): NclLossResult {
  return nclLossWith(logits, labels, classCounts, NclLossOptions.parse(options));
}

/** `nclLoss` with options already parsed (lets a training loop parse once). */
export function nclLossWith(
  logits: readonly tf.Tensor2D[],
  labels: tf.Tensor1D,
  classCounts: readonly number[],
  opts: NclLossConfig,
): NclLossResult {
  const { numClasses, samples } = checkInputs(logits, labels, classCounts, opts.numCopies);
  const numHard =
    opts.numHard != null ? resolveNumHard(opts.numHard, numClasses) : numHardFromRatio(opts.beta, numClasses);
  const { mode, numCopies } = opts;
  const zero = (): tf.Scalar => tf.scalar(0);

  return tf.tidy(() => {
    // The K experts side by side, [K, N, C]: each term below is one computation over all experts.
    const z = tf.stack([...logits]);
    const balanced = balancedLogits(z, classCounts);
    // Individual learning: BSCE on balanced logits (Eq. 3), or plain CE on raw logits (Table 7, no BIL).
    const individual = opts.bil ? balanced : z;
    const bil = crossEntropy(individual, labels);

    // Eq. 7: one shared hard set, mined from expert 0's raw logits (or drawn at random, Fig. 6b).
    const mask =
      opts.hardMining === 'hcm'
        ? hardCategoryMask(logits[0], labels, numHard)
        : randomCategoryMask(labels, numClasses, numHard, opts.seed);
    // IntraCL's hard set: copy 0's rows, reused for every copy.
    const intraMask = () => tf.tile(tf.slice(mask, [0, 0], [samples, numClasses]), [numCopies, 1]);

    // Eq. 9: in 'paper' mode each expert mines its own hard set from its own raw logits.
    const ownMasks = mode === 'paper' && opts.hardMining === 'hcm' && logits.length > 1;
    const bilMask = ownMasks
      ? tf.stack(logits.map((zk, k) => (k === 0 ? mask : hardCategoryMask(zk, labels, numHard))))
      : mask;
    const bilPartial = opts.nestedHard ? partialCrossEntropy(individual, labels, bilMask, mode) : zero();

    // The KL members: the experts' balanced probabilities on all classes (computed once, shared by InterCL and
    // IntraCL) and on the hard sets. NCL's own code forms its hard-category members from the masked logits.
    const ncl = opts.collaboration === 'ncl';
    let global: Distribution | null = null;
    const balancedGlobal = (): Distribution => (global ??= distribution(balanced, mode));
    const onHardSet = (x: tf.Tensor, m: tf.Tensor): Distribution =>
      ncl ? maskedLogitsDistribution(x, m, mode) : partialDistribution(x, m, mode);

    // Eq. 4, 11: InterCL on balanced (or, Fig. 12a, raw) probabilities; NCL normalises by K − 1.
    // Eq. 5, 6, 13: IntraCL among the T copies of each expert.
    // In the authors' NCL++ code the hard-set KL is the global KL restricted to the hard set: one pass gives both.
    const norm = ncl ? 'peers' : 'pairs';
    const interGlobal = (): Distribution => (opts.balancedInter ? balancedGlobal() : distribution(z, mode));
    const restricted = mode === 'official' && !ncl && opts.nestedHard;
    let inter = zero();
    let interPartial = zero();
    if (opts.interCL && restricted) {
      ({ global: inter, partial: interPartial } = interCLOnHardSet(interGlobal(), mask, norm));
    } else if (opts.interCL) {
      inter = interCL(interGlobal(), norm);
      if (opts.nestedHard) interPartial = interCL(onHardSet(opts.balancedInter ? balanced : z, mask), norm);
    }
    let intra = zero();
    let intraPartial = zero();
    if (opts.intraCL && restricted) {
      const copy0 = tf.slice(mask, [0, 0], [samples, numClasses]);
      ({ global: intra, partial: intraPartial } = intraCLOnHardSet(balancedGlobal(), copy0, numCopies));
    } else if (opts.intraCL) {
      intra = intraCL(balancedGlobal(), numCopies);
      if (opts.nestedHard) intraPartial = intraCL(onHardSet(balanced, intraMask()), numCopies);
    }

    const weights = opts.learnable
      ? opts.learnable.lambdas()
      : { lambdaIntra: opts.lambdaIntra ?? opts.lambda, lambdaInter: opts.lambdaInter ?? opts.lambda };
    return nestedLoss({ bil, bilPartial, intra, intraPartial, inter, interPartial }, weights);
  });
}

/** Shapes of the nclLoss inputs: K ≥ 1 logits of one shape [N, C], labels [N], N = T·B. */
export function checkInputs(
  logits: readonly tf.Tensor2D[],
  labels: tf.Tensor1D,
  classCounts: readonly number[],
  numCopies: number,
): { numExperts: number; rows: number; numClasses: number; samples: number } {
  if (!Array.isArray(logits) || logits.length === 0)
    throw new Error('logits: give one [T·B, C] tensor per expert');
  const [rows, numClasses] = logits[0].shape;
  for (const [k, z] of logits.entries()) {
    if (z.rank !== 2 || z.shape[0] !== rows || z.shape[1] !== numClasses) {
      throw new Error(
        `logits[${k}] has shape [${z.shape}], expected [${rows}, ${numClasses}] like logits[0]`,
      );
    }
  }
  if (classCounts.length !== numClasses) {
    throw new Error(`classCounts has ${classCounts.length} classes, logits have C = ${numClasses}`);
  }
  if (labels.rank !== 1 || labels.shape[0] !== rows) {
    throw new Error(`labels must be [${rows}] (one per logits row), got [${labels.shape}]`);
  }
  if (labels.dtype !== 'int32' && labels.dtype !== 'float32') {
    throw new Error(`labels must hold class indices (int32), got dtype ${labels.dtype}`);
  }
  if (rows % numCopies !== 0) {
    throw new Error(`${rows} rows are not numCopies = ${numCopies} copies of the same batch (T·B rows)`);
  }
  return { numExperts: logits.length, rows, numClasses, samples: rows / numCopies };
}
