/// <reference types="@webgpu/types" />
/**
 * The compiled training step: K networks (./spec.ts) as a fixed list of WGSL dispatches (./wgsl.ts) over buffers,
 * pipelines and bind groups made once, when the plan is built for an input shape.
 *
 * Buffers:
 *   - P, G, B: parameters, their gradients and the SGD momentum, flat; each layer's parameters are one block
 *     (conv: filter; batch norm: [γ, β]; linear: [W, b]) aligned to 256 bytes so that a bind group can bind it;
 *   - S: batch-norm running statistics, one [mean, var] block per batch norm; T: the batch's [mean, invstd];
 *   - one buffer per activation (kept for the backward pass), gradient buffers shared by activations whose gradients
 *     are not alive at the same time, per-layer scratch (split-K partials, batch-norm partial sums);
 *   - X: the input [rows, h, w, c]; per expert its logits [rows, classes] and their gradient, which the loss fills.
 *
 * A step: `encodeForward` (all experts) → the loss on the logits (outside, e.g. tfjs) → `encodeBackward` +
 * `encodeSgd` (after `setHyper`). Each encode appends dispatches to one compute pass; the caller owns encoder and
 * queue.
 */
import * as K from './wgsl';
import { inferShapes, Layer, NetSpec, Shape4 } from './spec';

const ALIGN = 64; // floats: 256 bytes, WebGPU's minStorageBufferOffsetAlignment

interface Slice {
  offset: number;
  size: number;
}

/** Where a named tensor lives in the flat buffers (offsets in floats). */
export interface ParamSlot {
  name: string;
  shape: number[];
  /** 'param': in P/G/B (trainable); 'state': in S (batch-norm running statistics). */
  kind: 'param' | 'state';
  offset: number;
  size: number;
}

interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups: [number, number, number];
  label: string;
}

export interface StepPlanOptions {
  /** [rows, height, width, channels] of the input. */
  input: Shape4;
  momentum: number;
  weightDecay: number;
}

/** FLOPs and bytes of one kernel kind in one step, for docs/gpu.md's roofline table. */
export interface KernelCost {
  kernel: string;
  dispatches: number;
  flops: number;
  bytes: number;
  tiles: Set<string>;
}

const STORAGE = 0x0080; // GPUBufferUsage.STORAGE
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;

export class StepPlan {
  readonly slots = new Map<string, ParamSlot>();
  readonly P: GPUBuffer;
  readonly G: GPUBuffer;
  readonly B: GPUBuffer;
  readonly S: GPUBuffer;
  readonly X: GPUBuffer;
  readonly logits: GPUBuffer[] = [];
  readonly dlogits: GPUBuffer[] = [];
  readonly paramFloats: number;
  readonly stateFloats: number;
  readonly forward: Dispatch[] = [];
  readonly backward: Dispatch[] = [];
  readonly update: Dispatch[] = [];
  /** Logits shape [rows, classes] of each expert. */
  readonly logitShape: [number, number];
  /** Bytes of all buffers the plan made. */
  bytes = 0;
  /** Per kernel kind: dispatches, FLOPs and bytes moved per step (estimates from the shapes). */
  readonly costs = new Map<string, KernelCost>();
  private readonly buffers: GPUBuffer[] = [];
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly U: GPUBuffer;
  private readonly hyper = new Float32Array(4);

  constructor(
    readonly device: GPUDevice,
    readonly specs: NetSpec[],
    readonly opts: StepPlanOptions,
  ) {
    if (specs.length < 1) throw new Error('compiled step: no networks');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const shapes = specs.map((s) => inferShapes(s, opts.input));
    const last = shapes.map((s) => s[s.length - 1]);
    for (const l of last) {
      if (l[1] !== 1 || l[2] !== 1 || l[3] !== last[0][3])
        throw new Error('compiled step: every network must end in a linear layer with the same classes');
    }
    this.logitShape = [opts.input[0], last[0][3]];

    // Flat layouts.
    let p = 0;
    let s = 0;
    const addParam = (names: [string, number[]][]) => {
      const start = p;
      for (const [name, shape] of names) {
        const size = shape.reduce((a, b) => a * b, 1);
        this.slot({ name, shape, kind: 'param', offset: p, size });
        p += size;
      }
      const block = { offset: start, size: p - start };
      p = align(p);
      return block;
    };
    const addState = (names: [string, number[]][]) => {
      const start = s;
      for (const [name, shape] of names) {
        const size = shape.reduce((a, b) => a * b, 1);
        this.slot({ name, shape, kind: 'state', offset: s, size });
        s += size;
      }
      const block = { offset: start, size: s - start };
      s = align(s);
      return block;
    };
    const blocks = specs.map((spec) =>
      spec.layers.map((l) => {
        switch (l.op) {
          case 'conv':
            return { p: addParam([[l.w, [l.k, l.k, l.cin, l.cout]]]) };
          case 'bn':
            return {
              p: addParam([
                [l.gamma, [l.channels]],
                [l.beta, [l.channels]],
              ]),
              s: addState([
                [l.runningMean, [l.channels]],
                [l.runningVar, [l.channels]],
              ]),
            };
          case 'linear':
            return {
              p: addParam([
                [l.w, [l.fin, l.fout]],
                [l.b, [l.fout]],
              ]),
            };
          case 'pool':
            return {};
        }
      }),
    );
    this.paramFloats = Math.max(p, ALIGN);
    this.stateFloats = Math.max(s, ALIGN);
    this.P = this.buffer(this.paramFloats, 'P');
    this.G = this.buffer(this.paramFloats, 'G');
    this.B = this.buffer(this.paramFloats, 'B');
    this.S = this.buffer(this.stateFloats, 'S');
    this.X = this.buffer(size4(opts.input), 'X');
    this.U = device.createBuffer({ size: 16, usage: UNIFORM | COPY_DST, label: 'ncl-step U' });
    this.buffers.push(this.U);

    try {
      specs.forEach((spec, e) => this.build(spec, shapes[e], blocks[e], e));
    } catch (e) {
      void device.popErrorScope();
      void device.popErrorScope();
      this.destroy();
      throw e;
    }
    this.update.push(
      this.dispatch(
        'sgd',
        K.sgd(this.paramFloats),
        [{ buffer: this.U }, { buffer: this.P }, { buffer: this.G }, { buffer: this.B }],
        [K.groupsFor(this.paramFloats), 1, 1],
      ),
    );
    this.cost('sgd', 1, 3 * this.paramFloats, 5 * 4 * this.paramFloats, '-');
    const validation = device.popErrorScope();
    const memory = device.popErrorScope();
    this.ready = Promise.all([validation, memory]).then(([v, m]) => {
      const e = m ?? v;
      if (e) {
        this.destroy();
        throw new Error(`compiled step: WebGPU rejected the plan: ${e.message.split('\n')[0]}`);
      }
    });
  }

  /** Resolves once the device has accepted every buffer, shader and pipeline; rejects with the first error. */
  readonly ready: Promise<void>;

  private slot(s: ParamSlot): void {
    if (this.slots.has(s.name)) throw new Error(`compiled step: parameter ${s.name} appears twice`);
    this.slots.set(s.name, s);
  }

  private buffer(floats: number, label: string): GPUBuffer {
    const size = Math.max(16, floats * 4);
    const b = this.device.createBuffer({
      size,
      usage: STORAGE | COPY_SRC | COPY_DST,
      label: `ncl-step ${label}`,
    });
    this.buffers.push(b);
    this.bytes += size;
    return b;
  }

  private pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  private dispatch(
    label: string,
    code: string,
    entries: GPUBufferBinding[],
    groups: [number, number, number],
  ): Dispatch {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups.some((g) => g > max))
      throw new Error(
        `compiled step: ${label} needs ${groups.join('×')} workgroups, more than the device's ${max} per dimension ` +
          `(input ${this.opts.input.join('×')}): use a smaller batch`,
      );
    const pipeline = this.pipeline(code);
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: entries.map((resource, binding) => ({ binding, resource })),
    });
    return { pipeline, bindGroup, groups, label };
  }

  private cost(kernel: string, dispatches: number, flops: number, bytes: number, tile: string): void {
    const c = this.costs.get(kernel) ?? {
      kernel,
      dispatches: 0,
      flops: 0,
      bytes: 0,
      tiles: new Set<string>(),
    };
    c.dispatches += dispatches;
    c.flops += flops;
    c.bytes += bytes;
    c.tiles.add(tile);
    this.costs.set(kernel, c);
  }

  /** Dispatches and buffers of one network. */
  private build(spec: NetSpec, shapes: Shape4[], blocks: { p?: Slice; s?: Slice }[], expert: number): void {
    const L = spec.layers;
    const input = this.opts.input;
    const shapeOf = (i: number): Shape4 => (i < 0 ? input : shapes[i]);
    const P = (b: Slice): GPUBufferBinding => ({ buffer: this.P, offset: b.offset * 4, size: b.size * 4 });
    const G = (b: Slice): GPUBufferBinding => ({ buffer: this.G, offset: b.offset * 4, size: b.size * 4 });
    const S = (b: Slice): GPUBufferBinding => ({ buffer: this.S, offset: b.offset * 4, size: b.size * 4 });
    const whole = (buffer: GPUBuffer): GPUBufferBinding => ({ buffer });

    // Activations: the input, then every layer's output (the last are the logits).
    const act: GPUBuffer[] = L.map((_, i) =>
      i === L.length - 1
        ? this.buffer(size4(shapes[i]), `e${expert} logits`)
        : this.buffer(size4(shapes[i]), `e${expert} a${i}`),
    );
    const actOf = (i: number) => (i < 0 ? this.X : act[i]);
    this.logits.push(act[L.length - 1]);
    const stats = L.map((l) => (l.op === 'bn' ? this.buffer(2 * l.channels, `e${expert} stats`) : null));

    // Which activations feed a residual (their gradient is initialised by it, then accumulated by their consumer).
    const residualOf = new Map<number, number>();
    L.forEach((l, i) => {
      if (l.op === 'bn' && l.residual) residualOf.set(l.residual.from, i);
    });

    // Forward.
    L.forEach((l, i) => {
      const [n, h, w, c] = shapeOf(i - 1);
      const out = shapes[i];
      const x = actOf(i - 1);
      switch (l.op) {
        case 'conv': {
          const cs = convShape(shapeOf(i - 1), l, out);
          const tile = K.chooseTile(l.cout);
          this.forward.push(
            this.dispatch(
              `e${expert} conv${i}`,
              K.convForward(cs, tile),
              [whole(x), P(blocks[i].p!), whole(act[i])],
              [Math.ceil(l.cout / (16 * tile.rn)), Math.ceil((n * cs.ho * cs.wo) / (16 * tile.rm)), 1],
            ),
          );
          const flops = 2 * n * cs.ho * cs.wo * l.cout * l.k * l.k * l.cin;
          this.cost(
            'conv forward',
            1,
            flops,
            4 * (size4(shapeOf(i - 1)) + size4(out) + l.k * l.k * l.cin * l.cout),
            tileName(tile),
          );
          break;
        }
        case 'bn': {
          const rows = n * h * w;
          const chunkRows = K.bnChunkRows(rows, c);
          const chunks = Math.ceil(rows / chunkRows);
          const part = this.buffer(2 * c * chunks, `e${expert} bn${i} part`);
          this.forward.push(
            this.dispatch(
              `e${expert} bn${i} stats`,
              K.bnStats(rows, c, chunkRows),
              [whole(x), whole(part)],
              [chunks, 1, 1],
            ),
            this.dispatch(
              `e${expert} bn${i} finalize`,
              K.bnFinalize(rows, c, chunkRows, l.eps, l.momentum),
              [whole(part), whole(stats[i]!), S(blocks[i].s!)],
              [1, 1, 1],
            ),
          );
          const res = l.residual;
          let mode: K.ResidualMode = { kind: 'none' };
          if (res?.shortcut === 'identity') mode = { kind: 'identity' };
          else if (res?.shortcut === 'optionA') {
            const r = shapeOf(res.from);
            mode = { kind: 'optionA', h: r[1], w: r[2], c: r[3], padLo: Math.floor((c - r[3]) / 2) };
          }
          const entries = [whole(x), whole(stats[i]!), P(blocks[i].p!), whole(act[i])];
          if (res) entries.push(whole(actOf(res.from)));
          this.forward.push(
            this.dispatch(`e${expert} bn${i} apply`, K.bnApply(n, h, w, c, l.relu, mode), entries, [
              K.groupsFor(rows * c),
              1,
              1,
            ]),
          );
          this.cost('batch norm forward (stats + apply)', 3, 8 * rows * c, 4 * rows * c * (res ? 4 : 3), '-');
          break;
        }
        case 'pool':
          this.forward.push(
            this.dispatch(
              `e${expert} pool${i}`,
              K.poolForward(n, h * w, c),
              [whole(x), whole(act[i])],
              [K.groupsFor(n * c), 1, 1],
            ),
          );
          this.cost('pool forward', 1, n * h * w * c, 4 * (n * h * w * c + n * c), '-');
          break;
        case 'linear':
          this.forward.push(
            this.dispatch(
              `e${expert} linear${i}`,
              K.linearForward(n, l.fin, l.fout),
              [whole(x), P(blocks[i].p!), whole(act[i])],
              [K.groupsFor(n * l.fout), 1, 1],
            ),
          );
          this.cost(
            'linear forward',
            1,
            2 * n * l.fin * l.fout,
            4 * (n * l.fin + l.fin * l.fout + n * l.fout),
            '-',
          );
          break;
      }
    });

    // Backward: gradient buffers by liveness (reused once the gradient they hold has been consumed).
    const free: GPUBuffer[] = [];
    const grad = new Map<number, GPUBuffer>();
    const gradOf = (i: number): GPUBuffer => {
      let g = grad.get(i);
      if (!g) {
        const bytes = Math.max(16, size4(shapeOf(i)) * 4);
        const k = free.findIndex((b) => b.size === bytes);
        g = k >= 0 ? free.splice(k, 1)[0] : this.buffer(bytes / 4, `e${expert} grad`);
        grad.set(i, g);
      }
      return g;
    };
    const release = (i: number) => {
      const g = grad.get(i);
      if (g) {
        free.push(g);
        grad.delete(i);
      }
    };
    const dlogits = this.buffer(size4(shapes[L.length - 1]), `e${expert} dlogits`);
    this.dlogits.push(dlogits);
    grad.set(L.length - 1, dlogits);
    // Has the gradient of activation j already been initialised (by a residual consumer)?
    const initialised = new Set<number>();
    for (let i = L.length - 1; i >= 0; i--) {
      const l: Layer = L[i];
      const [n, h, w, c] = shapeOf(i - 1);
      const dy = gradOf(i);
      const needDx = i > 0; // nothing needs the input's gradient
      const acc = initialised.has(i - 1);
      switch (l.op) {
        case 'linear': {
          this.backward.push(
            this.dispatch(
              `e${expert} linear${i} dW`,
              K.linearParamGrad(n, l.fin, l.fout),
              [whole(actOf(i - 1)), whole(dy), G(blocks[i].p!)],
              [K.groupsFor(l.fin * l.fout + l.fout), 1, 1],
            ),
          );
          if (needDx)
            this.backward.push(
              this.dispatch(
                `e${expert} linear${i} dx`,
                K.linearInputGrad(n, l.fin, l.fout, acc),
                [whole(dy), P(blocks[i].p!), whole(gradOf(i - 1))],
                [K.groupsFor(n * l.fin), 1, 1],
              ),
            );
          this.cost(
            'linear backward',
            2,
            4 * n * l.fin * l.fout,
            4 * 2 * (n * l.fin + l.fin * l.fout + n * l.fout),
            '-',
          );
          break;
        }
        case 'pool':
          if (needDx)
            this.backward.push(
              this.dispatch(
                `e${expert} pool${i} dx`,
                K.poolBackward(n, h * w, c, acc),
                [whole(dy), whole(gradOf(i - 1))],
                [K.groupsFor(n * h * w * c), 1, 1],
              ),
            );
          this.cost('pool backward', 1, n * h * w * c, 4 * (n * h * w * c + n * c), '-');
          break;
        case 'bn': {
          const rows = n * h * w;
          const chunkRows = K.bnChunkRows(rows, c);
          const chunks = Math.ceil(rows / chunkRows);
          const part = this.buffer(2 * c * chunks, `e${expert} bn${i} dpart`);
          const y = act[i];
          this.backward.push(
            this.dispatch(
              `e${expert} bn${i} dsums`,
              K.bnBackwardSums(rows, c, chunkRows, l.relu),
              [whole(dy), whole(y), whole(actOf(i - 1)), whole(stats[i]!), whole(part)],
              [chunks, 1, 1],
            ),
            this.dispatch(
              `e${expert} bn${i} dfinalize`,
              K.bnBackwardFinalize(rows, c, chunkRows),
              [whole(part), G(blocks[i].p!)],
              [1, 1, 1],
            ),
          );
          const res = l.residual;
          const identityRes = res?.shortcut === 'identity';
          const entries = [
            whole(dy),
            whole(y),
            whole(actOf(i - 1)),
            whole(stats[i]!),
            P(blocks[i].p!),
            G(blocks[i].p!),
            whole(gradOf(i - 1)),
          ];
          if (identityRes) {
            if (initialised.has(res!.from))
              throw new Error('compiled step: an activation feeds two residuals');
            entries.push(whole(gradOf(res!.from)));
          }
          this.backward.push(
            this.dispatch(`e${expert} bn${i} dx`, K.bnBackwardApply(rows, c, l.relu, identityRes), entries, [
              K.groupsFor(rows * c),
              1,
              1,
            ]),
          );
          if (acc) throw new Error('compiled step: a batch norm input feeds a residual');
          if (res?.shortcut === 'optionA') {
            if (initialised.has(res.from))
              throw new Error('compiled step: an activation feeds two residuals');
            const r = shapeOf(res.from);
            this.backward.push(
              this.dispatch(
                `e${expert} bn${i} shortcut dx`,
                K.shortcutAGrad(r[0], r[1], r[2], r[3], h, w, c, Math.floor((c - r[3]) / 2), l.relu),
                [whole(dy), whole(y), whole(gradOf(res.from))],
                [K.groupsFor(size4(r)), 1, 1],
              ),
            );
          }
          if (res) initialised.add(res.from);
          this.cost(
            'batch norm backward (sums + dx)',
            res?.shortcut === 'optionA' ? 4 : 3,
            12 * rows * c,
            4 * rows * c * (identityRes ? 8 : 7),
            '-',
          );
          break;
        }
        case 'conv': {
          const cs = convShape(shapeOf(i - 1), l, shapes[i]);
          const x = actOf(i - 1);
          // Filter gradient (split-K) into G.
          const wt = K.chooseTile(l.cout);
          const { splits, chunk } = K.filterGradSplit(cs, wt);
          const M = l.k * l.k * l.cin;
          const gw = G(blocks[i].p!);
          const partial = splits > 1 ? this.buffer(splits * M * l.cout, `e${expert} conv${i} dW part`) : null;
          this.backward.push(
            this.dispatch(
              `e${expert} conv${i} dW`,
              K.convFilterGrad(cs, wt, chunk),
              [whole(x), whole(dy), partial ? whole(partial) : gw],
              [Math.ceil(l.cout / (16 * wt.rn)), Math.ceil(M / (16 * wt.rm)), splits],
            ),
          );
          if (partial)
            this.backward.push(
              this.dispatch(
                `e${expert} conv${i} dW sum`,
                K.sumSplits(M * l.cout, splits),
                [whole(partial), gw],
                [K.groupsFor(M * l.cout), 1, 1],
              ),
            );
          const flops = 2 * n * cs.ho * cs.wo * l.cout * M;
          this.cost(
            'conv filter gradient (split-K + sum)',
            partial ? 2 : 1,
            flops + (partial ? splits * M * l.cout : 0),
            4 * (size4(shapeOf(i - 1)) + size4(shapes[i]) + (partial ? 2 * splits * M * l.cout : M * l.cout)),
            `${tileName(wt)}, ${splits} splits of ${chunk} px`,
          );
          if (needDx) {
            const xt = K.chooseTile(l.cin);
            this.backward.push(
              this.dispatch(
                `e${expert} conv${i} dx`,
                K.convInputGrad(cs, xt, acc),
                [whole(dy), P(blocks[i].p!), whole(gradOf(i - 1))],
                [Math.ceil(l.cin / (16 * xt.rn)), Math.ceil((n * h * w) / (16 * xt.rm)), 1],
              ),
            );
            // Issued FLOPs: a strided convolution's gather reads zeros for the taps between output pixels.
            this.cost(
              'conv input gradient',
              1,
              2 * n * h * w * l.cin * l.k * l.k * l.cout,
              4 * (size4(shapes[i]) * (acc ? 1 : 1) + size4(shapeOf(i - 1)) * (acc ? 2 : 1) + M * l.cout),
              tileName(xt),
            );
          }
          break;
        }
      }
      release(i);
    }
  }

  /** Learning rate of the next `encodeSgd`. */
  setLearningRate(lr: number): void {
    this.hyper[0] = lr;
    this.hyper[1] = this.opts.momentum;
    this.hyper[2] = this.opts.weightDecay;
    this.device.queue.writeBuffer(this.U, 0, this.hyper);
  }

  private static run(pass: GPUComputePassEncoder, ds: Dispatch[]): void {
    for (const d of ds) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2]);
    }
  }

  encodeForward(pass: GPUComputePassEncoder): void {
    StepPlan.run(pass, this.forward);
  }
  encodeBackward(pass: GPUComputePassEncoder): void {
    StepPlan.run(pass, this.backward);
  }
  encodeSgd(pass: GPUComputePassEncoder): void {
    StepPlan.run(pass, this.update);
  }

  get dispatchesPerStep(): number {
    return this.forward.length + this.backward.length + this.update.length;
  }

  get numPipelines(): number {
    return this.pipelines.size;
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.length = 0;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function size4(s: Shape4): number {
  return s[0] * s[1] * s[2] * s[3];
}

function tileName(t: K.Tile): string {
  return `${16 * t.rm}×${16 * t.rn} (${t.rm}×${t.rn}/thread)`;
}

function convShape(
  x: Shape4,
  l: { k: number; stride: number; pad: number; cin: number; cout: number },
  y: Shape4,
): K.ConvShape {
  return {
    n: x[0],
    h: x[1],
    w: x[2],
    cin: l.cin,
    cout: l.cout,
    k: l.k,
    stride: l.stride,
    pad: l.pad,
    ho: y[1],
    wo: y[2],
  };
}
