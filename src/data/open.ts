// Opening a dataset from a path spec, as users name data: a CIFAR-10 .bin file, several
// comma-separated .bin files, a CIFAR-10 folder (data_batch_N.bin, test_batch.bin), or a folder of
// images with one subfolder per class (resized to 32×32 RGB, as CIFAR-10).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Dataset, subset } from './dataset.ts';
import { cifar10Files, loadCifar10 } from './cifar10.ts';
import { loadImageFolder } from './image-folder.ts';

export type Split = 'train' | 'test';

export interface OpenDatasetOptions {
  /** Which files of a CIFAR-10 folder (default 'train'); .bin files and image folders have one split. */
  split?: Split;
  /** Keep only the first `limit` items. */
  limit?: number;
}

/** Whether `path` is a folder holding CIFAR-10 binary files. */
export function isCifar10Folder(path: string): boolean {
  return existsSync(join(path, 'test_batch.bin')) || existsSync(join(path, 'data_batch_1.bin'));
}

/** Opens the dataset `spec` names (see the top of this file); class names come with it. */
export async function openDataset(spec: string, options: OpenDatasetOptions = {}): Promise<Dataset> {
  const paths = spec.split(',');
  for (const p of paths) if (!existsSync(p)) throw new Error(`${p}: no such file or folder`);
  let ds: Dataset;
  if (paths.every((p) => p.endsWith('.bin'))) ds = await loadCifar10(paths);
  else if (paths.length === 1 && statSync(paths[0]).isDirectory()) {
    const dir = paths[0];
    ds = isCifar10Folder(dir) ? await loadCifar10(cifar10Files(dir, options.split ?? 'train')) : await loadImageFolder(dir, { channels: 3, size: 32 });
  } else throw new Error(`${spec}: expected CIFAR-10 .bin file(s), a CIFAR-10 folder, or an image folder with class subfolders`);
  const { limit } = options;
  if (limit !== undefined && limit < ds.length)
    ds = subset(
      ds,
      Array.from({ length: limit }, (_, i) => i),
    );
  return ds;
}
