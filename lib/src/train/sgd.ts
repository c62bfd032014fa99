/**
 * SGD with momentum and weight decay, PyTorch semantics (torch.optim.SGD, dampening 0, no Nesterov):
 *   d = g + wd·w;  buf = μ·buf + d  (buf = d at the first step);  w = w − lr·buf
 * The momentum buffers are part of the checkpoint, so a resumed run continues bit-identically.
 */
import { tf } from '../tf';

export class SGD {
  /** Momentum buffers by the parameter's name in `params` (stable across processes, for checkpoints). */
  readonly buffers = new Map<string, tf.Variable>();
  /** @param params the variables to optimise, by a stable name (e.g. `ParamStore.trainable`). */
  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly momentum: number,
    readonly weightDecay: number,
  ) {}

  /** Apply one update; `grads` are keyed by tfjs variable name (as `tf.variableGrads` returns them). */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    tf.tidy(() => {
      for (const [name, v] of this.params) {
        const g = grads[v.name];
        if (!g) continue;
        const d = this.weightDecay > 0 ? g.add(v.mul(this.weightDecay)) : g;
        let buf = this.buffers.get(name);
        if (this.momentum > 0) {
          if (!buf) {
            buf = tf.variable(d, false);
            this.buffers.set(name, buf);
          } else {
            buf.assign(buf.mul(this.momentum).add(d));
          }
          v.assign(v.sub(buf.mul(lr)));
        } else {
          v.assign(v.sub(d.mul(lr)));
        }
      }
    });
  }

  /** Restore a momentum buffer (from a checkpoint). */
  setBuffer(name: string, value: tf.Tensor): void {
    this.buffers.get(name)?.dispose();
    this.buffers.set(name, tf.variable(value, false));
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
