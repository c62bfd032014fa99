/**
 * Training progress: a cli-progress bar on a TTY (epoch, loss terms, img/s, ETA), one line per epoch otherwise
 * (notebooks, CI logs, parallel workers). A worker process started with `NCL_PROGRESS=lines` also writes its step
 * count as `PROGRESS_PREFIX` lines (`ProgressLine`, JSON), at most one a second, for the parent's bars.
 */
import * as cliProgress from 'cli-progress';
import type { EpochInfo } from './types';

/** What a worker reports: optimizer steps done out of all of the run's steps, and the epoch it is in. */
export interface ProgressLine {
  epoch: number;
  epochs: number;
  done: number;
  total: number;
}
export const PROGRESS_PREFIX = '@ncl-progress ';

/** The ProgressLine in a worker's output line, or null. */
export function parseProgressLine(line: string): ProgressLine | null {
  if (!line.startsWith(PROGRESS_PREFIX)) return null;
  try {
    return JSON.parse(line.slice(PROGRESS_PREFIX.length)) as ProgressLine;
  } catch {
    return null;
  }
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private readonly tty: boolean;
  private readonly lines = process.env.NCL_PROGRESS === 'lines';
  private epoch = 0;
  private lastLine = 0;
  constructor(
    private readonly enabled: boolean,
    private readonly epochs: number,
    private readonly stepsPerEpoch: number,
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
    const terms = Object.entries(e.losses)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(' ');
    const test = e.test ? ` test top1=${(100 * e.test.top1).toFixed(2)}%` : '';
    process.stderr.write(
      `epoch ${e.epoch}/${this.epochs} lr=${e.lr.toPrecision(3)} ${terms} ${e.imgPerSec.toFixed(0)} img/s ${e.seconds.toFixed(1)}s${test}\n`,
    );
  }

  /** A ProgressLine on stderr (NCL_PROGRESS=lines), at most one a second unless `force`. */
  private report(step: number, force: boolean): void {
    if (!this.lines || (!force && Date.now() - this.lastLine < 1000)) return;
    this.lastLine = Date.now();
    const p: ProgressLine = {
      epoch: this.epoch + 1,
      epochs: this.epochs,
      done: this.epoch * this.stepsPerEpoch + step,
      total: this.epochs * this.stepsPerEpoch,
    };
    process.stderr.write(PROGRESS_PREFIX + JSON.stringify(p) + '\n');
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
