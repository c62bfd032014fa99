/**
 * Training progress: a cli-progress bar on a TTY (epoch, loss terms, img/s, ETA), one line per epoch otherwise
 * (notebooks, CI logs, parallel workers).
 */
import * as cliProgress from 'cli-progress';
import type { EpochInfo } from './types';

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private readonly tty: boolean;
  constructor(
    private readonly enabled: boolean,
    private readonly epochs: number,
    private readonly stepsPerEpoch: number,
  ) {
    this.tty = enabled && Boolean(process.stderr.isTTY);
  }

  startEpoch(epoch: number): void {
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

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
