/**
 * `loadDataset(name)`: find (or fetch) a dataset and read it into memory as uint8 ImageSets.
 *
 *   fashion-mnist, mnist   train [60000, 28, 28, 1], test [10000, 28, 28, 1], 10 classes
 *   cifar10                train [50000, 32, 32, 3], test [10000, 32, 32, 3], 10 classes
 *   cifar100               same shapes, 100 fine classes; cifar100-coarse: the same images with the 20 coarse labels
 *
 * Search order and download rules: see ./locate.ts and ./fetch.ts. Results are cached per process (the same
 * folder is read once), so calling it from several notebook cells is cheap.
 */
import * as path from 'node:path';
import { readCifarBinary, readLabelNames } from './cifar';
import { DataError } from './errors';
import { fetchSource, offlineByEnv } from './fetch';
import { readIdxImageSet } from './idx';
import { findFile, locateSource, repoDataDir, searchRoots } from './locate';
import { type DatasetSource, sourceOf } from './sources';
import { DATASET_CLASSES, DATASET_NAMES, type Dataset, type DatasetName, type ImageSet } from './types';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];
export const CIFAR100_CLASSES = (
  'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can ' +
  'castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin ' +
  'elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster ' +
  'man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck ' +
  'pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk ' +
  'skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger ' +
  'tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
).split(' ');
export const CIFAR100_COARSE_CLASSES = (
  'aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices ' +
  'household_furniture insects large_carnivores large_man-made_outdoor_things large_natural_outdoor_scenes ' +
  'large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles small_mammals trees ' +
  'vehicles_1 vehicles_2'
).split(' ');

/**
 * The usual per-channel normalisation of each dataset's training images ([0,1] units), as used by the reference
 * code of the LT literature (LDAM, RIDE, PaCo, NCL for CIFAR). `channelStats` recomputes them from the data.
 */
export const NORMALIZATION: Record<DatasetName, { mean: number[]; std: number[] }> = {
  'fashion-mnist': { mean: [0.286], std: [0.353] },
  mnist: { mean: [0.1307], std: [0.3081] },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  'cifar100-coarse': { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
};

/** Per-channel mean and standard deviation of `set`'s pixels, in [0,1] units. */
export function channelStats(set: ImageSet): { mean: number[]; std: number[] } {
  const C = set.channels;
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  const img = set.images;
  for (let k = 0; k < img.length; k += C) {
    for (let c = 0; c < C; c++) {
      const v = img[k + c];
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const count = img.length / C;
  const mean = Array.from(sum, (s) => s / count / 255);
  const std = Array.from(sq, (s, c) => Math.sqrt(Math.max(0, s / count / 65025 - mean[c] * mean[c])));
  return { mean, std };
}

export interface LoadOptions {
  /** A data root searched first and used as the download cache (default: the repository's `data/`). */
  dataDir?: string;
  /** Forbid downloads (default `NCL_OFFLINE`). */
  offline?: boolean;
  /** Progress bar while downloading (default: when stderr is a terminal). */
  progress?: boolean;
  /** Base URL replacing the official download addresses (default `$NCL_DATA_MIRROR`). */
  mirror?: string;
}

/** Reads the dataset files in `dir` (the folder of `name`'s source). */
export function readDatasetDir(name: DatasetName, dir: string): Dataset {
  const src = sourceOf(name);
  const file = (f: string) => findFile(dir, f, src.gzipOk) ?? path.join(dir, f);
  const norm = NORMALIZATION[name];
  const numClasses = DATASET_CLASSES[name];
  switch (name) {
    case 'fashion-mnist':
    case 'mnist': {
      const classNames = name === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES;
      const train = readIdxImageSet(
        file('train-images-idx3-ubyte'),
        file('train-labels-idx1-ubyte'),
        numClasses,
      );
      const test = readIdxImageSet(
        file('t10k-images-idx3-ubyte'),
        file('t10k-labels-idx1-ubyte'),
        numClasses,
      );
      return { name, numClasses, classNames, train, test, ...norm };
    }
    case 'cifar10': {
      const o = { labelBytes: 1, labelIndex: 0, numClasses } as const;
      const train = readCifarBinary(
        [1, 2, 3, 4, 5].map((k) => file(`data_batch_${k}.bin`)),
        o,
      );
      const test = readCifarBinary([file('test_batch.bin')], o);
      const classNames = readLabelNames(path.join(dir, 'batches.meta.txt'), numClasses) ?? CIFAR10_CLASSES;
      return { name, numClasses, classNames, train, test, ...norm };
    }
    case 'cifar100':
    case 'cifar100-coarse': {
      const coarse = name === 'cifar100-coarse';
      const o = { labelBytes: 2, labelIndex: coarse ? 0 : 1, numClasses } as const;
      const train = readCifarBinary([file('train.bin')], o);
      const test = readCifarBinary([file('test.bin')], o);
      const classNames = coarse
        ? (readLabelNames(path.join(dir, 'coarse_label_names.txt'), numClasses) ?? CIFAR100_COARSE_CLASSES)
        : (readLabelNames(path.join(dir, 'fine_label_names.txt'), numClasses) ?? CIFAR100_CLASSES);
      return { name, numClasses, classNames, train, test, ...norm };
    }
  }
}

/**
 * Where `name` is on disk, fetching it into the cache when it is nowhere and downloads are allowed.
 * Throws a one-line `DataError` listing the places searched when it is absent and downloads are off.
 */
export async function ensureDataset(name: DatasetName, opts: LoadOptions = {}): Promise<string> {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new DataError(`unknown dataset '${name}' (known: ${DATASET_NAMES.join(', ')})`);
  }
  const src: DatasetSource = sourceOf(name);
  const roots = searchRoots(opts);
  const found = locateSource(src, roots);
  if (found) return found.dir;
  const offline = opts.offline ?? offlineByEnv();
  const where = roots.map((r) => path.join(r.dir, src.dir)).join(', ');
  if (offline) {
    throw new DataError(
      `${name}: not found (looked in ${where}) and downloads are off (NCL_OFFLINE); ` +
        `put the files there or allow downloads (${src.homepage})`,
    );
  }
  return fetchSource(src, opts.dataDir ? path.resolve(opts.dataDir) : repoDataDir(), opts);
}

const cache = new Map<string, Promise<Dataset>>();

/** Loads dataset `name` (see the file comment for shapes). Same folder, same objects: do not mutate them. */
export async function loadDataset(name: DatasetName, opts: LoadOptions = {}): Promise<Dataset> {
  const dir = await ensureDataset(name, opts);
  const key = `${name}\0${dir}`;
  let p = cache.get(key);
  if (!p) {
    p = Promise.resolve().then(() => readDatasetDir(name, dir));
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Forget the datasets loaded so far (tests, or after files changed on disk). */
export function clearDatasetCache(): void {
  cache.clear();
}
