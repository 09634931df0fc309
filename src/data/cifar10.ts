// CIFAR-10 as a Dataset: 3×32×32 byte images, labels 0..9.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCifar10 } from '../io/cifar.ts';
import { InMemoryDataset } from './dataset.ts';

export const CIFAR10_CLASSES: readonly string[] = Object.freeze(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);

/** Reads CIFAR-10 binary files into one dataset, in the order given. */
export async function loadCifar10(paths: string[]): Promise<InMemoryDataset> {
  const { images, labels } = await readCifar10(paths);
  return new InMemoryDataset(images, labels, [3, 32, 32], CIFAR10_CLASSES);
}

/**
 * The binary files of a split in a CIFAR-10 folder: train = every data_batch_N.bin present, in
 * numeric order (a folder may hold only some of the five); test = test_batch.bin.
 */
export function cifar10Files(dir: string, split: 'train' | 'test'): string[] {
  if (!existsSync(dir)) throw new Error(`cifar10Files: ${dir}: no such folder`);
  if (split === 'test') {
    const path = join(dir, 'test_batch.bin');
    if (!existsSync(path)) throw new Error(`cifar10Files: ${path}: no such file`);
    return [path];
  }
  const batches = readdirSync(dir)
    .map((name) => /^data_batch_(\d+)\.bin$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => join(dir, m[0]));
  if (batches.length === 0) throw new Error(`cifar10Files: ${dir}: no data_batch_N.bin files`);
  return batches;
}
