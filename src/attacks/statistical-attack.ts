// The ciphertext-only statistical attack as a workflow: from many ciphertexts and plaintext images
// of the same kind that are NOT the encrypted ones (the prior), recover the decryption (see
// statistical.ts), optionally score it against the true plaintext and draw a picture. What
// `nnlock attack statistical` and `nnlock demo` run; no key and no known plaintext is used.
import { type Tensor, noGrad, scope } from '../tensor/index.ts';
import { clamp } from '../ops/arithmetic.ts';
import { narrow } from '../ops/shape.ts';
import { psnrPerImage, ssimPerImage } from '../train/metrics.ts';
import { type CipherKey, CipherKeyError } from '../cipher/key.ts';
import { BlockCipher } from '../cipher/hill.ts';
import { readImagesTensor, tensorSource } from '../cipher/data.ts';
import { assertKeyChannels, datasetPixels, readAttackPixels } from './image-input.ts';
import type { Dataset } from '../data/dataset.ts';
import { type GridColumn, drawImageGrid, minMaxScale } from '../cipher/pictures.ts';
import { type StatisticalRecovery, blockPairStatistics, decryptWithRecovery, recoverFromStatistics } from './statistical.ts';

/** Mean PSNR (dB) and SSIM of the recovered images against the true plaintext. */
export interface RecoveryQuality {
  images: number;
  psnr: number;
  ssim: number;
}

export interface StatisticalAttackOptions {
  /** Block size of the cipher. */
  k: number;
  /** The true plaintext of the ciphertexts (same order, pixels in [0, 1]), to score the recovery. */
  plain?: Tensor;
  /** How many images are scored (the first ones; default 1000). */
  scoreImages?: number;
  /** Write a PNG grid (ciphertext, recovered image, and the plaintext when given) to this path. */
  grid?: string;
  /** Rows of the grid (default 8). */
  gridImages?: number;
}

export interface StatisticalAttackReport {
  cipherImages: number;
  priorImages: number;
  k: number;
  channels: number;
  /** Time to gather the statistics and recover the decryption. */
  seconds: number;
  /** With `plain`: how well the recovered decryption restores it. */
  recovered?: RecoveryQuality;
  /** The grid written, if any. */
  grid?: string;
}

export interface StatisticalAttackResult {
  report: StatisticalAttackReport;
  /** The recovered decryption (apply it with decryptWithRecovery). */
  recovery: StatisticalRecovery;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** Scores a recovery on the first `count` ciphertexts against their plaintext (pixels in [0, 1]). */
export function recoveryQuality(recovery: StatisticalRecovery, ciphertexts: Tensor, plain: Tensor, count = ciphertexts.shape[0]): RecoveryQuality {
  const n = Math.min(count, ciphertexts.shape[0], plain.shape[0]);
  return noGrad(() =>
    scope(() => {
      const truth = narrow(plain, 0, 0, n);
      const rec = clamp(decryptWithRecovery(recovery, narrow(ciphertexts, 0, 0, n)), 0, 1);
      return { images: n, psnr: mean(psnrPerImage(rec, truth)), ssim: mean(ssimPerImage(rec, truth)) };
    }),
  );
}

/** Writes the grid ciphertext (min–max scaled) | recovered (no key) | plaintext (when given) for the first `count` images. */
export async function writeRecoveryGrid(path: string, recovery: StatisticalRecovery, ciphertexts: Tensor, plain: Tensor | null, count = 8): Promise<void> {
  const n = Math.min(count, ciphertexts.shape[0]);
  await drawImageGrid(
    path,
    () => {
      const y = narrow(ciphertexts, 0, 0, n);
      const cols: GridColumn[] = [
        { title: 'ciphertext', images: minMaxScale(y) },
        { title: 'recovered (no key)', images: clamp(decryptWithRecovery(recovery, y), 0, 1) },
      ];
      if (plain) cols.push({ title: 'plaintext', images: narrow(plain, 0, 0, n) });
      return cols;
    },
    { count: n },
  );
}

/**
 * The attack on tensors: `ciphertexts` [N, C, H, W] as stored (a real-valued kind; hill256 bytes are
 * refused: mod 256 does not transform statistics linearly), `prior` [M, C or 1, H', W'] plaintext
 * pixels in [0, 1] of other images of the same kind.
 */
export async function statisticalAttack(ciphertexts: Tensor, prior: Tensor, o: StatisticalAttackOptions): Promise<StatisticalAttackResult> {
  if (ciphertexts.dtype === 'uint8') {
    throw new CipherKeyError('these ciphertexts are bytes: a hill256 ciphertext (mod 256) does not transform its statistics linearly, so this attack does not apply; it breaks the real-valued kinds');
  }
  const t0 = performance.now();
  const cs = await blockPairStatistics(tensorSource(ciphertexts), { k: o.k });
  const ps = await blockPairStatistics(tensorSource(prior), { k: o.k });
  const recovery = recoverFromStatistics(cs, ps);
  const report: StatisticalAttackReport = { cipherImages: cs.images, priorImages: ps.images, k: o.k, channels: cs.channels, seconds: (performance.now() - t0) / 1000 };
  if (o.plain) {
    if (o.plain.shape.join() !== ciphertexts.shape.join()) throw new Error(`the plaintext [${o.plain.shape}] and the ciphertexts [${ciphertexts.shape}] differ in shape`);
    report.recovered = recoveryQuality(recovery, ciphertexts, o.plain, o.scoreImages ?? 1000);
  }
  if (o.grid) {
    await writeRecoveryGrid(o.grid, recovery, ciphertexts, o.plain ?? null, o.gridImages ?? 8);
    report.grid = o.grid;
  }
  return { report, recovery };
}

export interface StatisticalAttackFiles {
  /** Ciphertexts as `nnlock cipher encrypt` wrote them (.safetensors of a real-valued kind). */
  cipher: string;
  /** Plaintext images of the same kind that are not the encrypted ones (CIFAR-10 .bin or an image). */
  prior: string;
  /** The true plaintext of `cipher` (same order), to score the recovery. */
  plain?: string;
  /** Use only the first `limit` ciphertexts. */
  limit?: number;
}

/** The attack on files (see statisticalAttack); returns the report. */
export async function statisticalAttackOnFiles(files: StatisticalAttackFiles, o: Omit<StatisticalAttackOptions, 'plain'>): Promise<StatisticalAttackReport> {
  const { x: c } = await readImagesTensor(files.cipher, { limit: files.limit });
  const tensors = [c];
  try {
    if (c.dtype === 'uint8') {
      throw new CipherKeyError(
        `${files.cipher} holds bytes: a hill256 ciphertext (mod 256) does not transform its statistics linearly, so this attack does not apply; it breaks the real-valued kinds`,
      );
    }
    const prior = await readAttackPixels(files.prior, { channels: c.shape[1] });
    tensors.push(prior);
    assertKeyChannels(prior, c.shape[1], files.prior);
    const plain = files.plain ? await readAttackPixels(files.plain, { limit: c.shape[0], channels: c.shape[1] }) : undefined;
    if (plain) tensors.push(plain);
    return (await statisticalAttack(c, prior, { ...o, plain })).report;
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/**
 * Encrypts the images of `images` (pixels) with a real-valued `key` and attacks the ciphertexts
 * with the statistics of `prior`, scoring the recovery against the images themselves: the attack
 * shown end to end (`nnlock demo`). The key is used only to encrypt.
 */
export async function attackEncryptedImages(
  images: string,
  prior: string,
  key: CipherKey,
  o: Omit<StatisticalAttackOptions, 'plain' | 'k'> & { limit?: number } = {},
): Promise<StatisticalAttackReport> {
  const plain = await readAttackPixels(images, { limit: o.limit, channels: key.channels });
  const cipher = new BlockCipher(key);
  const tensors = [plain];
  try {
    assertKeyChannels(plain, key.channels, images);
    const encrypted = noGrad(() => cipher.encrypt(plain));
    tensors.push(encrypted);
    const priorImages = await readAttackPixels(prior, { channels: key.channels });
    tensors.push(priorImages);
    assertKeyChannels(priorImages, key.channels, prior);
    return (await statisticalAttack(encrypted, priorImages, { ...o, k: key.k, plain })).report;
  } finally {
    cipher.dispose();
    for (const t of tensors) t.dispose();
  }
}

/**
 * attackEncryptedImages on datasets in memory: the first `limit` images of `images` encrypted with
 * `key` and attacked with the statistics of the first `priorLimit` images of `prior` (other images
 * of the same kind, never the encrypted ones), the recovery scored against `images` themselves.
 */
export async function attackEncryptedDataset(
  images: Dataset,
  prior: Dataset,
  key: CipherKey,
  o: Omit<StatisticalAttackOptions, 'plain' | 'k'> & { limit?: number; priorLimit?: number } = {},
): Promise<StatisticalAttackReport> {
  if (images.shape[0] !== key.channels || prior.shape[0] !== key.channels) {
    throw new CipherKeyError(`the images have ${images.shape[0]} channels and the prior ${prior.shape[0]}, but the key encrypts ${key.channels}`);
  }
  const cipher = new BlockCipher(key);
  const tensors: Tensor[] = [];
  try {
    const plain = datasetPixels(images, o.limit);
    tensors.push(plain);
    const encrypted = noGrad(() => cipher.encrypt(plain));
    tensors.push(encrypted);
    const priorImages = datasetPixels(prior, o.priorLimit);
    tensors.push(priorImages);
    return (await statisticalAttack(encrypted, priorImages, { ...o, k: key.k, plain })).report;
  } finally {
    cipher.dispose();
    for (const t of tensors) t.dispose();
  }
}
