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
export {
  stat,
  statArrays,
  verdictGreater,
  verdictOfDiff,
  diffOf,
  pairedDiff,
  welchDiff,
  pairedValues,
  formatDiff,
  t975,
  combineVerdicts,
  percentRange,
  meanStd,
} from './stats';
export type { Stat, Verdict, Diff } from './stats';
export {
  runConfig,
  pairKey,
  runStat,
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
export { judge, greater, within, POINTS, RAW } from './claims';
export type { Check, Claim, Judgement, CheckResult, JudgeOptions, Unit } from './claims';
export { comparisonFigure, withReplicates } from './compare';
export { noiseFloor, pooledStat, replicatesOf, runIndex, seedlessKey, trainingKey } from './replicates';
export type { IndexedRun } from './replicates';
export { ANALYSIS_FIGURES } from './figures';
export {
  DECOMPOSITION_ARMS,
  DECOMPOSITION_FIGURES,
  DECOMPOSITION_SCALES,
  DECOMPOSITION_STEPS,
  armRun,
  expert1Curve,
} from './decomposition';
export type { Arm } from './decomposition';
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
