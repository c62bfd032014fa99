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
export { comparisonFigure } from './compare';
export { ANALYSIS_FIGURES } from './figures';
export { SWEEP_FIGURES } from './sweeps';
export { TWIN, TWIN_TOLERANCE, readTwinRun, twinFile } from './twin';
export { FIGURES, FIGURE_IDS, resolveIds } from './registry';
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
