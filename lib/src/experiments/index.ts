// Experiments: cached runs, the paper's figures and tables, and the reproduce command behind `ncl reproduce`.
export { runDir, finishedRuns, loadRun, isFinished, readAnalysis } from './runs';
export type { RunResult } from './runs';
export { ensureRuns, nextRunnable, SweepFailed, SweepStopped } from './runner';
export type { QueuedRun, EnsureOptions } from './runner';
export { startWorker } from './worker';
export type { TrainRequest, FromWorker, WorkerOutcome, FailureCode } from './worker';
export {
  relativeCost,
  cpuMinutesEstimator,
  startOrder,
  laneFinish,
  planConfigs,
  planRuns,
  formatPlan,
  figureReadiness,
  epochsInCheckpoint,
} from './plan';
export type { PlanRow } from './plan';
export { EXECUTORS, localExecutor, slurmExecutor } from './executor';
export type { Executor, ExecutorName, Sweep, SweepOutcome } from './executor';
export {
  SlurmOptions,
  submitRuns,
  followSubmission,
  submissions,
  queuedRuns,
  slurmAvailable,
  jobState,
} from './slurm';
export type { SlurmOptionsInput, Submission, SweepLabel, FollowProgress, QueueEntry } from './slurm';
export { runStatuses, sweepStatus, submittedGroups, formatStatus, lastAttempt } from './status';
export type { RunStatus, GroupStatus, RunStateName } from './status';
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
export { cellName } from './compare';
export type { ComparisonSpec, Series, Point, Measured } from './compare';
export { comparisonSpec, compare } from './method-comparison';
export type { ComparisonOptions, CompareOptions, ComparisonResult } from './method-comparison';
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
export { TWIN, TWIN_RUNS, TWIN_TOLERANCE, readTwinRun, twinConfig, twinFile } from './twin';
export { FIGURES, FIGURE_IDS, registerFigure, resolveIds } from './registry';
export type { FigureRef } from './registry';
export {
  readManifest,
  withResultsLock,
  MANIFEST_LOCK,
  entryStatus,
  settingsOfRuns,
  backendsOfRuns,
  settingsLabel,
  figureSettings,
} from './manifest';
export type { Manifest, ManifestEntry } from './manifest';
export { buildFigure, writeFigure, writeResultsReadme, resultsReadme } from './results';
export { reproduce } from './reproduce';
export type { ReproduceOptions } from './reproduce';
export { tsne2d, knnAccuracy } from './embedding';
export * from './paper';
