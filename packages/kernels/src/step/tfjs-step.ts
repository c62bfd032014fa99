/// <reference types="@webgpu/types" />
/**
 * The compiled step (./plan.ts) on tfjs-backend-webgpu's device, with tfjs tensors at its edges:
 *
 *   const step = new CompiledTrainStep({ specs, input: [rows, 32, 32, 3], momentum: 0.9, weightDecay: 2e-4 });
 *   const logits = step.forward(x, vars);        // one [rows, classes] tensor per network, on the GPU
 *   … the loss in tfjs: dlogits = tf.grads(…)(logits) …
 *   step.backward(dlogits, lr, vars);            // gradients, SGD; weights, momentum and BN statistics written back
 *
 * Data never leaves the GPU: the input and the loss gradients are copied from tfjs's buffers into the plan's, the
 * logits are tfjs tensors over the plan's own buffers (zero-copy), and after the update the weights, momentum
 * buffers and running statistics are copied into the tensors that hold them in tfjs (the model's variables and the
 * optimizer's momentum tensors). Those stay the truth: a variable assigned from outside (a checkpoint restored) is
 * noticed by its changed data id and copied in before the next step. Each direction is one command encoder and
 * one submit.
 *
 * Writing into a tfjs tensor's buffer is done only when no other tensor shares its data; otherwise the tensor is
 * first given a buffer of its own.
 */
import { tf } from '../tf';
import { NetSpec, Shape4 } from './spec';
import { StepPlan } from './plan';

interface TensorData {
  resource?: GPUBuffer | GPUTexture | null;
  values?: unknown;
  refCount: number;
  shape: number[];
  dtype: string;
}
interface WebGPUBackendLike {
  device: GPUDevice;
  tensorMap: { get(dataId: object): TensorData | undefined };
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  createTensorFromGPUData(
    data: { buffer: GPUBuffer; zeroCopy?: boolean },
    shape: number[],
    dtype: string,
  ): tf.Tensor;
}

/** Tensors the step reads and writes by name (the names of the specs' parameters). */
export interface StepTensors {
  /** Trainable parameters and batch-norm running statistics. */
  variables: Map<string, tf.Variable>;
  /** SGD momentum buffers of the trainable parameters; missing ones start at zero and are added. */
  momentum: { get(name: string): tf.Tensor | undefined; set(name: string, t: tf.Tensor): void };
}

export interface CompiledTrainStepOptions {
  specs: NetSpec[];
  input: Shape4;
  momentum: number;
  weightDecay: number;
}

/** The webgpu backend, or an error naming the current backend. */
function webgpuBackend(): WebGPUBackendLike {
  if (tf.getBackend() !== 'webgpu')
    throw new Error(`the compiled training step needs the webgpu backend (current: ${tf.getBackend()})`);
  return tf.backend() as unknown as WebGPUBackendLike;
}

export class CompiledTrainStep {
  readonly plan: StepPlan;
  private readonly backend: WebGPUBackendLike;
  private readonly device: GPUDevice;
  /** Data id each named tensor had when the step last wrote it (unchanged → the plan's copy is current). */
  private readonly written = new Map<string, object>();
  private readonly momentumWritten = new Map<string, object>();
  private logitTensors: tf.Tensor[] = [];
  /** Statistics of the last step, for `ncl bench`. */
  lastCopies = 0;
  /** Timestamp queries of the passes of the next `capacity` steps (`timePasses`), or null. */
  private timing: { set: GPUQuerySet; resolved: GPUBuffer; capacity: number; next: number } | null = null;

  /** Build the plan and wait until the device has accepted it (shaders compiled, buffers allocated). */
  static async create(opts: CompiledTrainStepOptions): Promise<CompiledTrainStep> {
    const step = new CompiledTrainStep(opts);
    await step.plan.ready;
    return step;
  }

  private constructor(readonly opts: CompiledTrainStepOptions) {
    this.backend = webgpuBackend();
    this.device = this.backend.device;
    this.plan = new StepPlan(this.device, opts.specs, opts);
  }

  /** The GPU buffer holding `t` (uploaded first if tfjs keeps it on the CPU). */
  private bufferOf(t: tf.Tensor): GPUBuffer {
    this.backend.uploadToGPU(t.dataId);
    const r = this.backend.tensorMap.get(t.dataId)?.resource;
    if (!r || !('mapAsync' in r)) throw new Error('compiled step: tensor has no GPU buffer');
    return r;
  }

  /** Submit what tfjs has recorded, so that it runs before the plan's commands. */
  private flushTfjs(): void {
    if (this.backend.commandEncoder) {
      this.backend.endComputePassEncoder();
      this.backend.submitQueue();
    }
  }

  /** A buffer of `t` that the step may overwrite: not shared with another tensor, no stale CPU copy. */
  private writableBuffer(t: tf.Tensor): GPUBuffer {
    const d = this.backend.tensorMap.get(t.dataId);
    const engineRefs = (
      tf.engine() as unknown as {
        state: { tensorInfo: { get(id: object): { refCount: number } | undefined } };
      }
    ).state.tensorInfo.get(t.dataId)?.refCount;
    if (!d || d.refCount !== 1 || (engineRefs ?? 1) !== 1) return null as unknown as GPUBuffer;
    const b = this.bufferOf(t);
    d.values = null;
    return b;
  }

  private variable(name: string, tensors: StepTensors): tf.Variable {
    const v = tensors.variables.get(name);
    if (!v) throw new Error(`compiled step: no variable named ${name}`);
    return v;
  }

  /**
   * Forward pass of every network on `x` ([rows, h, w, c], float32). Returns the logits, one tensor per network;
   * they are views of the plan's buffers, valid until the next `forward`: dispose them before it.
   */
  forward(x: tf.Tensor, tensors: StepTensors): tf.Tensor2D[] {
    const want = this.opts.input;
    if (x.shape.join() !== want.join() || x.dtype !== 'float32')
      throw new Error(
        `compiled step: input ${x.shape.join('×')} ${x.dtype}, built for ${want.join('×')} float32`,
      );
    const enc = this.device.createCommandEncoder();
    let copies = 0;
    // Parameters and statistics changed outside the step (first step, a restored checkpoint) are copied in.
    for (const slot of this.plan.slots.values()) {
      const v = this.variable(slot.name, tensors);
      if (this.written.get(slot.name) !== v.dataId) {
        if (v.shape.join() !== slot.shape.join())
          throw new Error(
            `compiled step: ${slot.name} is ${v.shape.join('×')}, expected ${slot.shape.join('×')}`,
          );
        enc.copyBufferToBuffer(
          this.bufferOf(v),
          0,
          slot.kind === 'param' ? this.plan.P : this.plan.S,
          slot.offset * 4,
          slot.size * 4,
        );
        copies++;
        this.written.set(slot.name, v.dataId);
      }
      if (slot.kind !== 'param') continue;
      const m = tensors.momentum.get(slot.name);
      if (m ? this.momentumWritten.get(slot.name) !== m.dataId : this.momentumWritten.has(slot.name)) {
        if (m) enc.copyBufferToBuffer(this.bufferOf(m), 0, this.plan.B, slot.offset * 4, slot.size * 4);
        else enc.clearBuffer(this.plan.B, slot.offset * 4, slot.size * 4);
        copies++;
        if (m) this.momentumWritten.set(slot.name, m.dataId);
        else this.momentumWritten.delete(slot.name);
      }
    }
    enc.copyBufferToBuffer(this.bufferOf(x), 0, this.plan.X, 0, x.size * 4);
    this.flushTfjs();
    const pass = enc.beginComputePass(this.timestampWrites(0));
    this.plan.encodeForward(pass);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    this.lastCopies = copies + 1;
    this.logitTensors = this.plan.logits.map((buffer) =>
      this.backend.createTensorFromGPUData({ buffer, zeroCopy: true }, this.plan.logitShape, 'float32'),
    );
    return this.logitTensors as tf.Tensor2D[];
  }

  /**
   * Backward pass from the logits' gradients (one per network, as `forward` returned them), one SGD step with
   * learning rate `lr` over all parameters, and the new weights, momentum and running statistics written into
   * `tensors`.
   */
  backward(dlogits: tf.Tensor[], lr: number, tensors: StepTensors): void {
    if (dlogits.length !== this.plan.dlogits.length)
      throw new Error(
        `compiled step: ${dlogits.length} logit gradients for ${this.plan.dlogits.length} networks`,
      );
    const enc = this.device.createCommandEncoder();
    dlogits.forEach((g, e) => {
      if (g.shape.join() !== this.plan.logitShape.join())
        throw new Error(
          `compiled step: logit gradient ${g.shape.join('×')}, expected ${this.plan.logitShape.join('×')}`,
        );
      enc.copyBufferToBuffer(this.bufferOf(g), 0, this.plan.dlogits[e], 0, g.size * 4);
    });
    let copies = dlogits.length;
    this.plan.setLearningRate(lr);
    // Outputs: every variable and momentum buffer gets a buffer the step may write (new tensors where needed).
    const targets: [GPUBuffer, GPUBuffer, number, number][] = [];
    for (const slot of this.plan.slots.values()) {
      let v = this.variable(slot.name, tensors);
      let dst = this.writableBuffer(v);
      if (!dst) {
        const own = tf.zeros(slot.shape);
        v.assign(own);
        own.dispose();
        v = this.variable(slot.name, tensors);
        dst = this.writableBuffer(v);
        if (!dst) throw new Error(`compiled step: cannot get a buffer of its own for ${slot.name}`);
      }
      const src = slot.kind === 'param' ? this.plan.P : this.plan.S;
      targets.push([src, dst, slot.offset, slot.size]);
      this.written.set(slot.name, v.dataId);
      if (slot.kind !== 'param') continue;
      let m = tensors.momentum.get(slot.name);
      let mb = m ? this.writableBuffer(m) : null;
      if (!m || !mb) {
        m = tf.keep(tf.zeros(slot.shape));
        tensors.momentum.set(slot.name, m);
        mb = this.writableBuffer(m);
        if (!mb) throw new Error(`compiled step: cannot get a momentum buffer of its own for ${slot.name}`);
      }
      targets.push([this.plan.B, mb, slot.offset, slot.size]);
      this.momentumWritten.set(slot.name, m.dataId);
    }
    this.flushTfjs();
    const pass = enc.beginComputePass(this.timestampWrites(2));
    this.plan.encodeBackward(pass);
    this.plan.encodeSgd(pass);
    pass.end();
    if (this.timing && this.timing.next < this.timing.capacity) {
      const t = this.timing;
      enc.resolveQuerySet(t.set, 4 * t.next, 4, t.resolved, 256 * t.next); // offsets: multiples of 256
      t.next++;
    }
    for (const [src, dst, offset, size] of targets) enc.copyBufferToBuffer(src, offset * 4, dst, 0, size * 4);
    copies += targets.length;
    this.device.queue.submit([enc.finish()]);
    this.lastCopies += copies;
  }

  /** The gradients of the last step, by parameter name (reads the GPU; for tests and inspection). */
  async gradients(): Promise<Map<string, Float32Array>> {
    const all = await this.read(this.plan.G, this.plan.paramFloats);
    const out = new Map<string, Float32Array>();
    for (const s of this.plan.slots.values())
      if (s.kind === 'param') out.set(s.name, all.slice(s.offset, s.offset + s.size));
    return out;
  }

  private async read(src: GPUBuffer, floats: number): Promise<Float32Array> {
    this.flushTfjs();
    const staging = this.device.createBuffer({ size: floats * 4, usage: 0x0001 | 0x0008 }); // MAP_READ | COPY_DST
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, staging, 0, floats * 4);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(0x0001);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /**
   * Time the GPU passes of the next `steps` (≤ 1024) steps with timestamp queries (forward; backward + SGD).
   * Returns false, and times nothing, when the device has no 'timestamp-query' feature (or `steps` < 1).
   */
  timePasses(steps: number): boolean {
    this.timing?.set.destroy();
    this.timing?.resolved.destroy();
    this.timing = null;
    if (steps < 1 || !this.device.features.has('timestamp-query')) return false;
    steps = Math.min(steps, 1024); // at most 4096 queries in a set
    this.timing = {
      set: this.device.createQuerySet({ type: 'timestamp', count: 4 * steps }),
      resolved: this.device.createBuffer({ size: 256 * steps, usage: 0x0200 | 0x0004 }), // QUERY_RESOLVE | COPY_SRC
      capacity: steps,
      next: 0,
    };
    return true;
  }

  /** GPU ms of each pass of the steps timed since `timePasses` (empty lists when none were). */
  async passTimes(): Promise<{ forwardMs: number[]; backwardMs: number[] }> {
    const t = this.timing;
    if (!t || t.next === 0) return { forwardMs: [], backwardMs: [] };
    this.flushTfjs();
    const staging = this.device.createBuffer({ size: 256 * t.next, usage: 0x0001 | 0x0008 }); // MAP_READ | COPY_DST
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(t.resolved, 0, staging, 0, 256 * t.next);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(0x0001);
    const ns = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
    const forwardMs: number[] = [];
    const backwardMs: number[] = [];
    for (let i = 0; i < t.next; i++) {
      const q = 32 * i; // 256 bytes per step
      forwardMs.push(ms(ns[q], ns[q + 1]));
      backwardMs.push(ms(ns[q + 2], ns[q + 3]));
    }
    return { forwardMs, backwardMs };
  }

  /** The timestamp writes of a pass (query `first` and `first + 1` of this step's four), while steps are timed. */
  private timestampWrites(first: number): GPUComputePassDescriptor | undefined {
    const t = this.timing;
    if (!t || t.next >= t.capacity) return undefined;
    return {
      timestampWrites: {
        querySet: t.set,
        beginningOfPassWriteIndex: 4 * t.next + first,
        endOfPassWriteIndex: 4 * t.next + first + 1,
      },
    };
  }

  /** Dispatches per training step (forward + backward + SGD, all networks). */
  get dispatchesPerStep(): number {
    return this.plan.dispatchesPerStep;
  }

  dispose(): void {
    tf.dispose(this.logitTensors);
    this.logitTensors = [];
    this.timing?.set.destroy();
    this.timing?.resolved.destroy();
    this.timing = null;
    this.plan.destroy();
  }
}
