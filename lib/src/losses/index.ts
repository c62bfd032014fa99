/**
 * NCL++ losses (Tan et al., Pattern Recognition 2024), one idea per file, in reading order:
 *
 *   balanced.ts       Eq. 1-3    balanced logits / softmax, cross-entropy, BSCE
 *   hcm.ts            Eq. 7-9    hard category mining (and random categories), partial balanced probabilities
 *   mode.ts                      'official' (authors' code, default) vs 'paper' (equations as written)
 *   kl.ts                        KL divergence and the mutual distillation term
 *   collaborative.ts  Eq. 4-6    InterCL and IntraCL (Eq. 11, 13 with partial members)
 *   nested.ts         Eq. 10-14  nclLoss: the whole nested loss with its ablation switches
 *   learnable.ts      Table 6    learnable λ1, λ2 = softmax(w1, w2)
 *   offline.ts        Fig. 12b   BIL + offline distillation from a fixed teacher
 *   registry.ts                  methods by name: defineMethod / registerMethod / getMethod, lossForMethod → LossFn
 *   methods.ts                   the lib's own methods: ce, bsce, ncl, nclpp and the paper's ablation variants
 *   method-file.ts               a method from a file (methods/NAME.ts), hashed with what it imports
 */
export { logClassPrior, balancedLogits, balancedSoftmax, crossEntropy, bsce } from './balanced';
export {
  numHardFromRatio,
  resolveNumHard,
  hardCategoryMask,
  randomCategoryMask,
  partialLogSoftmax,
  partialBalancedProbs,
  partialCrossEntropy,
  partialBsce,
} from './hcm';
export type { HardSetSize } from './hcm';
export { LOSS_MODES, OFFICIAL_LOG_EPS } from './mode';
export type { LossMode } from './mode';
export { distribution, partialDistribution, klDivergence, mutualKL, pairwiseKLTerms } from './kl';
export type { Distribution } from './kl';
export { interCL, intraCL, interCLOnHardSet, intraCLOnHardSet, splitCopies } from './collaborative';
export {
  PAPER_DEFAULTS,
  NCL_TERMS,
  NclLossOptions,
  nestedLoss,
  nclLoss,
  nclLossWith,
  checkInputs,
} from './nested';
export type { NclTermName, NclLossResult, NclLossOptionsInput, NclLossConfig, LossWeight } from './nested';
export { learnableWeights, learnedLambdas, LearnableLossWeights } from './learnable';
export { OfflineDistillationOptions, averageTeacherProbs, offlineDistillation } from './offline';
export type { OfflineDistillationOptionsInput } from './offline';
export {
  LossBase,
  MethodSource,
  defineMethod,
  registerMethod,
  getMethod,
  findMethod,
  methodNames,
  lossForMethod,
  methodDefault,
} from './registry';
export type { LossFn, LossContext, Method, MethodSpec, ConfigIssue } from './registry';
export { NclOptions, PaperLossOptions, EXPERIMENT_VARIANTS, TABLE7_ROWS, variantComponents } from './methods';
export type { PaperLoss, ExperimentVariant, VariantName, VariantOptions } from './methods';
export { loadMethodFile, resolveMethod, workspaceMethodFile } from './method-file';
export { noGrad, stopGradient } from './no-grad';
