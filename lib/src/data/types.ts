/**
 * The shared shapes of the data module.
 *   ImageSet: N images, NHWC uint8 (`images[((i·H + y)·W + x)·C + c]`), int32 labels [N].
 *   Dataset: a train and a test ImageSet plus class names and the per-channel normalisation (in [0,1] units).
 */
export interface ImageSet {
  /** NHWC uint8, length n·height·width·channels. */
  images: Uint8Array;
  /** int32 [n], each in [0, numClasses). */
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
}

/** The datasets by name, with their number of classes C. */
export const DATASET_CLASSES = {
  'fashion-mnist': 10,
  mnist: 10,
  cifar10: 10,
  cifar100: 100,
  'cifar100-coarse': 20,
} as const;
export type DatasetName = keyof typeof DATASET_CLASSES;

/** Training images of each dataset's class 0, the head of a long-tailed subset (`longTailSubset`'s n_max). */
export const HEAD_CLASS_IMAGES: Record<DatasetName, number> = {
  'fashion-mnist': 6000,
  mnist: 5923,
  cifar10: 5000,
  cifar100: 500,
  'cifar100-coarse': 2500,
};
export const DATASET_NAMES = Object.keys(DATASET_CLASSES) as [DatasetName, ...DatasetName[]];

export interface Dataset {
  name: DatasetName;
  numClasses: number;
  classNames: string[];
  train: ImageSet;
  test: ImageSet;
  /** Per-channel mean of the training images, in [0,1] units. */
  mean: number[];
  /** Per-channel standard deviation of the training images, in [0,1] units. */
  std: number[];
}

/** Bytes in one image of `set`. */
export function imageSize(set: { height: number; width: number; channels: number }): number {
  return set.height * set.width * set.channels;
}
