// The ciphertext-only statistical attack (src/attacks/statistical.ts) on real CIFAR-10:
// the attacker holds N ciphertexts (the first N training images, encrypted) and plaintext images
// of the same kind that are not those (the prior: data_batch_3), no key and no plaintext of the
// encrypted images. Measured: how well the recovered map decrypts the test images (PSNR, SSIM),
// by N and key kind, and a picture. Stored as statistical.json; skipped on rerun.
import { join } from 'node:path';
import { type Tensor, noGrad } from '../../src/tensor/index.ts';
import { DataLoader } from '../../src/data/loader.ts';
import type { CipherKind } from '../../src/cipher/key.ts';
import { describeKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptPixels, encryptedSource, readPixels } from '../../src/cipher/data.ts';
import { type StatisticalRecovery, blockPairStatistics, recoverFromStatistics, recoveryQuality, writeRecoveryGrid } from '../../src/attacks/index.ts';
import { type RunContext, PRIOR_FILE, TEST_FILE, experimentKey, log, priorSet, trainSet, writeJson, cachedUnit } from './common.ts';

export interface StatisticalPoint {
  cipherImages: number;
  psnr: number;
  ssim: number;
  seconds: number;
}

export interface StatisticalResults {
  prior: string;
  priorImages: number;
  testImages: number;
  kinds: { kind: CipherKind; key: string; points: StatisticalPoint[]; grid: string }[];
  date: string;
}

export function statisticalPath(ctx: RunContext): string {
  return join(ctx.results, 'runs', 'statistical.json');
}

/** PSNR / SSIM of the recovered decryption on the first `count` test images (encrypted with `cipher`). */
export async function recoveredQuality(recovery: StatisticalRecovery, cipher: BlockCipher, count: number): Promise<{ psnr: number; ssim: number }> {
  const { plain, encrypted } = await encryptedTestImages(cipher, count);
  try {
    const { psnr, ssim } = recoveryQuality(recovery, encrypted, plain);
    return { psnr, ssim };
  } finally {
    plain.dispose();
    encrypted.dispose();
  }
}

/** The first `count` test images as pixels in [0, 1] and their ciphertext as the network sees it. */
async function encryptedTestImages(cipher: BlockCipher, count: number): Promise<{ plain: Tensor; encrypted: Tensor }> {
  const plain = await readPixels(TEST_FILE, { limit: count });
  return { plain, encrypted: noGrad(() => encryptPixels(plain, cipher)) };
}

export async function runStatistical(ctx: RunContext): Promise<StatisticalResults> {
  const cached = cachedUnit<StatisticalResults>(statisticalPath(ctx), 'statistical');
  if (cached) return cached;
  const counts = ctx.quick ? [50, 200] : [10, 100, 1_000, 10_000];
  const testImages = ctx.quick ? 100 : 1_000;
  const prior = await priorSet();
  const ps = await blockPairStatistics(encryptedSource(new DataLoader(prior, { batchSize: 500, shuffle: false, workers: 1 }), null), { k: 4 });
  const train = await trainSet(Math.max(...counts));
  const results: StatisticalResults = { prior: PRIOR_FILE, priorImages: ps.images, testImages, kinds: [], date: new Date().toISOString() };
  for (const kind of ['uniform', 'orthogonal'] as const) {
    const key = experimentKey(kind);
    const cipher = new BlockCipher(key);
    try {
      const points: StatisticalPoint[] = [];
      let best: StatisticalRecovery | undefined;
      for (const n of counts) {
        const t0 = performance.now();
        const cs = await blockPairStatistics(encryptedSource(new DataLoader(train, { batchSize: 500, shuffle: false, workers: 1 }), cipher), { k: 4, maxImages: n });
        let recovery: StatisticalRecovery;
        try {
          recovery = recoverFromStatistics(cs, ps);
        } catch (e) {
          log(`statistical: ${kind}, ${n} ciphertexts: ${(e as Error).message}`);
          continue;
        }
        const seconds = (performance.now() - t0) / 1000;
        const q = await recoveredQuality(recovery, cipher, testImages);
        points.push({ cipherImages: n, ...q, seconds });
        best = recovery;
        log(`statistical: ${kind}: from ${n} ciphertexts and ${ps.images} prior images, the test images decrypt to ${q.psnr.toFixed(2)} dB / SSIM ${q.ssim.toFixed(4)} (${seconds.toFixed(1)} s)`);
      }
      const grid = `statistical-${kind}.png`;
      if (best) await recoveredGrid(best, cipher, join(ctx.results, grid));
      results.kinds.push({ kind, key: describeKey(key), points, grid });
    } finally {
      cipher.dispose();
    }
  }
  await writeJson(statisticalPath(ctx), results);
  return results;
}

/** Ciphertext (min–max scaled), recovered decryption, plaintext for the first 8 test images. */
async function recoveredGrid(recovery: StatisticalRecovery, cipher: BlockCipher, path: string): Promise<void> {
  const { plain, encrypted } = await encryptedTestImages(cipher, 8);
  try {
    await writeRecoveryGrid(path, recovery, encrypted, plain, 8);
  } finally {
    plain.dispose();
    encrypted.dispose();
  }
}
