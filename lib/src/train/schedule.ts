/**
 * Learning-rate schedules, evaluated at a fractional epoch e (epoch index + fraction of the epoch done):
 * linear warm-up lr·(epoch+1)/W over the first W epochs (per epoch, as the authors' CIFAR code), then either step decay (×gamma at each milestone) or cosine decay to minLr.
 */
import type { TrainConfig } from './config';

export function learningRate(o: TrainConfig['optim'], epoch: number, fraction: number): number {
  const e = epoch + fraction;
  if (o.warmupEpochs > 0 && e < o.warmupEpochs)
    return (o.lr * Math.min(o.warmupEpochs, epoch + 1)) / o.warmupEpochs;
  if (o.schedule === 'step') {
    const passed = o.milestones.filter((m) => epoch >= m).length;
    return o.lr * o.gamma ** passed;
  }
  const span = Math.max(1e-9, o.epochs - o.warmupEpochs);
  const t = Math.min(1, Math.max(0, (e - o.warmupEpochs) / span));
  return o.minLr + ((o.lr - o.minLr) * (1 + Math.cos(Math.PI * t))) / 2;
}
