/**
 * Parameter-holding building blocks for functional models: every weight is a named `tf.Variable`, every forward pass
 * a plain function of tensors. Initialisation is seeded, so the same seed builds the same network.
 *
 * Layout is NHWC throughout; conv filters are [KH, KW, Cin, Cout].
 */
import { tf } from '../tf';
import { batchNormTrain } from 'ncl-kernels';

/** Deterministic seed stream: each call to `next()` gives the seed for one more tensor. */
export class SeedStream {
  private i = 0;
  constructor(private readonly base: number) {}
  next(): number {
    this.i += 1;
    // Mix so neighbouring bases do not share streams.
    return (Math.imul(this.base ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(this.i, 0xc2b2ae35)) >>> 0;
  }
}

/** Everything a model owns: trainable variables and non-trainable buffers (BN running statistics). */
export class ParamStore {
  private static count = 0;
  /** Keyed by the parameter's name in the model (stable: checkpoints use it). */
  readonly trainable = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  /** tfjs variable names are global to the engine: prefix ours so several models can live side by side. */
  private readonly scope = `ncl${++ParamStore.count}/`;

  addTrainable(name: string, value: tf.Tensor): tf.Variable {
    if (this.trainable.has(name) || this.buffers.has(name)) throw new Error(`duplicate parameter ${name}`);
    const v = tf.variable(value, true, this.scope + name);
    value.dispose();
    this.trainable.set(name, v);
    return v;
  }

  addBuffer(name: string, value: tf.Tensor): tf.Variable {
    if (this.trainable.has(name) || this.buffers.has(name)) throw new Error(`duplicate parameter ${name}`);
    const v = tf.variable(value, false, this.scope + name);
    value.dispose();
    this.buffers.set(name, v);
    return v;
  }

  /** Number of trainable scalars. */
  numParams(): number {
    let n = 0;
    for (const v of this.trainable.values()) n += v.size;
    return n;
  }

  /** All variables (trainable and buffers) by name, for checkpoints. */
  all(): Map<string, tf.Variable> {
    return new Map([...this.trainable, ...this.buffers]);
  }

  dispose(): void {
    for (const v of this.all().values()) v.dispose();
    this.trainable.clear();
    this.buffers.clear();
  }
}

/** Kaiming-normal (fan_in, ReLU gain) init, as `nn.init.kaiming_normal_` in the authors' CIFAR ResNet. */
export function kaimingNormal(shape: number[], fanIn: number, seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed);
}

/** A 2-D convolution without bias. `pad` is the symmetric zero padding (PyTorch `padding=`), not TF's 'same'. */
export class Conv2d {
  readonly w: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly kernel: number,
    readonly cin: number,
    readonly cout: number,
    readonly stride: number,
    readonly pad: number,
    seeds: SeedStream,
  ) {
    this.w = store.addTrainable(
      `${name}.w`,
      kaimingNormal([kernel, kernel, cin, cout], kernel * kernel * cin, seeds.next()),
    );
  }

  /** x [N,H,W,Cin] → [N,H',W',Cout], H' = floor((H + 2·pad − k)/stride) + 1 (PyTorch's arithmetic). */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    const p = this.pad;
    const padding: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ];
    return tf.conv2d(x, this.w as tf.Tensor4D, this.stride, p === 0 ? 'valid' : padding);
  }
}

/**
 * Batch normalisation over N,H,W per channel. Training mode uses the batch statistics and updates the running ones
 * (momentum 0.1, unbiased running variance, as PyTorch); eval mode uses the running statistics.
 *
 * `apply(x, training, { relu, residual })` also folds in what commonly follows a BN: `+ residual` and ReLU
 * (y = relu(bn(x) + residual)); in training this runs as one fused kernel with a hand-written backward on `wasm` and
 * `cpu` (packages/kernels/src/batchnorm.ts), the same numbers as tf.moments + tf.batchNorm + add + relu.
 */
export class BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly channels: number,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    this.gamma = store.addTrainable(`${name}.gamma`, tf.ones([channels]));
    this.beta = store.addTrainable(`${name}.beta`, tf.zeros([channels]));
    this.runningMean = store.addBuffer(`${name}.running_mean`, tf.zeros([channels]));
    this.runningVar = store.addBuffer(`${name}.running_var`, tf.ones([channels]));
  }

  /** x [N,H,W,C] → same shape: [relu](bn(x) [+ residual]). */
  apply(
    x: tf.Tensor4D,
    training: boolean,
    opts: { relu?: boolean; residual?: tf.Tensor4D } = {},
  ): tf.Tensor4D {
    const gamma = this.gamma as tf.Tensor1D;
    const beta = this.beta as tf.Tensor1D;
    if (!training) {
      let y: tf.Tensor = tf.batchNorm(x, this.runningMean, this.runningVar, beta, gamma, this.eps);
      if (opts.residual) y = tf.add(y, opts.residual);
      return (opts.relu ? tf.relu(y) : y) as tf.Tensor4D;
    }
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, {
      eps: this.eps,
      relu: opts.relu,
      residual: opts.residual,
    });
    const n = x.size / this.channels;
    // Running statistics are not part of the loss, so no gradient reaches them.
    tf.tidy(() => {
      const m = this.momentum;
      const varU = variance.mul(n / Math.max(1, n - 1));
      this.runningMean.assign(this.runningMean.mul(1 - m).add(mean.mul(m)));
      this.runningVar.assign(this.runningVar.mul(1 - m).add(varU.mul(m)));
    });
    return y as tf.Tensor4D;
  }
}

/** Fully connected layer y = x·W + b, W [F, C]. */
export class Linear {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly fin: number,
    readonly fout: number,
    seeds: SeedStream,
  ) {
    this.w = store.addTrainable(`${name}.w`, kaimingNormal([fin, fout], fin, seeds.next()));
    this.b = store.addTrainable(`${name}.b`, tf.zeros([fout]));
  }
  /** x [N, F] → [N, C]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.w as tf.Tensor2D), this.b);
  }
}

/**
 * Cosine classifier: logits = s · (x/‖x‖)·(W/‖W‖) with W normalised per class column (the "NormedLinear" of the
 * authors' code, scale s).
 */
export class CosineLinear {
  readonly w: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly fin: number,
    readonly fout: number,
    readonly scale: number,
    seeds: SeedStream,
  ) {
    this.w = store.addTrainable(`${name}.w`, tf.randomUniform([fin, fout], -1, 1, 'float32', seeds.next()));
  }
  /** x [N, F] → [N, C]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const xn = x.div(tf.norm(x, 'euclidean', 1, true).add(1e-12));
      const wn = this.w.div(tf.norm(this.w, 'euclidean', 0, true).add(1e-12));
      return tf.matMul(xn, wn as tf.Tensor2D).mul(this.scale);
    });
  }
}
