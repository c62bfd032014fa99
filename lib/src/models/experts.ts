/**
 * The multi-expert model of NCL/NCL++: K independent networks (separate backbones and heads) that see the same
 * batch. Collaboration happens only in the loss; at test time each expert predicts alone or the logits are averaged
 * (the ensemble).
 */
import { tf } from '../tf';
import { ParamStore } from './layers';
import { ForwardOutput, ResNetCifar, ResNetOptions } from './resnet';

export class MultiExpert {
  readonly store = new ParamStore();
  readonly experts: ResNetCifar[] = [];

  constructor(
    readonly numExperts: number,
    readonly opts: ResNetOptions,
  ) {
    for (let k = 0; k < numExperts; k++) {
      // Each expert gets its own seed stream, so experts start from different weights.
      this.experts.push(new ResNetCifar(this.store, { ...opts, seed: opts.seed * 1000 + k }, `expert${k}.`));
    }
  }

  /** x [N,H,W,C] → one output per expert. */
  apply(x: tf.Tensor4D, training: boolean): ForwardOutput[] {
    return this.experts.map((e) => e.apply(x, training));
  }

  /** Ensemble logits: the mean of the experts' logits. [N,C] */
  static ensemble(logits: tf.Tensor2D[]): tf.Tensor2D {
    return tf.tidy(() =>
      logits.length === 1 ? tf.clone(logits[0]) : (tf.addN(logits).div(logits.length) as tf.Tensor2D),
    );
  }

  get featureDim(): number {
    return this.experts[0].featureDim;
  }

  numParams(): number {
    return this.store.numParams();
  }

  dispose(): void {
    for (const e of this.experts) e.dispose();
    this.store.dispose();
  }
}
