/**
 * Training methods as loss functions: the trainer's plug-in contract.
 *
 *   'ce'    Σ_k CE(z_k, y)           plain cross-entropy per expert (Table 7, naive row; Table 4 "CE")
 *   'bsce'  Σ_k BSCE(z_k, y)         balanced softmax CE per expert (Eq. 3; the "BSCE (baseline)" rows)
 *   'ncl'   NCL (CVPR 2022): NCL++ without IntraCL, InterCL as NCL's code computes it (Σ KL / (K − 1); its
 *           hard-category KL on softmax(b ⊙ mask)); its self-supervised branch is not reproduced
 *   'nclpp' NCL++, Eq. 14 in full
 *
 * Every loss is averaged over the T·B rows and summed over the K experts. Defaults are the paper's (λ = 0.6,
 * β = 0.3, i.e. C_hard = max(2, round(0.3·C))) and the authors' code semantics (mode 'official'; 'paper' is
 * selectable through the overrides). `EXPERIMENT_VARIANTS` lists the paper's ablations as runs train them.
 */
import { tf } from '../tf';
import { bsce, crossEntropy } from './balanced';
import { LearnableLossWeights } from './learnable';
import { NCL_TERMS, NclLossOptions, type NclLossOptionsInput, type NclSwitches, nclLossWith } from './nested';

export const METHODS = ['ce', 'bsce', 'ncl', 'nclpp'] as const;
export type Method = (typeof METHODS)[number];

/**
 * The trainer's loss contract: K experts' logits [T·B, C] (copy-major rows), labels [T·B] int32, class counts [C]
 * → the scalar to minimise and named scalar terms for logging. `variables`, when present, are trainable variables
 * the loss owns (learnable loss weights, Table 6): optimise them with the model's.
 */
export interface LossFn {
  (
    logits: tf.Tensor2D[],
    labels: tf.Tensor1D,
    classCounts: number[],
  ): { total: tf.Scalar; terms: Record<string, tf.Scalar> };
  variables?: tf.Variable[];
}

/**
 * What a method's loss may override: any nclLoss option, plus
 *   - `learnable: true` to create learnable λ1, λ2 (Table 6) owned by the LossFn (see `LossFn.variables`);
 *   - `options`: extra nclLoss switches as a record (e.g. from a JSON config), applied last;
 *   - `numClasses`: checked against the logits on every call.
 * Ignored by 'ce' and 'bsce'.
 */
export type NclLossOverrides = Partial<Omit<NclLossOptionsInput, 'learnable'>> & {
  learnable?: boolean | LearnableLossWeights;
  options?: Record<string, unknown>;
  numClasses?: number;
};

/**
 * The loss of a training method. Options are validated here, once (unknown switches are an error).
 * 'nclpp' needs `numCopies` (T: 4 in the paper, 2 on ImageNet-LT) unless IntraCL is switched off; 'ncl' defaults to
 * numCopies = 1.
 * @returns a LossFn; for 'ncl'/'nclpp' `terms` holds the six (weighted) terms of nclLoss, for 'ce'/'bsce' `{ ce }` /
 * `{ bsce }` (the sum over experts, equal to `total`).
 */
export function lossForMethod(method: Method, overrides: NclLossOverrides = {}): LossFn {
  switch (method) {
    case 'ce':
    case 'bsce':
      return (logits, labels, classCounts) => {
        if (logits.length === 0) throw new Error(`${method}: give one logits tensor per expert`);
        return tf.tidy(() => {
          const each = logits.map((z) =>
            method === 'ce' ? crossEntropy(z, labels) : bsce(z, labels, classCounts),
          );
          const total = tf.addN(each) as tf.Scalar;
          return { total, terms: { [method]: tf.clone(total) } };
        });
      };
    case 'ncl':
    case 'nclpp': {
      const { options: extra = {}, numClasses, ...rest } = overrides;
      const merged: Record<string, unknown> = { ...rest, ...extra };
      if (method === 'ncl') Object.assign(merged, { intraCL: false, collaboration: 'ncl' });
      if (merged.intraCL !== false && merged.numCopies === undefined) {
        throw new Error(
          "lossForMethod('nclpp') needs numCopies: T augmented copies per sample (the paper uses 4; 2 on ImageNet-LT)",
        );
      }
      if (merged.learnable === true) merged.learnable = new LearnableLossWeights();
      if (merged.learnable === false) delete merged.learnable;
      const opts = NclLossOptions.parse({ numCopies: 1, ...merged });
      const fn: LossFn = (logits, labels, classCounts) => {
        if (numClasses !== undefined && logits[0]?.shape[1] !== numClasses) {
          throw new Error(
            `${method}: expected C = ${numClasses} classes, logits have ${logits[0]?.shape[1]}`,
          );
        }
        const r = nclLossWith(logits, labels, classCounts, opts);
        const terms: Record<string, tf.Scalar> = {};
        for (const name of NCL_TERMS) terms[name] = r[name];
        return { total: r.total, terms };
      };
      if (opts.learnable) fn.variables = opts.learnable.variables;
      return fn;
    }
    default:
      throw new Error(`unknown method '${method as string}'; one of ${METHODS.join(', ')}`);
  }
}

/** The switches a variant sets in a run's `loss.options` (NclSwitches, and learnable λ1, λ2 of Table 6). */
export type VariantSwitches = Partial<NclSwitches> & { learnable?: boolean };

/** One of the paper's loss variants, as a run trains it. */
export interface ExperimentVariant {
  method: Method;
  /** The loss switches (for `lossForMethod(method, overrides)` and a run's `loss.options`). */
  overrides: VariantSwitches;
  /** Experts K; unset: the protocol's for the method (1 for CE and BSCE, 2 for NCL and NCL++). */
  experts?: number;
  /** Augmented copies T; unset: the protocol's for the method (1 without IntraCL). */
  copies?: number;
  what: string;
}

/**
 * The paper's loss variants: the rows of Table 7 (`TABLE7_ROWS`), Fig. 6b's random categories, Fig. 12a's InterCL
 * without the balanced scale and Table 6's learnable weights. The experiments train exactly these (experiments/
 * `variantRun`); for a bare loss add `numCopies` to those with IntraCL. Fig. 12b (BIL + OffDis) needs teacher
 * outputs: see `offlineDistillation`.
 */
const VARIANTS = {
  ce: { method: 'ce', overrides: {}, what: 'Table 7 row 1: plain cross-entropy' },
  bil: { method: 'bsce', overrides: {}, what: 'Table 7: BIL (BSCE), the baseline' },
  'bil+nfl': {
    method: 'nclpp',
    overrides: { interCL: false, intraCL: false },
    experts: 1,
    copies: 1,
    what: 'Table 7: BIL + NFL_hard, one network (Fig. 6b "BSCE + HCM")',
  },
  'bil+random': {
    method: 'nclpp',
    overrides: { interCL: false, intraCL: false, hardMining: 'random' },
    experts: 1,
    copies: 1,
    what: 'Fig. 6b: BSCE + random categories, one network',
  },
  'bil+inter': {
    method: 'ncl',
    overrides: { nestedHard: false },
    experts: 2,
    what: 'Table 7: BIL + InterCL (NCL without its hard-category terms; Fig. 7 at K = 2)',
  },
  'bil+inter-unbalanced': {
    method: 'ncl',
    overrides: { nestedHard: false, balancedInter: false },
    experts: 2,
    what: 'Fig. 12a: BIL + InterCL w/o the balanced scale',
  },
  'bil+intra': {
    method: 'nclpp',
    overrides: { interCL: false, nestedHard: false },
    experts: 1,
    what: 'Table 7: BIL + IntraCL, one network',
  },
  'bil+inter+intra': {
    method: 'nclpp',
    overrides: { nestedHard: false },
    what: 'Table 7: BIL + InterCL + IntraCL',
  },
  nclpp: { method: 'nclpp', overrides: {}, what: 'Table 7: NCL++ (all components)' },
  'nclpp-learnable': {
    method: 'nclpp',
    overrides: { learnable: true },
    what: 'Table 6: NCL++ with learnable λ1, λ2',
  },
  ncl: { method: 'ncl', overrides: {}, what: 'NCL (CVPR 2022): NCL++ without IntraCL' },
} satisfies Record<string, ExperimentVariant>;
export type VariantName = keyof typeof VARIANTS;
export const EXPERIMENT_VARIANTS: Readonly<Record<VariantName, ExperimentVariant>> = VARIANTS;

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
 * Which of Table 7's components a variant trains with, on a protocol with `protocolCopies` copies for NCL++: BIL
 * (balanced logits), InterCL (K ≥ 2 collaborating experts), IntraCL (T ≥ 2 copies, NCL++ only) and NFL_hard.
 */
export function variantComponents(
  v: ExperimentVariant,
  protocol: { experts: number; copies: number },
): { bil: boolean; interCL: boolean; intraCL: boolean; nestedHard: boolean } {
  const collaborative = v.method === 'ncl' || v.method === 'nclpp';
  const o: VariantSwitches = v.overrides;
  const experts = v.experts ?? protocol.experts;
  const copies = v.copies ?? protocol.copies;
  return {
    bil: v.method !== 'ce' && o.bil !== false,
    interCL: collaborative && experts > 1 && o.interCL !== false,
    intraCL: v.method === 'nclpp' && copies > 1 && o.intraCL !== false,
    nestedHard: collaborative && o.nestedHard !== false,
  };
}
