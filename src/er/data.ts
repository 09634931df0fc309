// The batches an Encryption-Robust model trains and is evaluated on: plaintext images encrypted on
// the fly (after augmentation, as a service would receive them), ciphertexts as they are stored,
// or plaintext for the baseline. One helper so the CLI, the experiments and library users build
// them the same way (the same loader settings give the same batches, hence the same history).
//
// Plaintext images come as users have them (openPlaintextImages): CIFAR-10 .bin files or folder,
// or an image folder with one subfolder per class (resized to the backbones' 32×32 RGB).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { BatchSource } from '../data/batch-source.ts';
import type { Dataset } from '../data/dataset.ts';
import { IMAGE_EXTENSIONS } from '../data/image-folder.ts';
import { isCifar10Folder, openDataset } from '../data/open.ts';
import { fashionMnistDir, isFashionMnistFolder } from '../data/fashion-mnist.ts';
import { type Tensor, tensor } from '../tensor/index.ts';
import { readImagesTensor } from '../cipher/data.ts';
import { DataLoader } from '../data/loader.ts';
import type { Shard } from '../data/shard.ts';
import type { BlockCipher } from '../cipher/hill.ts';
import { encryptedSource } from '../cipher/data.ts';

export interface EncryptedBatchesOptions {
  batch: number;
  /** Shuffle every epoch (default true: training order; pass false for evaluation and statistics). */
  shuffle?: boolean;
  /** Seed of order and augmentation (default 0). */
  seed?: number;
  /** Random crop (padding 4) and horizontal flip of the plaintext, before encryption. */
  augment?: boolean;
  /**
   * The dataset already holds ciphertexts (an encrypted dataset file): batches are the stored
   * values, nothing is encrypted, augmented or normalised.
   */
  encrypted?: boolean;
  /** Plaintext normalisation, only without a cipher (ciphertext is seen as it is). */
  mean?: number[];
  std?: number[];
  /** Data loader worker threads (default 1; 0 builds batches in this thread). */
  workers?: number;
  /** Data-parallel training: this rank's share of every epoch (src/data/shard.ts). */
  shard?: Shard;
}

/**
 * Batches of `dataset` for an Encryption-Robust model: encrypted with `cipher` after augmentation,
 * or (cipher null) plaintext pixels in [0, 1], normalised by mean/std when given. The caller keeps
 * the cipher alive while the batches are used, and disposes it.
 */
export function encryptedBatches(dataset: Dataset, cipher: BlockCipher | null, o: EncryptedBatchesOptions): BatchSource {
  if (o.encrypted && o.augment) throw new Error('augmentation works on plaintext before encryption: it cannot be applied to an encrypted dataset');
  if (cipher && (o.mean || o.std)) throw new Error('mean/std normalise plaintext: the network sees ciphertext as it is');
  const loader = new DataLoader(dataset, {
    batchSize: o.batch,
    shuffle: o.shuffle ?? true,
    seed: o.seed ?? 0,
    workers: o.workers ?? 1,
    ...(o.augment ? { augment: { crop: { padding: 4 }, hflip: true } } : {}),
    ...(o.mean ? { mean: o.mean } : {}),
    ...(o.std ? { std: o.std } : {}),
    ...(o.shard ? { shard: o.shard } : {}),
  });
  return encryptedSource(loader, o.encrypted ? null : cipher);
}

/** What plaintext images an Encryption-Robust command takes, for messages. */
export const PLAINTEXT_IMAGES =
  "CIFAR-10 .bin file(s), a CIFAR-10 folder, an image folder with one subfolder per class (or train/ and test/ folders of them), or Fashion-MNIST (fashion-mnist: for Debian's copy, fashion-mnist:DIR, or a folder of its idx files)";

export interface PlaintextImagesOptions {
  /** The part of a CIFAR-10 folder or of an image folder with split folders. */
  split: 'train' | 'test';
  /** Keep the first `limit` images. */
  limit?: number;
  /** An image folder's class names, label i = classes[i] (those of the training data). */
  classes?: readonly string[];
  /** Keep only these labels, relabelled: label classSubset[i] becomes i (selectClasses). */
  classSubset?: readonly number[];
}

/**
 * Plaintext images as users name them (see PLAINTEXT_IMAGES): an image folder's images are
 * resized to 32×32 RGB, the backbones' input, as openDataset does. Anything else (an encrypted
 * dataset, a folder of neither kind, another file) is refused with what would be accepted.
 */
export async function openPlaintextImages(spec: string, o: PlaintextImagesOptions): Promise<Dataset> {
  if (fashionMnistDir(spec) !== undefined) return openDataset(spec, { split: o.split, limit: o.limit, classSubset: o.classSubset });
  const parts = spec.split(',');
  for (const p of parts) if (!existsSync(p)) throw new Error(`${p}: no such file or folder`);
  const folder = parts.length === 1 && statSync(parts[0]).isDirectory();
  if (!folder && !parts.every((p) => extname(p).toLowerCase() === '.bin')) {
    throw new Error(`${spec}: not plaintext images of a kind nnlock er reads; give ${PLAINTEXT_IMAGES}`);
  }
  if (folder && !isCifar10Folder(spec) && !isFashionMnistFolder(spec) && !readdirSync(spec, { withFileTypes: true }).some((e) => e.isDirectory())) {
    throw new Error(`${spec}: a folder without CIFAR-10 files (data_batch_N.bin, test_batch.bin) or class subfolders; give ${PLAINTEXT_IMAGES}`);
  }
  return openDataset(spec, { split: o.split, limit: o.limit, classes: o.classes, classSubset: o.classSubset });
}

/**
 * The first `limit` plaintext images as one uint8 tensor [N, C, H, W] (the caller disposes it):
 * what openPlaintextImages reads, or a single image file as it is.
 */
export async function plaintextImagesTensor(spec: string, o: PlaintextImagesOptions): Promise<Tensor> {
  if (!spec.includes(',') && fashionMnistDir(spec) === undefined && IMAGE_EXTENSIONS.includes(extname(spec).toLowerCase())) return (await readImagesTensor(spec, { limit: o.limit })).x;
  const ds = await openPlaintextImages(spec, o);
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const pixels = new Uint8Array(ds.length * size);
  for (let i = 0; i < ds.length; i++) {
    const { image } = ds.get(i);
    if (!(image instanceof Uint8Array)) throw new Error(`${spec}: expected image bytes`);
    pixels.set(image, i * size);
  }
  return tensor(pixels, [ds.length, ...ds.shape]);
}
