// `nnlock er train`'s flags made into a trainEncryptionRobust configuration: the key, the data
// sources (encrypted on the fly or as stored), the adaptation network and its initialisation.
// What the flags cannot say together is a usage error here; what the model or the cipher cannot
// do is refused by the library.
import { existsSync } from 'node:fs';
import type { CipherKey } from '../../../cipher/key.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { BlockCipher } from '../../../cipher/hill.ts';
import type { AdaptationVariant } from '../../../er/adaptation.ts';
import { encryptedBatches } from '../../../er/data.ts';
import { type ErInit, type ErInitName, type ErTrainConfig, checkErInit } from '../../../er/train.ts';
import { UsageError } from '../../errors.ts';
import { erData, firstItems } from './data-args.ts';
import type { ProcessGroup } from '../../../distributed/index.ts';
import { perRankBatch } from '../../../train/data-parallel.ts';

export interface ErTrainFlags {
  key?: string;
  data?: string;
  encryptedData?: string;
  test?: string;
  encryptedTest?: string;
  arch: string;
  adaptation?: AdaptationVariant | 'none';
  init?: ErInitName;
  prior?: string;
  whitenImages: number;
  whitenShrinkage: number;
  pretrained?: string;
  freezeBackbone?: boolean;
  rounds: number;
  epochs: number;
  batch: number;
  lr: number;
  adaptationLr?: number;
  momentum: number;
  optimizer?: 'sgd' | 'adam';
  weightDecay: number;
  augment?: boolean;
  mean?: number[];
  std?: number[];
  limit?: number;
  testLimit?: number;
  classes?: number[];
  workers: number;
  seed: number;
  device: string;
  out: string;
  checkpointDir?: string;
  log?: string;
  force?: boolean;
}

export interface ErTrainSetup {
  config: ErTrainConfig;
  key: CipherKey | null;
  trainImages: number;
  /** Frees the cipher the sources encrypt with. */
  close(): void;
}

/** group: a data-parallel job's (then --batch is the global batch and each rank reads its shard). */
export async function erTrainSetup(o: ErTrainFlags, group?: ProcessGroup): Promise<ErTrainSetup> {
  if (existsSync(o.out) && !o.force && !o.checkpointDir) throw new Error(`${o.out} exists; pass --force to overwrite it (or --checkpoint-dir to resume the run that wrote it)`);
  const key = o.key ? await loadKey(o.key) : null;
  const adaptation = o.adaptation ?? (key ? 'aligned' : 'none');
  // Whitening is the default: it learns faster than PyTorch's random init (experiments/results/cipher).
  const initName = o.init ?? (adaptation === 'none' ? 'default' : 'whiten');
  if (initName === 'statistical' && !o.prior) throw new UsageError('--init statistical needs --prior: plaintext images of the same kind that are not the training images');
  if (initName !== 'statistical' && o.prior) throw new UsageError('--prior is only used by --init statistical');
  checkErInit(initName, adaptation, key);
  if (o.freezeBackbone && !o.pretrained) throw new UsageError('--freeze-backbone keeps the backbone as it is: give its weights with --pretrained');
  if (o.freezeBackbone && adaptation === 'none') throw new UsageError('--freeze-backbone with --adaptation none leaves nothing to train');
  const folded = initName === 'key-inverse' || initName === 'statistical';
  if (key && (o.mean || o.std) && !folded) throw new UsageError('--mean/--std normalise plaintext; with a key they only apply to --init key-inverse or statistical');
  const norm = { mean: o.mean, std: o.std };
  const loaderNorm = key ? {} : norm;
  const only = o.classes;
  const train = (await erData({ plain: o.data, encrypted: o.encryptedData, name: 'data', required: true, classSubset: only }, 'train', key, o.limit))!;
  // An image folder's test images are labelled with the training folder's classes.
  const classes = train.dataset.classes;
  const test = await erData({ plain: o.test, encrypted: o.encryptedTest, name: 'test', required: false, classes, classSubset: only }, 'test', key, o.testLimit);
  const cipher = key ? new BlockCipher(key) : null;
  const stored = { cipher, batch: 500, shuffle: false, seed: o.seed, workers: o.workers, encrypted: train.encrypted };
  let init: ErInit;
  if (initName === 'whiten') {
    // From the training images as stored (encrypted, not augmented), in file order.
    const source = encryptedBatches(firstItems(train.dataset, o.whitenImages), cipher, { ...stored, ...loaderNorm });
    init = { kind: 'whiten', source, maxImages: o.whitenImages, shrinkage: o.whitenShrinkage };
  } else if (initName === 'statistical') {
    const { dataset: prior } = (await erData({ plain: o.prior, name: 'prior', required: true }, 'train', null))!;
    const priorSource = encryptedBatches(prior, null, { batch: 500, shuffle: false, workers: o.workers });
    init = { kind: 'statistical', ciphertexts: encryptedBatches(train.dataset, cipher, stored), prior: priorSource, norm };
  } else init = initName === 'key-inverse' ? { kind: 'key-inverse', norm } : { kind: initName };
  const config: ErTrainConfig = {
    architecture: o.arch,
    device: o.device,
    // The head has one output per class of the data (an image folder may have any number).
    numClasses: classes?.length,
    classes,
    adaptation,
    cipher: key,
    init,
    group,
    train: encryptedBatches(train.dataset, cipher, {
      batch: perRankBatch(o.batch, group),
      shard: group && { rank: group.rank, count: group.worldSize },
      shuffle: true,
      seed: o.seed,
      workers: o.workers,
      augment: o.augment,
      encrypted: train.encrypted,
      ...loaderNorm,
    }),
    test: test ? encryptedBatches(test.dataset, cipher, { batch: 500, shuffle: false, seed: o.seed, workers: o.workers, encrypted: test.encrypted, ...loaderNorm }) : undefined,
    rounds: o.rounds,
    epochs: o.epochs,
    lr: o.lr,
    adaptationLr: o.adaptationLr,
    momentum: o.momentum,
    optimizer: o.optimizer,
    weightDecay: o.weightDecay,
    seed: o.seed,
    pretrained: o.pretrained,
    freezeBackbone: o.freezeBackbone,
    checkpointDir: o.checkpointDir,
    logFile: o.log,
    out: o.out,
  };
  return { config, key, trainImages: train.dataset.length, close: () => cipher?.dispose() };
}
