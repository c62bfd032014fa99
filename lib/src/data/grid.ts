/**
 * Image grids for figures: tile equally sized uint8 images into one image (row-major, `cols` per row), with a
 * `pad`-pixel border of value `fill` between them; empty cells (nulls) stay `fill`. Also the inverse of the batch
 * normalisation, to show what a batch row holds.
 */
import type { Image } from './augment';

/** One image [rows·(H+pad)+pad, cols·(W+pad)+pad, C] holding `images` in a grid. */
export function tileImages(images: (Image | null)[], cols: number, pad = 2, fill = 255): Image {
  const first = images.find((im): im is Image => im != null);
  if (!first) throw new Error('tileImages: no images');
  const { height: H, width: W, channels: C } = first;
  const rows = Math.ceil(images.length / cols);
  const GH = rows * (H + pad) + pad;
  const GW = cols * (W + pad) + pad;
  const data = new Uint8Array(GH * GW * C).fill(fill);
  images.forEach((im, k) => {
    if (!im) return;
    if (im.height !== H || im.width !== W || im.channels !== C)
      throw new Error('tileImages: images differ in shape');
    const oy = pad + Math.floor(k / cols) * (H + pad);
    const ox = pad + (k % cols) * (W + pad);
    for (let y = 0; y < H; y++)
      data.set(im.data.subarray(y * W * C, (y + 1) * W * C), ((oy + y) * GW + ox) * C);
  });
  return { data, height: GH, width: GW, channels: C };
}

/** Row `r` of a normalised batch x ([rows, H, W, C] data) back to uint8: v · std_c + mean_c, × 255, clamped. */
export function denormalizeRow(
  x: ArrayLike<number>,
  r: number,
  shape: { height: number; width: number; channels: number },
  mean: number[],
  std: number[],
): Image {
  const { height: H, width: W, channels: C } = shape;
  const size = H * W * C;
  const data = new Uint8Array(size);
  for (let k = 0; k < size; k++) {
    const c = k % C;
    const v = Math.round((x[r * size + k] * std[c] + mean[c]) * 255);
    data[k] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { data, height: H, width: W, channels: C };
}
