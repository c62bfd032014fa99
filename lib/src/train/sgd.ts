/**
 * SGD with momentum and weight decay, PyTorch semantics (torch.optim.SGD, dampening 0, no Nesterov):
 *   d = g + wd·w;  buf = μ·buf + d  (buf = d at the first step);  w = w − lr·buf
 * The momentum buffers are part of the checkpoint, so a resumed run continues bit-identically.
 */
import { tf } from '../tf';

export class SGD {
  readonly buffers = new Map<string, tf.Variable>();
  constructor(
    readonly vars: tf.Variable[],
    readonly momentum: number,
    readonly weightDecay: number,
  ) {}

  /** Apply one update with gradients by variable name. Disposes nothing it does not own. */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    tf.tidy(() => {
      for (const v of this.vars) {
        const g = grads[v.name];
        if (!g) continue;
        const d = this.weightDecay > 0 ? g.add(v.mul(this.weightDecay)) : g;
        let buf = this.buffers.get(v.name);
        if (this.momentum > 0) {
          if (!buf) {
            buf = tf.variable(d, false, `${v.name}.momentum`);
            this.buffers.set(v.name, buf);
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

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
