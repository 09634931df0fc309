// One training configuration of the cipher experiments: ResNet-20 on plaintext, or on ciphertext
// without / with an adaptation network, in one round or several, all with the same budget (the
// same images, the same number of epochs and optimizer steps, the same data order and
// augmentation, the same backbone initialisation at round 0).
//
// Resumable: trainMultiRound checkpoints every epoch under <out>/checkpoints/<name>/round-<r>.ckpt;
// a finished configuration is stored as <results>/runs/<name>.json and skipped on rerun. Models
// with an adaptation network are then scored as decryptors (learned decryption: PSNR/SSIM against
// the plaintext) and pictured (a PNG grid).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { div } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { SGD, cosine } from '../../src/nn/index.ts';
import { DataLoader } from '../../src/data/loader.ts';
import type { EncryptionRobustModel } from '../../src/er/model.ts';
import { type CipherKind, describeKey, keyId } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptPixels, encryptedSource, readImagesTensor } from '../../src/cipher/data.ts';
import { trainMultiRound } from '../../src/er/multi-round.ts';
import { evaluateAccuracy } from '../../src/train/evaluate.ts';
import { type ErModelSpec, buildBackbone, buildErModel, loadErModel, saveErModel } from '../../src/er/model-file.ts';
import { type LearnedDecryptionReport, adaptedImages, learnedDecryption } from '../../src/attacks/learned.ts';
import { minMaxScale, writeImageGrid } from '../../src/er/pictures.ts';
import type { AdaptationInit } from '../../src/er/adaptation.ts';
import { type WhiteningReport, whitenAdaptation } from '../../src/er/whitening.ts';
import { blockPairStatistics, recoverFromStatistics } from '../../src/attacks/statistical.ts';
import { recoveryAsWindowAffine } from '../../src/er/statistical-init.ts';
import { recoveredQuality } from './statistical.ts';
import { type Budget, type RunContext, PLAIN_NORM, PRIOR_DISJOINT_FROM, priorSet, TEST_FILE, experimentKey, loadAverage, log, readJson, testSet, trainSet, writeJson } from './common.ts';

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

export async function runConfig(ctx: RunContext, c: Config): Promise<ConfigResult> {
  const cached = readJson<ConfigResult>(resultPath(ctx, c.name));
  if (cached) {
    log(`${c.name}: finished earlier (test accuracy ${cached.testAccuracy.toFixed(4)}), skipped; delete ${resultPath(ctx, c.name)} to rerun`);
    return cached;
  }
  const b: Budget = { ...ctx.budget, ...(ctx.quick ? {} : c.budget), seed: c.seed ?? ctx.budget.seed };
  const init: AdaptationInit = c.init ?? 'default';
  if (b.epochs % c.rounds !== 0) throw new Error(`${c.name}: ${b.epochs} epochs do not split into ${c.rounds} rounds`);
  const epochs = b.epochs / c.rounds;
  const key = c.kind ? experimentKey(c.kind) : null;
  const cipher = key ? new BlockCipher(key) : null;
  const train = await trainSet(b.trainImages);
  const test = await testSet(b.testImages);
  // Plaintext baseline: normalised pixels. Ciphertext: the cipher works on pixels in [0, 1] after
  // augmentation, and the network sees the ciphertext values as they are (encryptedSource).
  const norm = key ? {} : PLAIN_NORM;
  const trainLoader = new DataLoader(train, { batchSize: b.batch, shuffle: true, seed: b.seed, workers: 1, augment: { crop: { padding: 4 }, hflip: true }, ...norm });
  const testLoader = new DataLoader(test, { batchSize: 500, shuffle: false, workers: 1, ...norm });
  const trainSource = encryptedSource(trainLoader, cipher);
  const testSource = encryptedSource(testLoader, cipher);
  const spec: ErModelSpec = { architecture: 'resnet20', adaptation: c.adaptation, k: 4, channels: 3, numClasses: 10, init };
  // Same seeds as `nnlock er train`: the backbone is built first, so every configuration starts
  // from the same ResNet-20 weights at round 0.
  manualSeed(b.seed * 1000);
  const model = buildErModel(spec);
  let whitening: WhiteningReport | undefined;
  let statistical: ConfigResult['statistical'];
  if (init === 'statistical' && model.adaptation) {
    if (!cipher) throw new Error(`${c.name}: the statistical init needs a key`);
    if (b.trainImages > PRIOR_DISJOINT_FROM) throw new Error(`${c.name}: the prior (data_batch_3) would overlap the ${b.trainImages} training images`);
    const t0 = performance.now();
    const plainLoader = new DataLoader(train, { batchSize: 500, shuffle: false, workers: 1 });
    const cs = await blockPairStatistics(encryptedSource(plainLoader, cipher), { k: 4 });
    const ps = await blockPairStatistics(encryptedSource(new DataLoader(await priorSet(), { batchSize: 500, shuffle: false, workers: 1 }), null), { k: 4 });
    const recovery = recoverFromStatistics(cs, ps);
    const seconds = (performance.now() - t0) / 1000;
    const q = await recoveredQuality(recovery, cipher, b.decryptionImages);
    const { matrix, offset } = recoveryAsWindowAffine(recovery, PLAIN_NORM);
    model.adaptation.setWindowAffine(matrix, offset);
    statistical = { priorImages: ps.images, cipherImages: cs.images, seconds, ...q };
    log(`${c.name}: adaptation network set to the decryption recovered from ${cs.images} training ciphertexts and ${ps.images} prior images in ${seconds.toFixed(1)} s: it decrypts the test images to ${q.psnr.toFixed(2)} dB PSNR / SSIM ${q.ssim.toFixed(4)}`);
  }
  if (init === 'whiten' && model.adaptation) {
    // From the training images as the service holds them: encrypted, not augmented.
    const plainLoader = new DataLoader(train, { batchSize: 500, shuffle: false, workers: 1, ...norm });
    whitening = await whitenAdaptation(model.adaptation, encryptedSource(plainLoader, cipher), { maxImages: b.trainImages });
    log(`${c.name}: adaptation network whitened from ${whitening.images} training ${key ? 'ciphertexts' : 'images'} (eigenvalues ${whitening.eigenvalueRange.map((v) => v.toExponential(2)).join('..')}, ε ${whitening.epsilon.toExponential(2)})`);
  }
  const ckptDir = join(ctx.out, 'checkpoints', c.name);
  const modelPath = join(ctx.out, 'models', `${c.name}.safetensors`);
  log(`${c.name}: ${c.title}: ResNet-20${c.adaptation === 'none' ? '' : ` + ${c.adaptation} adaptation network (init ${init})`} on ${train.length} ${key ? `images encrypted with the ${describeKey(key)}` : 'plaintext images'}; ${c.rounds} round(s) × ${epochs} epoch(s), batch ${b.batch}, ${trainLoader.batchCount} steps per epoch; checkpoints in ${ckptDir}`);
  try {
    const rounds = await trainMultiRound({
      model, rounds: c.rounds, epochs, data: trainSource, seed: b.seed,
      newBackbone: (round: number) => {
        manualSeed(b.seed * 1000 + round);
        return buildBackbone('resnet20', 10);
      },
      makeOptimizer: (m: EncryptionRobustModel) => {
        const groups = [{ params: m.backbone.parameters(), lr: b.lr, weightDecay: b.weightDecay }];
        if (m.adaptation) groups.push({ params: m.adaptation.parameters(), lr: b.lr * (c.adaptationLrScale ?? 1), weightDecay: 0 });
        return new SGD(groups, { lr: b.lr, momentum: b.momentum });
      },
      // Cosine from lr to 0 within each round (as `nnlock er train`).
      schedule: () => cosine(b.lr, epochs),
      evaluate: async (m) => {
        const t0 = performance.now();
        const { accuracy } = await evaluateAccuracy(m, testSource);
        const evalSeconds = (performance.now() - t0) / 1000;
        log(`${c.name}: test accuracy ${accuracy.toFixed(4)} on ${test.length} ${key ? 'encrypted ' : ''}test images (${evalSeconds.toFixed(1)} s; load ${loadAverage().join(' ')})`);
        return { testAccuracy: accuracy, evalSeconds };
      },
      checkpointDir: ckptDir, logFile: join(ckptDir, 'log.json'),
      info: { config: c.name, kind: c.kind ?? 'none', adaptation: c.adaptation },
      afterRound: async (round, r) => {
        await saveErModel(modelPath, model, spec, key, {
          roundsCompleted: String(round + 1), epochsPerRound: String(epochs), init, testAccuracy: String(r.final.testAccuracy ?? ''),
        });
      },
    });
    const history: EpochRecord[] = rounds.flatMap((r) => r.history.map((h) => ({ ...h, round: r.round + 1 }) as EpochRecord));
    const last = history[history.length - 1];
    const result: ConfigResult = {
      name: c.name, title: c.title, kind: c.kind ?? 'plaintext', key: key ? describeKey(key) : 'none', keyId: key ? keyId(key) : 'none',
      adaptation: c.adaptation, init, whitening, statistical, rounds: c.rounds, adaptationLrScale: c.adaptationLrScale, epochsPerRound: epochs, trainImages: train.length, testImages: test.length, batch: b.batch, seed: b.seed,
      steps: trainLoader.batchCount * b.epochs, imagesSeen: train.length * b.epochs, history, testAccuracy: last.testAccuracy,
      trainSeconds: history.reduce((s, h) => s + h.seconds, 0), evalSeconds: history.reduce((s, h) => s + (h.evalSeconds ?? 0), 0),
      loadAverage: loadAverage(), date: new Date().toISOString(), quick: ctx.quick,
    };
    if (model.adaptation && cipher && (c.seed === undefined || c.figures)) {
      const grid = `grid-${c.name}.png`;
      result.learned = await decryptionFigures(model, cipher, b.decryptionImages, join(ctx.results, grid));
      result.grid = grid;
      log(`${c.name}: learned decryption on ${result.learned.images} test images: raw PSNR ${result.learned.raw.psnr.toFixed(2)} dB / SSIM ${result.learned.raw.ssim.toFixed(4)}; per-channel affine fit ${result.learned.perChannelAffine.psnr.toFixed(2)} dB / ${result.learned.perChannelAffine.ssim.toFixed(4)}`);
    }
    await writeJson(resultPath(ctx, c.name), result);
    log(`${c.name}: done: test accuracy ${result.testAccuracy.toFixed(4)}, training ${result.trainSeconds.toFixed(0)} s + evaluation ${result.evalSeconds.toFixed(0)} s`);
    return result;
  } finally {
    model.dispose();
    cipher?.dispose();
  }
}

/**
 * Learned decryption of the model's adaptation network on the first `count` test images, and a
 * grid of the first 8: ciphertext (min–max scaled per image and channel), adaptation output raw
 * (clamped to [0, 1]), the same min–max scaled per image and channel, the same after the per-channel
 * affine oracle fit, plaintext.
 */
export async function decryptionFigures(model: EncryptionRobustModel, cipher: BlockCipher, count: number, gridPath: string): Promise<LearnedDecryptionReport> {
  const { x } = await readImagesTensor(TEST_FILE, { limit: count });
  try {
    const { report, columns } = noGrad(() => scope(() => {
      const plain = div(toDtype(x, 'float32'), 255);
      const input = encryptPixels(plain, cipher);
      const r = learnedDecryption(model, input, plain);
      const { raw, fitted } = adaptedImages(model, input, plain);
      const shown = cipher.key.kind === 'hill256' ? input : minMaxScale(input);
      return {
        report: r,
        columns: [
          { title: 'ciphertext', images: shown }, { title: 'adapted (raw)', images: raw },
          { title: 'adapted (min-max)', images: minMaxScale(model.adapt(input)) },
          { title: 'adapted (fit)', images: fitted }, { title: 'plaintext', images: plain },
        ],
      };
    }));
    try {
      await writeImageGrid(gridPath, columns, { count: 8 });
    } finally {
      for (const col of columns) col.images.dispose();
    }
    return report;
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
