// Experiments: cached runs, the paper's figures and tables, and the reproduce command behind `ncl reproduce`.
export {
  runDir,
  finishedRuns,
  loadRun,
  isFinished,
  readAnalysis,
  ensureRuns,
  relativeCost,
  nextRunnable,
} from './runs';
export type { QueuedRun } from './runs';
export type { RunResult, EnsureOptions } from './runs';
export { stat, statArrays, verdictGreater, combineVerdicts, percentRange, meanStd } from './stats';
export type { Stat, Verdict } from './stats';
export {
  runConfig,
  runConfigs,
  variantRun,
  analysisRun,
  accuracy,
  teacherSeeds,
  DEFAULT_PROTOCOL,
  DEFAULT_SEEDS,
  ANALYSIS_EXPERTS,
} from './spec';
export type { RunSpec, Metric, Predictor, FigureSpec, FigureOutput, FigureContext } from './spec';
export { judge, greater, within } from './claims';
export type { Check, Claim, Judgement } from './claims';
export { comparisonFigure, cellName } from './compare';
export type { ComparisonSpec, Series, Point, Measured } from './compare';
export { comparisonSpec, compare } from './method-comparison';
export type { ComparisonOptions, CompareOptions, ComparisonResult } from './method-comparison';
export { ANALYSIS_FIGURES } from './figures';
export { SWEEP_FIGURES } from './sweeps';
export { TWIN, TWIN_TOLERANCE, readTwinRun, twinFile } from './twin';
export {
  FIGURES,
  FIGURE_IDS,
  reproduce,
  buildFigure,
  readManifest,
  resolveIds,
  writeResultsReadme,
  entryStatus,
  settingsOfRuns,
  backendsOfRuns,
  planRuns,
  formatPlan,
  figureReadiness,
  settingsLabel,
  figureSettings,
} from './reproduce';
export type { Manifest, ManifestEntry, ReproduceOptions, PlanRow } from './reproduce';
export { tsne2d, knnAccuracy } from './embedding';
export * from './paper';
