/**
 * The compiled WebGPU training step (ncl-kernels' `CompiledTrainStep`) behind the trainer's step contract: on the
 * webgpu backend the trunk and classifier of all K experts run as one fixed plan of WGSL dispatches (forward,
 * backward, SGD over a flat parameter buffer), and only the loss runs in tfjs, on the logits. The loss is the lib's
 * own (`LossFn`, mixup combined by ./step.ts's `batchLoss`, loss-owned variables); logits and their gradients stay
 * on the GPU.
 *
 * `compiledStep(...)` returns a StepFn that uses the plan when it can, and the eager step otherwise: another backend,
 * a model the plan does not describe (the cosine classifier), several micro-batches per step (`optim.accumulate`),
 * or `NCL_COMPILED_STEP=0`. Both update the same variables and momentum buffers, so they can alternate.
 *
 * Order within a step: forward (GPU) → loss and its gradients (tfjs, GPU) → the loss read back → backward and SGD
 * (GPU), so a step with a non-finite loss makes no update, as the eager step, and the GPU runs the backward pass
 * while the CPU prepares the next batch.
 */
import { CompiledTrainStep, type NetSpec, type StepTensors } from 'ncl-kernels';
import { tf } from '../tf';
import type * as data from '../data';
import { describeModel } from '../models/describe';
import type { MultiExpert } from '../models/experts';
import type { SGD } from './sgd';
import type { TrainLoss } from './loss';
import { batchLoss, type StepFn, type StepLosses } from './step';

/**
 * Steps trained on a compiled plan in this process, and the GPU dispatches of the last one (how tests and
 * `ncl bench` tell which step ran).
 */
export const compiledStepStats = { steps: 0, dispatchesPerStep: null as number | null };

/** Is the compiled step switched on (default) and on the webgpu backend? */
export function compiledStepWanted(): boolean {
  return tf.getBackend() === 'webgpu' && process.env.NCL_COMPILED_STEP !== '0';
}

/**
 * The compiled step of one model and optimizer: plans by input shape, and the adapters between the plan's
 * parameter names (tfjs variable names) and the optimizer's momentum buffers (keyed by the model's names).
 */
export class CompiledModelStep {
  private readonly plans = new Map<string, Promise<CompiledTrainStep>>();
  private readonly tensors: StepTensors;
  /** The plan of the last step (for dispatch counts). */
  last: CompiledTrainStep | null = null;

  private constructor(
    readonly model: MultiExpert,
    readonly specs: NetSpec[],
    readonly sgd: SGD,
  ) {
    const variables = new Map<string, tf.Variable>();
    for (const v of model.store.all().values()) variables.set(v.name, v);
    const keyOf = new Map<string, string>();
    for (const [key, v] of sgd.params) keyOf.set(v.name, key);
    const key = (name: string) => {
      const k = keyOf.get(name);
      if (k === undefined) throw new Error(`compiled step: ${name} is not optimised by this SGD`);
      return k;
    };
    this.tensors = {
      variables,
      momentum: {
        get: (name) => sgd.buffers.get(key(name)),
        set: (name, t) => sgd.setBuffer(key(name), t),
      },
    };
  }

  /** The compiled step of `model` trained by `sgd`, or null when the plan does not describe the model. */
  static of(model: MultiExpert, sgd: SGD): CompiledModelStep | null {
    const specs = describeModel(model);
    return specs ? new CompiledModelStep(model, specs, sgd) : null;
  }

  private plan(shape: number[]): Promise<CompiledTrainStep> {
    const k = shape.join('x');
    let p = this.plans.get(k);
    if (!p) {
      p = CompiledTrainStep.create({
        specs: this.specs,
        input: shape as [number, number, number, number],
        momentum: this.sgd.momentum,
        weightDecay: this.sgd.weightDecay,
      });
      this.plans.set(k, p);
    }
    return p;
  }

  /**
   * One training step on `x`: forward, `loss(logits)` with its gradients (w.r.t. the logits and `lossVars`), then,
   * if `accept(total)` says so after the loss is read, backward and SGD at `lr`. The loss variables' gradients are
   * returned (keyed by variable name, for `sgd.step`); the caller disposes them.
   */
  async run(
    x: tf.Tensor4D,
    loss: (logits: tf.Tensor2D[]) => { total: tf.Scalar; terms: Record<string, tf.Scalar> },
    lossVars: tf.Variable[],
    lr: number,
    accept: (total: number) => boolean = Number.isFinite,
  ): Promise<{ total: number; terms: Record<string, number>; lossGrads: Record<string, tf.Tensor> | null }> {
    const step = await this.plan(x.shape);
    this.last = step;
    const logits = step.forward(x, this.tensors);
    let names: string[] = [];
    const out = tf.tidy(() => {
      let terms: tf.Tensor1D | null = null;
      const r = tf.engine().gradients(
        () => {
          const o = loss(logits);
          names = Object.keys(o.terms);
          // kept: the gradient function disposes everything but its result
          terms = tf.keep(
            names.length ? tf.stack(names.map((k) => o.terms[k])) : tf.zeros([0]),
          ) as tf.Tensor1D;
          return o.total;
        },
        [...logits, ...lossVars],
        undefined,
        true,
      );
      return { value: r.value, grads: r.grads, terms: terms! };
    });
    tf.dispose(logits);
    const termValues = await out.terms.data();
    const total = (await out.value.data())[0];
    tf.dispose([out.value, out.terms]);
    const terms: Record<string, number> = { total };
    names.forEach((n, i) => (terms[n] = termValues[i]));
    const K = this.specs.length;
    if (!accept(total)) {
      tf.dispose(out.grads);
      return { total, terms, lossGrads: null };
    }
    step.backward(out.grads.slice(0, K), lr, this.tensors);
    compiledStepStats.steps++;
    compiledStepStats.dispatchesPerStep = step.dispatchesPerStep;
    tf.dispose(out.grads.slice(0, K));
    const lossGrads: Record<string, tf.Tensor> = {};
    lossVars.forEach((v, i) => (lossGrads[v.name] = out.grads[K + i]));
    return { total, terms, lossGrads };
  }

  dispose(): void {
    for (const p of this.plans.values())
      void p.then(
        (s) => s.dispose(),
        () => undefined,
      );
    this.plans.clear();
  }
}

/**
 * The trainer's step on the compiled plan where it applies (see the file comment), else `eager`. The plan is made
 * at the first step (and per new input shape); its shader compilation is part of that step. `dispose()` frees the
 * plans.
 */
export function compiledStep(
  model: MultiExpert,
  loss: TrainLoss,
  sgd: SGD,
  classCounts: number[],
  eager: StepFn,
): StepFn & { dispose(): void } {
  let compiled: CompiledModelStep | null | undefined;
  const lossVars = [...loss.variables.values()];
  const step = async (batches: data.Batch[], lr: number, globalStep: number): Promise<StepLosses> => {
    if (batches.length !== 1 || !compiledStepWanted()) return eager(batches, lr, globalStep);
    if (compiled === undefined) compiled = CompiledModelStep.of(model, sgd);
    if (!compiled) return eager(batches, lr, globalStep);
    const batch = batches[0];
    loss.prepare(batch, globalStep);
    try {
      const r = await compiled.run(batch.x, batchLoss(loss.fn, batch, classCounts), lossVars, lr);
      if (r.lossGrads) {
        sgd.step(r.lossGrads, lr);
        tf.dispose(Object.values(r.lossGrads));
      }
      return { totals: [r.total], terms: r.lossGrads ? r.terms : { total: r.total } };
    } finally {
      tf.dispose([batch.x, batch.y, batch.mixup?.yB]);
    }
  };
  return Object.assign(step, { dispose: () => compiled?.dispose() });
}
