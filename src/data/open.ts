// Opening a dataset from a path spec, as users name data: a CIFAR-10 .bin file, several
// comma-separated .bin files, a CIFAR-10 folder (data_batch_N.bin, test_batch.bin), a folder of
// images with one subfolder per class (resized to 32×32 RGB, as CIFAR-10), or a folder of such
// folders by split (train/, val/, test/), or Fashion-MNIST: `fashion-mnist:` (Debian's copy),
// `fashion-mnist:DIR`, or a folder holding its idx files (1×28×28 grayscale, as stored).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Dataset, subset } from './dataset.ts';
import { selectClasses } from './class-subset.ts';
import { cifar10Files, loadCifar10 } from './cifar10.ts';
import { type FolderSplit, imageFolderSplits, loadImageFolder } from './image-folder.ts';
import { fashionMnistDir, isFashionMnistFolder, loadFashionMnist } from './fashion-mnist.ts';

/** 'test' and 'val' both name held-out data: each falls back on the other where only one exists. */
export type Split = 'train' | 'val' | 'test';

export interface OpenDatasetOptions {
  /**
   * Which part of a CIFAR-10 folder or of an image folder with split subfolders (default
   * 'train'); .bin files and an image folder of classes have one split.
   */
  split?: Split;
  /** Keep only the first `limit` items (of the class subset, with one). */
  limit?: number;
  /** Keep only the items of these labels, relabelled: label classSubset[i] becomes i (selectClasses). */
  classSubset?: readonly number[];
  /** An image folder's class names, label i = classes[i] (a model's classes); see loadImageFolder. */
  classes?: readonly string[];
}

/** Whether `spec` names data with its own held-out split: a CIFAR-10 folder or an image folder with split subfolders. */
export function hasHeldOutSplit(spec: string): boolean {
  if (isCifar10Folder(spec) || fashionMnistDir(spec) !== undefined || isFashionMnistFolder(spec)) return true;
  const splits = imageFolderSplits(spec);
  return !!splits && !!(splits.val ?? splits.test);
}

/** The subfolder of an image folder with splits that holds `split`, or an error that says what it has. */
function splitFolder(dir: string, splits: Partial<Record<FolderSplit, string>>, split: Split): string {
  const path = split === 'train' ? splits.train : split === 'val' ? (splits.val ?? splits.test) : (splits.test ?? splits.val);
  if (!path) {
    const want = split === 'train' ? 'train/' : 'val/ or test/';
    throw new Error(`${dir} holds split folders (${Object.values(splits).join(', ')}) but no ${want} folder for the ${split} split`);
  }
  return path;
}

/** Whether `path` is a folder holding CIFAR-10 binary files. */
export function isCifar10Folder(path: string): boolean {
  return existsSync(join(path, 'test_batch.bin')) || existsSync(join(path, 'data_batch_1.bin'));
}

/** Opens the dataset `spec` names (see the top of this file); class names come with it. */
export async function openDataset(spec: string, options: OpenDatasetOptions = {}): Promise<Dataset> {
  const fashion = fashionMnistDir(spec);
  const paths = fashion !== undefined ? [fashion] : spec.split(',');
  for (const p of paths)
    if (!existsSync(p)) throw new Error(`${p}: no such file or folder${fashion === undefined ? '' : " (Fashion-MNIST: install Debian's dataset-fashion-mnist, or give fashion-mnist:DIR)"}`);
  let ds: Dataset;
  const split = options.split ?? 'train';
  if (fashion !== undefined || (paths.length === 1 && statSync(paths[0]).isDirectory() && isFashionMnistFolder(paths[0]))) {
    ds = await loadFashionMnist(paths[0], split === 'train' ? 'train' : 'test');
  } else if (paths.every((p) => p.endsWith('.bin'))) ds = await loadCifar10(paths);
  else if (paths.length === 1 && statSync(paths[0]).isDirectory()) {
    const dir = paths[0];
    const splits = imageFolderSplits(dir);
    if (isCifar10Folder(dir)) ds = await loadCifar10(cifar10Files(dir, split === 'train' ? 'train' : 'test'));
    else ds = await loadImageFolder(splits ? splitFolder(dir, splits, split) : dir, { channels: 3, size: 32, classes: options.classes });
  } else throw new Error(`${spec}: expected CIFAR-10 .bin file(s), a CIFAR-10 folder, an image folder with class subfolders, or fashion-mnist:[DIR]`);
  if (options.classSubset) ds = selectClasses(ds, options.classSubset);
  const { limit } = options;
  if (limit !== undefined && limit < ds.length)
    ds = subset(
      ds,
      Array.from({ length: limit }, (_, i) => i),
    );
  return ds;
}
