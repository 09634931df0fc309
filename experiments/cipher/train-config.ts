// One training configuration of the cipher experiments: ResNet-20 on plaintext, or on ciphertext
// without / with an adaptation network, in one round or several, all with the same budget (the
// same images, the same number of epochs and optimizer steps, the same data order and
// augmentation, the same backbone initialisation at round 0).
//
// The recipe is src/er's trainEncryptionRobust (the one `nnlock er train` calls); this file only
// says which configuration and which data, and stores what came out.
//
// Resumable: training checkpoints every epoch under <out>/checkpoints/<name>/round-<r>.ckpt;
// a finished configuration is stored as <results>/runs/<name>.json and skipped on rerun. Models
// with an adaptation network are then scored as decryptors (learned decryption: PSNR/SSIM against
// the plaintext) and pictured (a PNG grid).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../../src/data/dataset.ts';
import { type CipherKind, describeKey, keyId } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { readImagesTensor } from '../../src/cipher/data.ts';
import type { LearnedDecryptionReport } from '../../src/attacks/learned.ts';
import { type AdaptationInit, type EncryptionRobustModel, type ErInit, type WhiteningReport, decryptionDiagnostics, encryptedBatches, loadErModel, trainEncryptionRobust } from '../../src/er/index.ts';
import { recoveredQuality } from './statistical.ts';
import { type Budget, type RunContext, PLAIN_NORM, PRIOR_DISJOINT_FROM, priorSet, TEST_FILE, experimentKey, loadAverage, log, readJson, testSet, trainSet, writeJson } from './common.ts';

/** Where a configuration's images come from: the shared CIFAR-10 (the default), or a test's own. */
export interface ExperimentData {
  /** The first n training images. */
  trainSet(n: number): Promise<Dataset>;
  /** The first n test images. */
  testSet(n: number): Promise<Dataset>;
  /** The statistical init's plaintext prior (not among the training images). */
  priorSet(): Promise<Dataset>;
  /** A CIFAR-10 .bin file of test images for the learned-decryption figures. */
  testFile: string;
}

export const SHARED_DATA: ExperimentData = { trainSet, testSet, priorSet, testFile: TEST_FILE };

export interface Config {
  name: string;
  title: string;
  /** null: plaintext. */
  kind: CipherKind | null;
  adaptation: 'none' | 'aligned' | 'padded';
  /** Rounds; the budget's epochs are split evenly over them. */
  rounds: number;
  /** Seed of data order, augmentation and initialisation (default: the budget's); seed repeats skip the decryption figures. */
  seed?: number;
  /** Adaptation network initialisation (default 'default': PyTorch's). 'whiten' estimates it from the training ciphertexts. */
  init?: AdaptationInit;
  /** Overrides of the common budget (the longer-budget pair). */
  budget?: Partial<Budget>;
  /** The adaptation network's learning rate as a fraction of the backbone's (default 1). */
  adaptationLrScale?: number;
  /** Scored as a decryptor and pictured even though it is a seed repeat or has no key. */
  figures?: boolean;
}

export interface EpochRecord extends Record<string, number> {
  round: number;
  epoch: number;
  testAccuracy: number;
  trainAccuracy: number;
  seconds: number;
  evalSeconds: number;
}

export interface ConfigResult {
  name: string;
  title: string;
  kind: string;
  key: string;
  keyId: string;
  adaptation: string;
  /** Adaptation initialisation ('default' when absent: runs from before the option existed). */
  init?: string;
  /** Whitening estimated before training (init 'whiten'). */
  whitening?: WhiteningReport;
  /** Statistical init (init 'statistical'): the prior, and the recovered map's decryption quality on the test images before training. */
  statistical?: { priorImages: number; cipherImages: number; seconds: number; psnr: number; ssim: number };
  rounds: number;
  /** The adaptation network's learning rate relative to the backbone's (absent: 1). */
  adaptationLrScale?: number;
  epochsPerRound: number;
  trainImages: number;
  testImages: number;
  batch: number;
  seed: number;
  /** Optimizer steps over the whole run. */
  steps: number;
  imagesSeen: number;
  history: EpochRecord[];
  /** Test accuracy after the last epoch. */
  testAccuracy: number;
  /** Sum of the epochs' training time (forward, backward, step, data, encryption). */
  trainSeconds: number;
  /** Sum of the per-epoch test evaluations. */
  evalSeconds: number;
  /** Load average (1, 5, 15 min) when this run finished. */
  loadAverage: number[];
  date: string;
  quick: boolean;
  learned?: LearnedDecryptionReport;
  /** The picture grid (file name in the results folder). */
  grid?: string;
}

export function resultPath(ctx: RunContext, name: string): string {
  return join(ctx.results, 'runs', `${name}.json`);
}

export async function runConfig(ctx: RunContext, c: Config, data: ExperimentData = SHARED_DATA): Promise<ConfigResult> {
  const cached = readJson<ConfigResult>(resultPath(ctx, c.name));
  if (cached) {
    log(`${c.name}: finished earlier (test accuracy ${cached.testAccuracy.toFixed(4)}), skipped; delete ${resultPath(ctx, c.name)} to rerun`);
    return cached;
  }
  const b: Budget = { ...ctx.budget, ...(ctx.quick ? {} : c.budget), seed: c.seed ?? ctx.budget.seed };
  const initName: AdaptationInit = c.init ?? 'default';
  if (b.epochs % c.rounds !== 0) throw new Error(`${c.name}: ${b.epochs} epochs do not split into ${c.rounds} rounds`);
  const epochs = b.epochs / c.rounds;
  const key = c.kind ? experimentKey(c.kind) : null;
  const cipher = key ? new BlockCipher(key) : null;
  const train = await data.trainSet(b.trainImages);
  const test = await data.testSet(b.testImages);
  // Plaintext baseline: normalised pixels. Ciphertext: the cipher works on pixels in [0, 1] after
  // augmentation, and the network sees the ciphertext values as they are.
  const norm = key ? {} : PLAIN_NORM;
  const trainSource = encryptedBatches(train, cipher, { batch: b.batch, shuffle: true, seed: b.seed, augment: true, ...norm });
  // The training images as the service holds them (encrypted, not augmented), for the inits' statistics.
  const stored = encryptedBatches(train, cipher, { batch: 500, shuffle: false, ...norm });
  let init: ErInit = { kind: initName === 'whiten' || initName === 'statistical' ? 'default' : initName };
  if (initName === 'whiten' && c.adaptation !== 'none') init = { kind: 'whiten', source: stored, maxImages: b.trainImages };
  if (initName === 'statistical' && c.adaptation !== 'none') {
    if (!cipher) throw new Error(`${c.name}: the statistical init needs a key`);
    if (b.trainImages > PRIOR_DISJOINT_FROM) throw new Error(`${c.name}: the prior (data_batch_3) would overlap the ${b.trainImages} training images`);
    init = { kind: 'statistical', ciphertexts: stored, prior: encryptedBatches(await data.priorSet(), null, { batch: 500, shuffle: false }), norm: PLAIN_NORM };
  }
  let whitening: WhiteningReport | undefined;
  let statistical: ConfigResult['statistical'];
  const ckptDir = join(ctx.out, 'checkpoints', c.name);
  const modelPath = join(ctx.out, 'models', `${c.name}.safetensors`);
  log(
    `${c.name}: ${c.title}: ResNet-20${c.adaptation === 'none' ? '' : ` + ${c.adaptation} adaptation network (init ${initName})`} on ${train.length} ${key ? `images encrypted with the ${describeKey(key)}` : 'plaintext images'}; ${c.rounds} round(s) × ${epochs} epoch(s), batch ${b.batch}, ${trainSource.batchCount} steps per epoch; checkpoints in ${ckptDir}`,
  );
  let model: EncryptionRobustModel | undefined;
  try {
    const trained = await trainEncryptionRobust({
      // Same seeds as `nnlock er train`: every configuration starts from the same ResNet-20 weights at round 0.
      architecture: 'resnet20',
      adaptation: c.adaptation,
      cipher: key,
      init,
      train: trainSource,
      test: encryptedBatches(test, cipher, { batch: 500, shuffle: false, ...norm }),
      rounds: c.rounds,
      epochs,
      lr: b.lr,
      adaptationLr: b.lr * (c.adaptationLrScale ?? 1),
      momentum: b.momentum,
      weightDecay: b.weightDecay,
      seed: b.seed,
      checkpointDir: ckptDir,
      logFile: join(ckptDir, 'log.json'),
      out: modelPath,
      info: { config: c.name, kind: c.kind ?? 'none', adaptation: c.adaptation },
      onInit: async (r) => {
        if (r.kind === 'whiten') {
          const { kind: _, ...w } = r;
          whitening = w;
          log(
            `${c.name}: adaptation network whitened from ${w.images} training ${key ? 'ciphertexts' : 'images'} (eigenvalues ${w.eigenvalueRange.map((v) => v.toExponential(2)).join('..')}, ε ${w.epsilon.toExponential(2)})`,
          );
        }
        if (r.kind === 'statistical') {
          const q = await recoveredQuality(r.recovery, cipher!, b.decryptionImages);
          statistical = { priorImages: r.priorImages, cipherImages: r.cipherImages, seconds: r.seconds, ...q };
          log(
            `${c.name}: adaptation network set to the decryption recovered from ${r.cipherImages} training ciphertexts and ${r.priorImages} prior images in ${r.seconds.toFixed(1)} s: it decrypts the test images to ${q.psnr.toFixed(2)} dB PSNR / SSIM ${q.ssim.toFixed(4)}`,
          );
        }
      },
      onEpoch: (h) =>
        log(`${c.name}: test accuracy ${h.testAccuracy.toFixed(4)} on ${test.length} ${key ? 'encrypted ' : ''}test images (${h.evalSeconds.toFixed(1)} s; load ${loadAverage().join(' ')})`),
    });
    model = trained.model;
    const history = trained.history as unknown as EpochRecord[]; // with a test source: testAccuracy, evalSeconds
    const last = history[history.length - 1];
    const result: ConfigResult = {
      name: c.name,
      title: c.title,
      kind: c.kind ?? 'plaintext',
      key: key ? describeKey(key) : 'none',
      keyId: key ? keyId(key) : 'none',
      adaptation: c.adaptation,
      init: initName,
      whitening,
      statistical,
      rounds: c.rounds,
      adaptationLrScale: c.adaptationLrScale,
      epochsPerRound: epochs,
      trainImages: train.length,
      testImages: test.length,
      batch: b.batch,
      seed: b.seed,
      steps: trainSource.batchCount * b.epochs,
      imagesSeen: train.length * b.epochs,
      history,
      testAccuracy: last.testAccuracy,
      trainSeconds: history.reduce((s, h) => s + h.seconds, 0),
      evalSeconds: history.reduce((s, h) => s + (h.evalSeconds ?? 0), 0),
      loadAverage: loadAverage(),
      date: new Date().toISOString(),
      quick: ctx.quick,
    };
    if (model.adaptation && cipher && (c.seed === undefined || c.figures)) {
      const grid = `grid-${c.name}.png`;
      result.learned = await decryptionFigures(model, cipher, b.decryptionImages, join(ctx.results, grid), data.testFile);
      result.grid = grid;
      log(
        `${c.name}: learned decryption on ${result.learned.images} test images: raw PSNR ${result.learned.raw.psnr.toFixed(2)} dB / SSIM ${result.learned.raw.ssim.toFixed(4)}; per-channel affine fit ${result.learned.perChannelAffine.psnr.toFixed(2)} dB / ${result.learned.perChannelAffine.ssim.toFixed(4)}`,
      );
    }
    await writeJson(resultPath(ctx, c.name), result);
    log(`${c.name}: done: test accuracy ${result.testAccuracy.toFixed(4)}, training ${result.trainSeconds.toFixed(0)} s + evaluation ${result.evalSeconds.toFixed(0)} s`);
    return result;
  } finally {
    model?.dispose();
    cipher?.dispose();
  }
}

/**
 * Learned decryption of the model's adaptation network on the first `count` test images, and a
 * grid of the first 8 (src/er/diagnostics.ts): ciphertext (min–max scaled per image and channel),
 * adaptation output raw (clamped to [0, 1]), the same min–max scaled per image and channel, the
 * same after the per-channel affine oracle fit, plaintext.
 */
export async function decryptionFigures(model: EncryptionRobustModel, cipher: BlockCipher, count: number, gridPath: string, testFile = TEST_FILE): Promise<LearnedDecryptionReport> {
  const { x } = await readImagesTensor(testFile, { limit: count });
  try {
    const { report } = await decryptionDiagnostics(model, cipher, x, { grid: { path: gridPath, rows: 8 } });
    return report!;
  } finally {
    x.dispose();
  }
}
/**
 * Recomputes the learned-decryption figures and grid of a finished configuration from its saved
 * model file (after a change to the figures; no training). Returns null when there is nothing to do.
 */
export async function refreshFigures(ctx: RunContext, c: Config): Promise<ConfigResult | null> {
  const result = readJson<ConfigResult>(resultPath(ctx, c.name));
  const modelPath = join(ctx.out, 'models', `${c.name}.safetensors`);
  if (!result || !c.kind || c.adaptation === 'none' || (c.seed !== undefined && !c.figures) || !existsSync(modelPath)) return null;
  const key = experimentKey(c.kind);
  const { model } = await loadErModel(modelPath, key);
  const cipher = new BlockCipher(key);
  try {
    const grid = `grid-${c.name}.png`;
    result.learned = await decryptionFigures(model, cipher, ctx.budget.decryptionImages, join(ctx.results, grid));
    result.grid = grid;
    await writeJson(resultPath(ctx, c.name), result);
    log(`${c.name}: figures refreshed from ${modelPath}`);
    return result;
  } finally {
    model.dispose();
    cipher.dispose();
  }
}
