/**
 * Where each dataset lives: its folder name under a data root, the files that must be there, and the official
 * addresses to fetch it from with their published checksums (MD5 where the publisher gives only MD5).
 *
 *   fashion-mnist   <root>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]   (Zalando, MIT)
 *   mnist           <root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   cifar10         <root>/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin            (from cifar-10-binary.tar.gz)
 *   cifar100[-coarse] <root>/cifar-100-binary/{train,test}.bin                                (from cifar-100-binary.tar.gz)
 */
import type { DatasetName } from './types';

export interface RemoteFile {
  /** File name as saved (for an archive: the archive's name; it is extracted, then deleted). */
  file: string;
  /** Addresses tried in order. */
  urls: string[];
  md5?: string;
  sha256?: string;
  /** Size in bytes, when published. */
  bytes?: number;
}

export interface DatasetSource {
  /** Storage key: cifar100 and cifar100-coarse share one. */
  key: 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100';
  /** Folder under a data root. */
  dir: string;
  /** Files that must be in the folder; for IDX datasets `name` or `name.gz` will do. */
  required: string[];
  /** Whether a required file may also be found gzip-compressed as `<name>.gz`. */
  gzipOk: boolean;
  remote: RemoteFile[];
  /** Set when `remote` is one tar.gz whose top folder `member` becomes `dir`. */
  archive?: { member: string };
  homepage: string;
  license: string;
}

const IDX_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

const FASHION_MD5: Record<string, string> = {
  'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
  'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
  't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
  't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
};

const MNIST_MD5: Record<string, string> = {
  'train-images-idx3-ubyte.gz': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
  'train-labels-idx1-ubyte.gz': 'd53e105ee54ea40749a09fcbcd1e9432',
  't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
  't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
};

export const SOURCES: Record<DatasetSource['key'], DatasetSource> = {
  'fashion-mnist': {
    key: 'fashion-mnist',
    dir: 'fashion-mnist',
    required: IDX_FILES,
    gzipOk: true,
    remote: IDX_FILES.map((f) => ({
      file: `${f}.gz`,
      urls: [
        `https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/${f}.gz`,
        `http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/${f}.gz`,
      ],
      md5: FASHION_MD5[`${f}.gz`],
    })),
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
    license: 'MIT (Zalando SE)',
  },
  mnist: {
    key: 'mnist',
    dir: 'mnist',
    required: IDX_FILES,
    gzipOk: true,
    remote: IDX_FILES.map((f) => ({
      file: `${f}.gz`,
      urls: [
        `https://ossci-datasets.s3.amazonaws.com/mnist/${f}.gz`,
        `http://yann.lecun.com/exdb/mnist/${f}.gz`,
      ],
      md5: MNIST_MD5[`${f}.gz`],
    })),
    homepage: 'http://yann.lecun.com/exdb/mnist/',
    license: 'CC BY-SA 3.0 (Y. LeCun, C. Cortes)',
  },
  cifar10: {
    key: 'cifar10',
    dir: 'cifar-10-batches-bin',
    required: [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`).concat(['test_batch.bin']),
    gzipOk: false,
    remote: [
      {
        file: 'cifar-10-binary.tar.gz',
        urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
        md5: 'c32a1d4ab5d03f1284b67883e8d87530',
        bytes: 170052171,
      },
    ],
    archive: { member: 'cifar-10-batches-bin' },
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    license: 'free for research (A. Krizhevsky, 2009)',
  },
  cifar100: {
    key: 'cifar100',
    dir: 'cifar-100-binary',
    required: ['train.bin', 'test.bin'],
    gzipOk: false,
    remote: [
      {
        file: 'cifar-100-binary.tar.gz',
        urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
        md5: '03b5dce01913d631647c71ecec9e9cb8',
      },
    ],
    archive: { member: 'cifar-100-binary' },
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    license: 'free for research (A. Krizhevsky, 2009)',
  },
};

/** The storage source of a dataset name. */
export function sourceOf(name: DatasetName): DatasetSource {
  switch (name) {
    case 'fashion-mnist':
      return SOURCES['fashion-mnist'];
    case 'mnist':
      return SOURCES.mnist;
    case 'cifar10':
      return SOURCES.cifar10;
    case 'cifar100':
    case 'cifar100-coarse':
      return SOURCES.cifar100;
  }
}
