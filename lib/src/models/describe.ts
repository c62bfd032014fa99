/**
 * A model as a list of layers (ncl-kernels' `NetSpec`), for the compiled WebGPU training step: stem conv + BN +
 * ReLU, each basic block as conv, BN + ReLU, conv, BN + residual + ReLU (identity or option-A shortcut), global
 * average pooling, linear head. Parameters are named by their tfjs variable names. A model the compiled step does
 * not cover (the cosine classifier) has no description: `null`.
 */
import type { Layer, NetSpec } from 'ncl-kernels';
import type { MultiExpert } from './experts';
import type { ResNetCifar } from './resnet';
import { BatchNorm, Conv2d, Linear } from './layers';

function conv(c: Conv2d): Layer {
  return { op: 'conv', w: c.w.name, k: c.kernel, stride: c.stride, pad: c.pad, cin: c.cin, cout: c.cout };
}

function bn(
  b: BatchNorm,
  relu: boolean,
  residual?: { from: number; shortcut: 'identity' | 'optionA' },
): Layer {
  return {
    op: 'bn',
    gamma: b.gamma.name,
    beta: b.beta.name,
    runningMean: b.runningMean.name,
    runningVar: b.runningVar.name,
    channels: b.channels,
    momentum: b.momentum,
    eps: b.eps,
    relu,
    ...(residual ? { residual } : {}),
  };
}

/** One CIFAR ResNet as layers, or null when its head is not a linear layer. */
export function describeNetwork(net: ResNetCifar): NetSpec | null {
  if (!(net.head instanceof Linear)) return null;
  const layers: Layer[] = [conv(net.stem), bn(net.bn, true)];
  for (const b of net.blocks) {
    const input = layers.length - 1;
    layers.push(conv(b.conv1), bn(b.bn1, true), conv(b.conv2));
    layers.push(bn(b.bn2, true, { from: input, shortcut: b.shortcut ? 'optionA' : 'identity' }));
  }
  layers.push({ op: 'pool' });
  layers.push({
    op: 'linear',
    w: net.head.w.name,
    b: net.head.b.name,
    fin: net.head.fin,
    fout: net.head.fout,
  });
  return { layers };
}

/** Every expert of a K-expert model as layers (null when one of them has no description). */
export function describeModel(model: MultiExpert): NetSpec[] | null {
  const specs = model.experts.map(describeNetwork);
  return specs.every((s) => s !== null) ? (specs as NetSpec[]) : null;
}
