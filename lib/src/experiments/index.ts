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
export { stat, statArrays, verdictGreater, combineVerdicts, percentRange } from './stats';
export type { Stat, Verdict } from './stats';
export { ANALYSIS_FIGURES, coreRun } from './figures';
export type { FigureSpec, FigureOutput, FigureContext } from './figures';
export {
  FIGURES,
  FIGURE_IDS,
  reproduce,
  buildFigure,
  readManifest,
  resolveIds,
  writeResultsReadme,
  planRuns,
  formatPlan,
  figureReadiness,
  settingsOf,
} from './reproduce';
export { SWEEP_FIGURES, variant } from './sweeps';
export type { Manifest, ManifestEntry, ReproduceOptions, PlanRow } from './reproduce';
export { tsne2d, knnAccuracy } from './embedding';
export { PAPER_TABLE1, PAPER_TABLE5 } from './paper';
