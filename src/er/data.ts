// The batches an Encryption-Robust model trains and is evaluated on: plaintext images encrypted on
// the fly (after augmentation, as a service would receive them), ciphertexts as they are stored,
// or plaintext for the baseline. One helper so the CLI, the experiments and library users build
// them the same way (the same loader settings give the same batches, hence the same history).
import type { BatchSource } from '../data/batch-source.ts';
import type { Dataset } from '../data/dataset.ts';
import { DataLoader } from '../data/loader.ts';
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
  });
  return encryptedSource(loader, o.encrypted ? null : cipher);
}
