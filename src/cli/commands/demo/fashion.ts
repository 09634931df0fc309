// The demo on any machine, without nnlock's fixtures: real data the machine can install (Debian's
// Fashion-MNIST, 28×28 grayscale clothing photos in ten classes). Both capabilities, one library
// call per step:
//   1. a small CNN trained on it (cachedClassifier: a few minutes the first time, then read from
//      the cache),
//   2. protected with three key tiers and measured at every tier (evaluateTiers), with a chart
//      and a picture of what each tier predicts for a few test images,
//   3. images encrypted block-wise with a random key (kept in the cache beside the model it
//      trains, so a second run reuses both), an Encryption-Robust model trained on the
//      ciphertext for one short epoch (cachedEncryptionRobust) and its accuracy,
//   4. the ciphertext-only statistical attack on encrypted test images (attackEncryptedDataset):
//      what leaks, as PSNR and a picture.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type CipherKey, describeKey, keyId } from '../../../cipher/key.ts';
import { createKeyFile, loadKey } from '../../../cipher/key-file.ts';
import { BlockCipher } from '../../../cipher/hill.ts';
import { FASHION_MNIST_NORMALISATION, FASHION_MNIST_SPEC } from '../../../data/fashion-mnist.ts';
import { openDataset } from '../../../data/open.ts';
import { subset, type Dataset } from '../../../data/dataset.ts';
import { recipeKey } from '../../../io/cache-dir.ts';
import { cachedClassifier } from '../../../train/cached.ts';
import { evaluateTiers, type TierEvaluation } from '../../../protect/evaluate-tiers.ts';
import { cachedEncryptionRobust } from '../../../er/cached.ts';
import { encryptedBatches } from '../../../er/data.ts';
import { attackEncryptedDataset, type StatisticalAttackReport } from '../../../attacks/statistical-attack.ts';
import { trainingProgress } from '../../progress.ts';

/** The demo's recipe: small enough for a few minutes on two cores, large enough to show the effects. */
export const FASHION_DEMO = {
  architecture: 'smallcnn',
  classifier: { epochs: 2, batch: 64, lr: 0.05, seed: 0 },
  /**
   * Share of each conv layer's kernels replaced by decoys, the tiers, and the share of them each
   * tier restores (spread out so every tier shows: on this small model the default rule's tiers
   * 1 and 2 both come close to the full accuracy).
   */
  protect: { ratio: 0.2, tiers: 3, fractions: [0.4, 0.7, 1] },
  cipher: { kind: 'uniform', k: 4, channels: 1 } as const,
  /** One short epoch on the first `images` training images, encrypted. */
  er: { images: 20_000, whitenImages: 5000, epochs: 1, batch: 64, lr: 0.05, seed: 0 },
  /** Encrypted test images attacked, and the plaintext training images whose statistics it uses. */
  attack: { images: 2000, prior: 30_000 },
};

export interface FashionDemoSettings {
  /** Folder of the Fashion-MNIST idx files. */
  dir: string;
  /** The cache folder (models, the demo's cipher key). */
  cache: string;
  /** Where the pictures go. */
  out: string;
  /** Test images per evaluation. */
  limit: number;
  /** Where the models train and run (default 'cpu'); not part of the cached recipes. */
  device?: string;
  quiet?: boolean;
  progressStream: NodeJS.WriteStream;
  note(line: string): void;
}

export interface FashionDemoReport {
  data: { dir: string; trainImages: number; testImages: number; classes: readonly string[] };
  classifier: { architecture: string; path: string; cached: boolean; testAccuracy?: number; epochs: number };
  protect: TierEvaluation;
  cipher: { key: string; keyId: string; keyFile: string };
  er: { cached: boolean; trainImages: number; epochs: number; testImages: number; accuracy?: number; path: string };
  attack: StatisticalAttackReport;
}

const first = (ds: Dataset, n: number): Dataset =>
  n >= ds.length
    ? ds
    : subset(
        ds,
        Array.from({ length: n }, (_, i) => i),
      );

/** The demo's cipher key, made once and kept in the cache (so the model trained for it is reused). */
async function demoKey(cache: string): Promise<{ key: CipherKey; path: string }> {
  const { kind, k, channels } = FASHION_DEMO.cipher;
  const path = join(cache, 'demo', `cipher-key-${kind}-k${k}-c${channels}.json`);
  if (existsSync(path)) return { key: await loadKey(path), path };
  mkdirSync(join(cache, 'demo'), { recursive: true });
  return { key: await createKeyFile(path, { kind, k, channels }), path };
}

export async function fashionDemo(s: FashionDemoSettings): Promise<FashionDemoReport> {
  const spec = `${FASHION_MNIST_SPEC}${s.dir}`;
  const progress = trainingProgress({ quiet: s.quiet, stream: s.progressStream });
  const train = await openDataset(spec, { split: 'train' });
  const test = first(await openDataset(spec, { split: 'test' }), s.limit);
  const classes = train.classes!;

  s.note(`1/4 a small CNN on Fashion-MNIST (${train.length} training images; cached in ${s.cache} after the first run) ...`);
  const c = FASHION_DEMO.classifier;
  const classifier = await cachedClassifier({
    architecture: FASHION_DEMO.architecture,
    // Held out: the whole test split (--limit must not change the recipe, or it would retrain).
    data: spec,
    ...c,
    augment: false,
    normalisation: { mean: [...FASHION_MNIST_NORMALISATION.mean], std: [...FASHION_MNIST_NORMALISATION.std] },
    cache: s.cache,
    device: s.device,
    ...progress,
  });

  s.note(`2/4 protecting it with ${FASHION_DEMO.protect.tiers} key tiers and evaluating every tier on ${test.length} test images ...`);
  mkdirSync(s.out, { recursive: true });
  const tiers = await evaluateTiers(classifier.file, {
    ...FASHION_DEMO.protect,
    importance: 'l1',
    test,
    device: s.device,
    chart: join(s.out, 'fashion-tiers.svg'),
    samples: { path: join(s.out, 'fashion-tier-predictions.png'), count: 6 },
    title: `Fashion-MNIST small CNN protected at ${FASHION_DEMO.protect.ratio * 100}%: accuracy by key tier`,
    onTier: (tier, accuracy) => s.note(`    tier ${tier}: accuracy ${accuracy.toFixed(4)}`),
  });

  const { key, path: keyFile } = await demoKey(s.cache);
  const e = FASHION_DEMO.er;
  s.note(`3/4 an Encryption-Robust model trained on ${Math.min(e.images, train.length)} encrypted images (${describeKey(key)}; one short epoch, cached) ...`);
  const cipher = new BlockCipher(key);
  let er: FashionDemoReport['er'];
  try {
    const erTrain = first(train, e.images);
    const recipe = { ...e, architecture: FASHION_DEMO.architecture, adaptation: 'aligned', init: 'whiten', keyId: keyId(key), data: spec };
    const path = join(s.cache, 'er', `${FASHION_DEMO.architecture}-${recipeKey(recipe)}.safetensors`);
    mkdirSync(join(s.cache, 'er'), { recursive: true });
    const r = await cachedEncryptionRobust({
      architecture: FASHION_DEMO.architecture,
      classes,
      adaptation: 'aligned',
      cipher: key,
      init: { kind: 'whiten', source: encryptedBatches(first(train, e.whitenImages), cipher, { batch: 500, shuffle: false, workers: 0 }), maxImages: e.whitenImages },
      train: encryptedBatches(erTrain, cipher, { batch: e.batch, shuffle: true, seed: e.seed, workers: 1 }),
      test: encryptedBatches(test, cipher, { batch: 500, shuffle: false, workers: 0 }),
      epochs: e.epochs,
      lr: e.lr,
      seed: e.seed,
      device: s.device,
      out: path,
      ...progress,
    });
    r.model.dispose();
    er = { cached: r.cached, trainImages: erTrain.length, epochs: e.epochs, testImages: test.length, path, ...(r.testAccuracy === undefined ? {} : { accuracy: r.testAccuracy }) };
  } finally {
    cipher.dispose();
  }

  const a = FASHION_DEMO.attack;
  s.note(`4/4 the ciphertext-only attack on ${Math.min(a.images, test.length)} encrypted test images (no key; statistics of ${Math.min(a.prior, train.length)} other images) ...`);
  const attack = await attackEncryptedDataset(test, train, key, { limit: a.images, priorLimit: a.prior, scoreImages: a.images, grid: join(s.out, 'fashion-attack.png') });

  return {
    data: { dir: s.dir, trainImages: train.length, testImages: test.length, classes },
    classifier: { architecture: FASHION_DEMO.architecture, path: classifier.path, cached: classifier.cached, testAccuracy: classifier.testAccuracy, epochs: c.epochs },
    protect: tiers,
    cipher: { key: describeKey(key), keyId: keyId(key), keyFile },
    er,
    attack,
  };
}
