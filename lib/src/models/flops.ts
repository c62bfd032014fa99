/**
 * FLOPs per image counted from the model definition (multiply-adds × 2), for Table 5 and `ncl bench`.
 * Counts convolutions and the classifier; batch norm, ReLU and pooling are ignored (< 2 %).
 */
import { MultiExpert } from './experts';

export interface FlopCount {
  /** Forward FLOPs of one expert on one image. */
  forwardPerExpert: number;
  /** Forward FLOPs of all K experts (test-time ensemble). */
  forward: number;
  /** One training step per image ≈ 3 × forward (forward + input and weight gradients), all experts. */
  train: number;
}

export function modelFlops(model: MultiExpert, height: number, width: number): FlopCount {
  const e = model.experts[0];
  let h = height;
  let w = width;
  let flops = 0;
  const conv = (k: number, cin: number, cout: number, stride: number, pad: number) => {
    h = Math.floor((h + 2 * pad - k) / stride) + 1;
    w = Math.floor((w + 2 * pad - k) / stride) + 1;
    flops += 2 * k * k * cin * cout * h * w;
  };
  conv(3, e.stem.cin, e.stem.cout, 1, 1);
  for (const b of e.blocks) {
    conv(3, b.conv1.cin, b.conv1.cout, b.conv1.stride, 1);
    conv(3, b.conv2.cin, b.conv2.cout, 1, 1);
  }
  flops += 2 * e.featureDim * e.opts.numClasses;
  const forward = flops * model.numExperts;
  return { forwardPerExpert: flops, forward, train: 3 * forward };
}
