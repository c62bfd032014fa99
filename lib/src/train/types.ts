/** The trainer's public types: options, per-step and per-epoch reports, and the metrics of a finished run. */
import type { tf } from '../tf';
import type { EvalResult } from '../eval/metrics';
import type { LossFn } from '../losses';
import type { TrainConfig } from './config';
import type { PreparedData } from './data';
import type { ProgressInfo } from './progress';

export interface StepInfo {
  epoch: number;
  step: number;
  globalStep: number;
  lr: number;
  total: number;
  terms: Record<string, number>;
}

export interface EpochInfo {
  epoch: number;
  lr: number;
  /** Mean of each logged term over the epoch's steps (and `total`). */
  losses: Record<string, number>;
  imgPerSec: number;
  seconds: number;
  numTensors: number;
  /** The processor that trained this epoch (`os.cpus()[0].model`, then the backend): a resumed run says which epochs ran where. */
  host?: string;
  /** Test accuracy after this epoch (every `eval.every` epochs; the last epoch's is `Metrics.test`). */
  test?: {
    top1: number;
    many: number | null;
    medium: number | null;
    few: number | null;
    /** Top-1 of each expert (absent in runs recorded before it was). */
    experts?: number[];
  };
}

export interface Metrics {
  config: TrainConfig;
  configHash: string;
  backend: string;
  classCounts: number[];
  /** The training subset: its size and `data.subsetDigest` (the indices are in the run's subset.json). */
  subset?: { images: number; sha256: string };
  /**
   * The dataset folder the run read, where it was found, and the checksum file verified there (if any); relative to
   * where it was found (`data/fashion-mnist`, `$NCL_DATA_DIR/fashion-mnist`: ./data.ts `recordedSource`).
   */
  data?: { dir: string; origin: string; checksums: string | null };
  /** What the config does not do that its method suggests (e.g. NCL++ with one copy has no IntraCL). */
  warnings?: string[];
  /**
   * Final values of the trainable variables the loss owns, by name (e.g. Table 6's w_intra, w_inter, whose softmax
   * is λ1, λ2); absent when the loss has none.
   */
  lossVariables?: Record<string, number[]>;
  /** 'checkpoint.bin' when `lossVariables` were read from the run's final checkpoint after training. */
  lossVariablesFrom?: string;
  test: EvalResult;
  /** Accuracy on the long-tailed training set (no augmentation), when `eval.trainAccuracy` or `eval.every` > 0. */
  trainSet?: EvalResult;
  train: { epochs: EpochInfo[]; seconds: number; imgPerSec: number };
}

export interface TrainOptions {
  /** Where to write config, checkpoints and metrics; null keeps everything in memory. */
  outDir?: string | null;
  /**
   * Continue from `outDir/checkpoint.bin` (a finished run's final checkpoint is evaluated again). Without `resume`
   * or `restart`, a folder holding a checkpoint or a finished run is refused.
   */
  resume?: boolean;
  /** Start over: remove the checkpoint and results already in `outDir` (after taking its lock). */
  restart?: boolean;
  /** The loss; default the config's method's (`lossFromConfig`: its loss factory with the config's loss section). */
  lossFn?: LossFn;
  /** Extra trainable variables the custom loss owns (optimised and checkpointed with the model). */
  lossVariables?: Record<string, tf.Variable>;
  /** Already prepared data (saves re-reading the dataset across runs of a sweep). */
  prepared?: PreparedData;
  /** Show a progress bar (TTY) or one line per epoch (otherwise); default true. */
  progress?: boolean;
  onStep?: (s: StepInfo) => void;
  onEpoch?: (e: EpochInfo) => void;
  /** The run's step count, at most once a second and at every epoch boundary (e.g. for a parent's progress bar). */
  onProgress?: (p: ProgressInfo) => void;
  /**
   * Stops the run within one step (between steps) when aborted: nothing of the epoch in progress is written, the
   * checkpoint of the last finished epoch stays, the folder's lock is released, and `TrainingStopped` is thrown.
   */
  signal?: AbortSignal;
  /** Where warnings about the config go (also recorded in metrics.json); default: stderr. */
  onWarning?: (message: string) => void;
  /** Also write analysis.json.gz (per-class KL, hardest negatives, features; eval/analysis.ts); default true with outDir. */
  analysis?: boolean;
  /** Root that `loss.teachers` folders are relative to (default: the workspace's results/). */
  resultsRoot?: string;
  /**
   * Stop early, at an epoch boundary, when the next epoch (estimated by the last one's duration) would end after this
   * time (ms since 1970, as `Date.now()`): the epoch's checkpoint is written, then `TrainingStopped` is thrown. Needs
   * `outDir`; continue later with `resume`. At least one epoch is trained per call.
   */
  deadline?: number;
}
