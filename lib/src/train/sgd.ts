/**
 * SGD with momentum and weight decay, PyTorch semantics (torch.optim.SGD, dampening 0, no Nesterov):
 *   d = g + wd·w;  buf = μ·buf + d  (buf = d at the first step);  w = w − lr·buf
 * The update itself is `sgdMomentumUpdate` (packages/kernels/src/sgd.ts: one fused kernel per parameter on wasm/cpu,
 * tfjs ops elsewhere). The momentum buffers are part of the checkpoint, so a resumed run continues bit-identically.
 */
import { tf } from '../tf';
import { sgdMomentumUpdate } from 'ncl-kernels';

export class SGD {
  /** Momentum buffers by the parameter's name in `params` (stable across processes, for checkpoints). */
  readonly buffers = new Map<string, tf.Tensor>();
  /** @param params the variables to optimise, by a stable name (e.g. `ParamStore.trainable`). */
  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly momentum: number,
    readonly weightDecay: number,
  ) {}

  /** Apply one update; `grads` are keyed by tfjs variable name (as `tf.variableGrads` returns them). */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    for (const [name, v] of this.params) {
      const g = grads[v.name];
      if (!g) continue;
      const old = this.buffers.get(name);
      const { w, buf } = sgdMomentumUpdate(v, g, old, { lr, momentum: this.momentum, wd: this.weightDecay });
      v.assign(w); // a new tensor for the weights (XNNPACK caches packed filters per tensor)
      w.dispose();
      old?.dispose();
      this.buffers.set(name, tf.keep(buf));
    }
  }

  /** Restore a momentum buffer (from a checkpoint). */
  setBuffer(name: string, value: tf.Tensor): void {
    this.buffers.get(name)?.dispose();
    this.buffers.set(name, tf.keep(value));
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
