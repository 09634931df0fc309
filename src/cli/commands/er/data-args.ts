// The data of the `nnlock er` commands: plaintext images (CIFAR-10 files or folder, or an image
// folder with class subfolders), encrypted on the fly, or an encrypted dataset read as stored; and
// the flags that choose between them. Reading plaintext images and turning a dataset into batches
// are the library's (src/er/data.ts).
import { existsSync, statSync } from 'node:fs';
import { type Dataset, subset } from '../../../data/dataset.ts';
import { cifar10Files } from '../../../data/cifar10.ts';
import { selectClasses } from '../../../data/class-subset.ts';
import type { CipherKey } from '../../../cipher/key.ts';
import { readEncryptedDataset } from '../../../cipher/data.ts';
import { openPlaintextImages } from '../../../er/data.ts';
import { UsageError } from '../../errors.ts';

/** Comma-separated .bin (or .safetensors) files, or a CIFAR-10 folder (its train or test files). */
export function dataFiles(spec: string, split: 'train' | 'test'): string[] {
  const parts = spec.split(',');
  if (parts.length === 1 && existsSync(parts[0]) && statSync(parts[0]).isDirectory()) return cifar10Files(parts[0], split);
  for (const p of parts) if (!existsSync(p)) throw new Error(`${p}: no such file`);
  return parts;
}

/** The first `limit` items (all without a limit). */
export function firstItems(ds: Dataset, limit: number | undefined): Dataset {
  return limit !== undefined && limit < ds.length
    ? subset(
        ds,
        Array.from({ length: limit }, (_, i) => i),
      )
    : ds;
}

export interface ErData {
  dataset: Dataset;
  /** The dataset holds ciphertexts (read as stored). */
  encrypted: boolean;
}

/**
 * `--<name>` (plaintext, encrypted on the fly) or `--encrypted-<name>` (an encrypted dataset);
 * `required`: exactly one of them, else at most one. Returns null when neither is given.
 * `classes`: an image folder's class names, label i = classes[i] (the training data's);
 * `classSubset`: keep only these labels, relabelled 0..n-1 in this order (--classes).
 */
export async function erData(
  o: { plain?: string; encrypted?: string; name: string; required: boolean; classes?: readonly string[]; classSubset?: readonly number[] },
  split: 'train' | 'test',
  key: CipherKey | null,
  limit?: number,
): Promise<ErData | null> {
  const flags = `--${o.name} and --encrypted-${o.name}`;
  if (o.plain && o.encrypted) throw new UsageError(`give ${o.required ? 'exactly' : 'at most'} one of ${flags}`);
  if (!o.plain && !o.encrypted) {
    if (o.required) throw new UsageError(`give exactly one of ${flags}`);
    return null;
  }
  if (o.encrypted) {
    if (!key) throw new UsageError(`--encrypted-${o.name} needs the --key it was encrypted with`);
    const { dataset } = await readEncryptedDataset(dataFiles(o.encrypted, split), key.kind === 'hill256' ? undefined : key);
    return { dataset: firstItems(o.classSubset ? selectClasses(dataset, o.classSubset) : dataset, limit), encrypted: true };
  }
  if (o.plain!.split(',').some((p) => p.toLowerCase().endsWith('.safetensors'))) {
    throw new Error(`${o.plain}: a .safetensors file is not plaintext images (an encrypted dataset goes to --encrypted-${o.name})`);
  }
  // With a class subset an image folder keeps its own folder names (the subset relabels them).
  const classes = o.classSubset ? undefined : o.classes;
  return { dataset: await openPlaintextImages(o.plain!, { split, limit, classes, classSubset: o.classSubset }), encrypted: false };
}
