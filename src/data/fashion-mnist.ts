// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) as a Dataset: 28×28 grayscale photos of clothing
// in ten classes, 60,000 for training and 10,000 for testing, stored as four MNIST idx files
// (gzip-compressed or not). Debian's `dataset-fashion-mnist` package installs the real data at
// /usr/share/datasets/fashion-mnist; scripts/setup.sh installs it, so the demo has real data on a
// machine without nnlock's fixtures. Items are 1×28×28 bytes with labels 0..9.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readMnist } from '../io/mnist.ts';
import { InMemoryDataset } from './dataset.ts';
import type { Normalisation } from './normalisation.ts';

/** Where Debian's dataset-fashion-mnist package puts the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The spec prefix openDataset reads as Fashion-MNIST: `fashion-mnist:` (Debian's) or `fashion-mnist:DIR`. */
export const FASHION_MNIST_SPEC = 'fashion-mnist:';

export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);

/** Pixel mean and std of the training images in [0, 1] (one channel), for input normalisation. */
export const FASHION_MNIST_NORMALISATION: Readonly<Normalisation> = Object.freeze({ mean: [0.286], std: [0.353] });

const BASENAMES = { train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'], test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] } as const;

/** The path of `base` in `dir`, compressed (.gz) or not, or undefined. */
function findIdx(dir: string, base: string): string | undefined {
  return [`${base}.gz`, base].map((n) => join(dir, n)).find((p) => existsSync(p));
}

/** The images and labels files of a split in a Fashion-MNIST folder, or an error that names what is missing. */
export function fashionMnistFiles(dir: string, split: 'train' | 'test'): { images: string; labels: string } {
  const [imagesBase, labelsBase] = BASENAMES[split];
  const images = findIdx(dir, imagesBase);
  const labels = findIdx(dir, labelsBase);
  if (!images || !labels) {
    const hint = dir === DEBIAN_FASHION_MNIST_DIR ? ' (install it with `apt-get install dataset-fashion-mnist`, or run scripts/setup.sh)' : '';
    throw new Error(`${dir}: no Fashion-MNIST ${split} files (${imagesBase}[.gz] and ${labelsBase}[.gz])${hint}`);
  }
  return { images, labels };
}

/** Whether `dir` holds the idx files of a Fashion-MNIST (or MNIST) folder, of either split. */
export function isFashionMnistFolder(dir: string): boolean {
  return [...BASENAMES.train, ...BASENAMES.test].some((b) => findIdx(dir, b) !== undefined);
}

/** Whether `dir` holds all four files of Fashion-MNIST (both splits, images and labels). */
export function hasFashionMnist(dir: string): boolean {
  return [...BASENAMES.train, ...BASENAMES.test].every((b) => findIdx(dir, b) !== undefined);
}

/** The folder a `fashion-mnist:[DIR]` spec names, or undefined for any other spec. */
export function fashionMnistDir(spec: string): string | undefined {
  if (!spec.startsWith(FASHION_MNIST_SPEC)) return undefined;
  return spec.slice(FASHION_MNIST_SPEC.length) || DEBIAN_FASHION_MNIST_DIR;
}

/** Reads a split of the Fashion-MNIST folder `dir` (default Debian's) into one dataset of 1×H×W bytes. */
export async function loadFashionMnist(dir = DEBIAN_FASHION_MNIST_DIR, split: 'train' | 'test' = 'train'): Promise<InMemoryDataset> {
  const files = fashionMnistFiles(dir, split);
  const { images, labels, height, width } = await readMnist(files.images, files.labels);
  return new InMemoryDataset(images, labels, [1, height, width], FASHION_MNIST_CLASSES);
}
