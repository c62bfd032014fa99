/**
 * Training progress: a cli-progress bar on a TTY (epoch, loss terms, img/s, ETA), one line per epoch otherwise
 * (notebooks, CI logs). `onProgress` (TrainOptions) also receives the step count, at most once a second and at every
 * epoch boundary: a worker process sends it to its parent (experiments/worker.ts) for the parent's bars.
 */
import * as cliProgress from 'cli-progress';
import type { EpochInfo } from './types';

/** How far a run is: optimizer steps done out of all of the run's steps, and the epoch it is in. */
export interface ProgressInfo {
  epoch: number;
  epochs: number;
  done: number;
  total: number;
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

/** The one-line account of an epoch: its loss terms, speed, time and test accuracy when evaluated. */
export function formatEpochLine(e: EpochInfo, epochs: number): string {
  const terms = Object.entries(e.losses)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(' ');
  const test = e.test ? ` test top1=${(100 * e.test.top1).toFixed(2)}%` : '';
  return `epoch ${e.epoch}/${epochs} lr=${e.lr.toPrecision(3)} ${terms} ${e.imgPerSec.toFixed(0)} img/s ${e.seconds.toFixed(1)}s${test}`;
}

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private readonly tty: boolean;
  private epoch = 0;
  private lastReport = 0;
  constructor(
    private readonly enabled: boolean,
    private readonly epochs: number,
    private readonly stepsPerEpoch: number,
    private readonly onProgress?: (p: ProgressInfo) => void,
  ) {
    this.tty = enabled && Boolean(process.stderr.isTTY);
  }

  startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.report(0, true);
    if (!this.tty) return;
    this.bar?.stop();
    this.bar = new cliProgress.SingleBar(
      {
        format: `epoch ${epoch + 1}/${this.epochs} [{bar}] {value}/{total} | {terms} | {ips} img/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(this.stepsPerEpoch, 0, { terms: '', ips: '-' });
  }

  step(step: number, terms: Record<string, number>, imgPerSec: number): void {
    this.report(step, step === this.stepsPerEpoch);
    if (!this.bar) return;
    const t = Object.entries(terms)
      .filter(([, v]) => v !== 0)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(' ');
    this.bar.update(step, { terms: t, ips: imgPerSec.toFixed(0) });
  }

  endEpoch(e: EpochInfo): void {
    if (!this.enabled) return;
    this.bar?.stop();
    this.bar = null;
    process.stderr.write(formatEpochLine(e, this.epochs) + '\n');
  }

  /** The step count to `onProgress`, at most once a second unless `force`. */
  private report(step: number, force: boolean): void {
    if (!this.onProgress || (!force && Date.now() - this.lastReport < 1000)) return;
    this.lastReport = Date.now();
    this.onProgress({
      epoch: this.epoch + 1,
      epochs: this.epochs,
      done: this.epoch * this.stepsPerEpoch + step,
      total: this.epochs * this.stepsPerEpoch,
    });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
