/**
 * A network as the compiled WebGPU step sees it: a list of layers, each taking the previous layer's output, with
 * batch norms that may add an earlier layer's output (the residual of a basic block). Parameters are named by their
 * tfjs variable names. One `NetSpec` per expert; all experts read the same input.
 */

export interface ConvLayer {
  op: 'conv';
  /** Filter [k, k, cin, cout]. */
  w: string;
  k: number;
  stride: number;
  /** Symmetric zero padding. */
  pad: number;
  cin: number;
  cout: number;
}

export interface BatchNormLayer {
  op: 'bn';
  gamma: string;
  beta: string;
  runningMean: string;
  runningVar: string;
  channels: number;
  momentum: number;
  eps: number;
  relu: boolean;
  /**
   * Add the output of layer `from` (−1: the network input) before the ReLU: as it is ('identity'), or subsampled by
   * 2 and zero-padded by ⌊(channels − its channels)/2⌋ channels below ('optionA', He et al.'s CIFAR shortcut).
   */
  residual?: { from: number; shortcut: 'identity' | 'optionA' };
}

export interface PoolLayer {
  /** Global average pooling over height and width. */
  op: 'pool';
}

export interface LinearLayer {
  op: 'linear';
  /** Weights [fin, fout]. */
  w: string;
  /** Bias [fout]. */
  b: string;
  fin: number;
  fout: number;
}

export type Layer = ConvLayer | BatchNormLayer | PoolLayer | LinearLayer;

export interface NetSpec {
  layers: Layer[];
}

/** Shape [n, h, w, c] (or [n, 1, 1, c] after pooling / the linear layer). */
export type Shape4 = [number, number, number, number];

/** Output shape of every layer for an input of `input` (throws naming the layer when shapes do not fit). */
export function inferShapes(spec: NetSpec, input: Shape4): Shape4[] {
  const out: Shape4[] = [];
  let cur = input;
  spec.layers.forEach((l, i) => {
    const at = `layer ${i} (${l.op})`;
    const [n, h, w, c] = cur;
    switch (l.op) {
      case 'conv': {
        if (c !== l.cin) throw new Error(`${at}: input has ${c} channels, the filter expects ${l.cin}`);
        const ho = Math.floor((h + 2 * l.pad - l.k) / l.stride) + 1;
        const wo = Math.floor((w + 2 * l.pad - l.k) / l.stride) + 1;
        if (ho < 1 || wo < 1) throw new Error(`${at}: output would be empty (${h}×${w} input)`);
        cur = [n, ho, wo, l.cout];
        break;
      }
      case 'bn': {
        if (c !== l.channels) throw new Error(`${at}: input has ${c} channels, batch norm has ${l.channels}`);
        if (l.residual) {
          const { from, shortcut } = l.residual;
          if (from >= i - 1 || from < -1)
            throw new Error(`${at}: residual from layer ${from} is not an earlier one`);
          const r = from < 0 ? input : out[from];
          if (shortcut === 'identity' && r.join() !== cur.join())
            throw new Error(`${at}: identity residual of shape ${r.join('×')} onto ${cur.join('×')}`);
          if (shortcut === 'optionA') {
            if (Math.ceil(r[1] / 2) !== h || Math.ceil(r[2] / 2) !== w || r[3] > c)
              throw new Error(`${at}: option-A residual of shape ${r.join('×')} onto ${cur.join('×')}`);
          }
        }
        break;
      }
      case 'pool':
        cur = [n, 1, 1, c];
        break;
      case 'linear':
        if (h !== 1 || w !== 1 || c !== l.fin)
          throw new Error(`${at}: input ${cur.join('×')} is not [n, ${l.fin}] (pool first)`);
        cur = [n, 1, 1, l.fout];
        break;
    }
    out.push(cur);
  });
  return out;
}
