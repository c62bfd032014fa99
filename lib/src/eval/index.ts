// Evaluation: accuracy by class and split, per expert and ensemble; analyses for the paper's figures.
export { evaluateModel, evaluatePredictions, predictAll, splitAccuracy } from './metrics';
export type { EvalResult, SplitAccuracy } from './metrics';
export { analyzeModel, symmetricKL } from './analysis';
export type { Analysis, AnalysisOptions } from './analysis';
