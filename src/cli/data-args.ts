// Datasets named on the command line: a CIFAR-10 folder or .bin file(s), or a folder of images
// with one subfolder per class. Input normalisation comes from the weights file when it says.
import { existsSync, statSync } from 'node:fs';
import type { Dataset } from '../data/dataset.ts';
import { subset } from '../data/dataset.ts';
import { cifar10Files, loadCifar10 } from '../data/cifar10.ts';
import { loadImageFolder } from '../data/image-folder.ts';

/** CIFAR-10 statistics, the default normalisation for models trained by nnlock. */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD = [0.247, 0.2435, 0.2616];

/**
 * Loads `spec`: a .bin file, several comma-separated .bin files, a CIFAR-10 folder (the split's
 * files) or an image folder with class subfolders (resized to 32×32 RGB).
 */
export async function loadDataset(spec: string, split: 'train' | 'test', limit?: number): Promise<Dataset> {
  const paths = spec.split(',');
  for (const p of paths) if (!existsSync(p)) throw new Error(`${p}: no such file or folder`);
  let ds: Dataset;
  if (paths.every((p) => p.endsWith('.bin'))) ds = await loadCifar10(paths);
  else if (paths.length === 1 && statSync(paths[0]).isDirectory()) {
    const dir = paths[0];
    const isCifar = existsSync(`${dir}/test_batch.bin`) || existsSync(`${dir}/data_batch_1.bin`);
    ds = isCifar ? await loadCifar10(cifar10Files(dir, split)) : await loadImageFolder(dir, { channels: 3, size: 32 });
  } else throw new Error(`${spec}: expected CIFAR-10 .bin file(s), a CIFAR-10 folder, or an image folder with class subfolders`);
  if (limit !== undefined && limit < ds.length) ds = subset(ds, Array.from({ length: limit }, (_, i) => i));
  return ds;
}

/** Mean and std from weight-file metadata (input_mean / input_std, comma-separated) or the defaults. */
export function normalisationFrom(metadata: Record<string, string>, override?: { mean?: string; std?: string }): { mean: number[]; std: number[] } {
  const parse = (s: string | undefined, what: string): number[] | undefined => {
    if (s === undefined) return undefined;
    const v = s.split(',').map(Number);
    if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new Error(`${what} must be three comma-separated numbers, got '${s}'`);
    return v;
  };
  return {
    mean: parse(override?.mean, '--mean') ?? parse(metadata.input_mean, 'input_mean in the weights file') ?? CIFAR10_MEAN,
    std: parse(override?.std, '--std') ?? parse(metadata.input_std, 'input_std in the weights file') ?? CIFAR10_STD,
  };
}

export function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${value}'`);
  return n;
}

export function positiveNumber(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${value}'`);
  return n;
}
