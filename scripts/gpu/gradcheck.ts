/**
 * Gradient check of one backend against `cpu`: the same seeded network, inputs and labels on both, the loss and
 * the gradient of every trainable variable compared. Used by test/webgpu.test.ts and by scripts/gpu/entry.ts
 * (`gradcheck`, run on the accelerator machine).
 *
 * Two networks, both built from the lib's own layers (so what is checked is what training runs):
 *   - `small`: conv 3×3 s1 → BN → ReLU → conv 3×3 s2 → BN (+ 1×1 s2 projection) → ReLU → global mean → dense →
 *     softmax cross-entropy;
 *   - `resnet8`: the lib's ResNet-8 (width 4, 10 classes) via createModel, softmax cross-entropy.
 * Reads are asynchronous (`await t.data()`): the webgpu backend cannot read synchronously under Node.
 */
import { tf } from '../../lib/src/tf';
import { BatchNorm, Conv2d, Linear, ParamStore, SeedStream } from '../../lib/src/models/layers';
import { createModel } from '../../lib/src/models/registry';

export type GradNet = 'small' | 'resnet8';

export interface GradValues {
  loss: number;
  /** Gradient of each trainable variable, by its (stable) name in the model. */
  grads: Record<string, Float32Array>;
}

export interface GradComparison {
  net: GradNet;
  backend: string;
  reference: string;
  lossA: number;
  lossB: number;
  /** max |gA − gB| over all gradient entries. */
  maxAbsErr: number;
  /** max over variables of max|gA − gB| / max(max|gB|, 1e-6): the error relative to each gradient's scale. */
  maxRelErr: number;
  /** The variable with the largest relative error. */
  worst: string;
  numVariables: number;
  numValues: number;
}

/** Seeded pseudo-random numbers (xorshift), so inputs are identical on every backend and run. */
export function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 0xffffffff) * 2 - 1) * scale;
  }
  return out;
}

function smallNet(store: ParamStore): (x: tf.Tensor4D) => tf.Tensor2D {
  const seeds = new SeedStream(3);
  const c1 = new Conv2d(store, 'c1', 3, 3, 8, 1, 1, seeds);
  const b1 = new BatchNorm(store, 'b1', 8);
  const c2 = new Conv2d(store, 'c2', 3, 8, 8, 2, 1, seeds);
  const b2 = new BatchNorm(store, 'b2', 8);
  const proj = new Conv2d(store, 'proj', 1, 8, 8, 2, 0, seeds);
  const fc = new Linear(store, 'fc', 8, 5, seeds);
  return (x) => {
    const h = tf.relu(b1.apply(c1.apply(x), true));
    const o = tf.relu(tf.add(b2.apply(c2.apply(h), true), proj.apply(h))) as tf.Tensor4D;
    return fc.apply(tf.mean(o, [1, 2]) as tf.Tensor2D);
  };
}

/** Loss and gradients of `net` on the current backend. */
export async function gradsOnCurrentBackend(net: GradNet): Promise<GradValues> {
  const spec = net === 'small' ? { n: 6, hw: 9, c: 3, classes: 5 } : { n: 8, hw: 16, c: 3, classes: 10 };
  let store: ParamStore;
  let forward: (x: tf.Tensor4D) => tf.Tensor2D;
  let dispose: () => void;
  if (net === 'small') {
    store = new ParamStore();
    forward = smallNet(store);
    dispose = () => store.dispose();
  } else {
    const model = createModel({ name: 'resnet8', numClasses: spec.classes, inChannels: spec.c, width: 4 }, 5);
    store = model.store;
    forward = (x) => model.apply(x, true)[0].logits;
    dispose = () => model.dispose();
  }
  const x = tf.tensor4d(seeded(spec.n * spec.hw * spec.hw * spec.c, 11), [spec.n, spec.hw, spec.hw, spec.c]);
  const labels = Int32Array.from({ length: spec.n }, (_, i) => (i * 7 + 3) % spec.classes);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), spec.classes).toFloat();
  const names = new Map<string, string>();
  for (const [k, v] of store.trainable) names.set(v.name, k);
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(y, forward(x)) as tf.Scalar,
    [...store.trainable.values()],
  );
  const out: GradValues = { loss: (await value.data())[0], grads: {} };
  for (const [vname, g] of Object.entries(grads)) {
    out.grads[names.get(vname) ?? vname] = (await g.data()) as Float32Array;
  }
  tf.dispose([x, y, value, ...Object.values(grads)]);
  dispose();
  return out;
}

/** Compare gradients of `a` against the reference `b` (same variable names). */
export function compareGrads(
  a: GradValues,
  b: GradValues,
): Omit<GradComparison, 'net' | 'backend' | 'reference'> {
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let worst = '';
  let numValues = 0;
  const keys = Object.keys(b.grads);
  for (const k of keys) {
    const ga = a.grads[k];
    const gb = b.grads[k];
    if (!ga || ga.length !== gb.length) throw new Error(`gradient of ${k} missing or misshaped`);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < gb.length; i++) {
      err = Math.max(err, Math.abs(ga[i] - gb[i]));
      scale = Math.max(scale, Math.abs(gb[i]));
    }
    numValues += gb.length;
    maxAbsErr = Math.max(maxAbsErr, err);
    const rel = err / Math.max(scale, 1e-6);
    if (rel >= maxRelErr) {
      maxRelErr = rel;
      worst = k;
    }
  }
  return { lossA: a.loss, lossB: b.loss, maxAbsErr, maxRelErr, worst, numVariables: keys.length, numValues };
}

/** Gradients of `net` on `backend` vs `reference` (default cpu); leaves `backend` as the current backend. */
export async function gradCheck(net: GradNet, backend: string, reference = 'cpu'): Promise<GradComparison> {
  await tf.setBackend(reference);
  const b = await gradsOnCurrentBackend(net);
  await tf.setBackend(backend);
  const a = await gradsOnCurrentBackend(net);
  return { net, backend, reference, ...compareGrads(a, b) };
}
