/**
 * CIFAR ResNets (He et al. 2016, Sec. 4.2) as in the authors' code (LDAM-DRW / NCL `resnet_cifar.py`):
 * a 3×3 stem conv, three stages of n basic blocks with 16w/32w/64w channels (stride 1, 2, 2), option-A identity
 * shortcuts (subsample by 2 and zero-pad the new channels), global average pooling, then a linear or cosine head.
 * Depth = 6n + 2: ResNet-8 (n=1), -20 (3), -32 (5), -44 (7), -56 (9).
 */
import { tf } from '../tf';
import { BatchNorm, Conv2d, CosineLinear, Linear, ParamStore, SeedStream } from './layers';

export interface ResNetOptions {
  /** Basic blocks per stage (depth = 6n + 2). */
  blocksPerStage: number;
  numClasses: number;
  inChannels: number;
  /** Channels of the first stage (16 in the paper); stages have width, 2·width, 4·width. */
  width: number;
  classifier: 'linear' | 'cosine';
  /** Scale s of the cosine classifier. */
  cosineScale: number;
  seed: number;
}

/**
 * Option-A shortcut x[:, ::2, ::2, :] zero-padded by planes/4 channels on each side, written as a 1×1 stride-2
 * convolution with a fixed 0/1 filter: the same numbers, one XNNPACK op, and a gradient on every backend
 * (tfjs has no StridedSlice gradient).
 */
class ShortcutA {
  private readonly filter: tf.Tensor4D;
  constructor(cin: number, cout: number) {
    const padLo = Math.floor((cout - cin) / 2);
    const f = new Float32Array(cin * cout);
    for (let c = 0; c < cin; c++) f[c * cout + c + padLo] = 1;
    this.filter = tf.keep(tf.tensor4d(f, [1, 1, cin, cout]));
  }
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.conv2d(x, this.filter, 2, 'valid');
  }
  dispose(): void {
    this.filter.dispose();
  }
}

class BasicBlock {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly shortcut: ShortcutA | null;
  constructor(store: ParamStore, name: string, cin: number, cout: number, stride: number, seeds: SeedStream) {
    this.conv1 = new Conv2d(store, `${name}.conv1`, 3, cin, cout, stride, 1, seeds);
    this.bn1 = new BatchNorm(store, `${name}.bn1`, cout);
    this.conv2 = new Conv2d(store, `${name}.conv2`, 3, cout, cout, 1, 1, seeds);
    this.bn2 = new BatchNorm(store, `${name}.bn2`, cout);
    this.shortcut = stride !== 1 || cin !== cout ? new ShortcutA(cin, cout) : null;
  }
  /** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), each BN fused with what follows it. */
  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const h = this.bn1.apply(this.conv1.apply(x), training, { relu: true });
    const s = this.shortcut ? this.shortcut.apply(x) : x;
    return this.bn2.apply(this.conv2.apply(h), training, { relu: true, residual: s });
  }
}

export interface ForwardOutput {
  /** [N, C] class scores z (before any balancing). */
  logits: tf.Tensor2D;
  /** [N, 4·width] penultimate features (after global average pooling). */
  features: tf.Tensor2D;
}

/** One CIFAR ResNet. Its weights live in `store`, under `prefix`. */
export class ResNetCifar {
  readonly stem: Conv2d;
  readonly bn: BatchNorm;
  readonly blocks: BasicBlock[] = [];
  readonly head: Linear | CosineLinear;
  readonly featureDim: number;

  constructor(
    readonly store: ParamStore,
    readonly opts: ResNetOptions,
    prefix = '',
  ) {
    const seeds = new SeedStream(opts.seed);
    const w = opts.width;
    this.stem = new Conv2d(store, `${prefix}stem`, 3, opts.inChannels, w, 1, 1, seeds);
    this.bn = new BatchNorm(store, `${prefix}stem.bn`, w);
    let cin = w;
    [w, 2 * w, 4 * w].forEach((cout, stage) => {
      for (let b = 0; b < opts.blocksPerStage; b++) {
        const stride = stage > 0 && b === 0 ? 2 : 1;
        this.blocks.push(new BasicBlock(store, `${prefix}layer${stage + 1}.${b}`, cin, cout, stride, seeds));
        cin = cout;
      }
    });
    this.featureDim = cin;
    this.head =
      opts.classifier === 'cosine'
        ? new CosineLinear(store, `${prefix}head`, cin, opts.numClasses, opts.cosineScale, seeds)
        : new Linear(store, `${prefix}head`, cin, opts.numClasses, seeds);
  }

  /** x [N,H,W,Cin] (normalised float32) → logits [N,C] and features [N,F]. */
  apply(x: tf.Tensor4D, training: boolean): ForwardOutput {
    let h = this.bn.apply(this.stem.apply(x), training, { relu: true });
    for (const b of this.blocks) h = b.apply(h, training);
    const features = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return { logits: this.head.apply(features), features };
  }

  dispose(): void {
    for (const b of this.blocks) b.shortcut?.dispose();
  }
}
