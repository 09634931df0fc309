// Ciphertext-only key recovery from image statistics (src/cipher/attacks/statistical.ts), on
// synthetic stationary images: white noise smoothed by a fixed anisotropic kernel, so neighbouring
// pixels and blocks are correlated as in natural images. The prior is another sample of the same
// process; the key is never shown to the attack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { rand, randn } from '../../src/ops/creation.ts';
import { add, clamp, mul } from '../../src/ops/arithmetic.ts';
import { conv2d } from '../../src/ops/conv.ts';
import { narrow } from '../../src/ops/shape.ts';
import { AdaptationNetwork } from '../../src/er/adaptation.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { blockPairStatistics, recoverFromStatistics } from '../../src/attacks/statistical.ts';
import { decryptorFromRecovery, recoveryAsWindowAffine } from '../../src/er/statistical-init.ts';
import { decryptWithRecovery, statisticalAttack } from '../../src/attacks/index.ts';
import { sub, abs } from '../../src/ops/arithmetic.ts';
import { max } from '../../src/ops/reduction.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tensorSource } from '../../src/cipher/data.ts';
import { psnrPerImage } from '../../src/train/metrics.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

/** n images [n, 3, 32, 32] of smoothed noise around 0.5 (anisotropic 5×5 kernel, per-image brightness; rarely clipped). */
function smoothImages(n: number): Tensor {
  return noGrad(() =>
    scope(() => {
      const kernel = new Float32Array(25);
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) kernel[i * 5 + j] = Math.exp(-((i - 2) ** 2) / 3 - (j - 2) ** 2 / 1.2 - 0.3 * (i - 2) * (j - 2));
      const w = tensor(Array.from({ length: 3 }, () => Array.from(kernel)).flat(), [3, 1, 5, 5]);
      const noise = randn([n, 3, 36, 36]);
      const field = conv2d(noise, w, null, { groups: 3 }); // [n, 3, 32, 32]
      const brightness = mul(randn([n, 1, 1, 1]), 0.1);
      return clamp(add(add(mul(field, 0.04), brightness), 0.5), 0, 1);
    }),
  );
}

const source = (images: Tensor, batch = 100) => tensorSource(images, batch);

test('blockPairStatistics: per-channel mean, covariance and neighbour cross-covariances', async () => {
  manualSeed(11);
  const images = noGrad(() => rand([6, 2, 8, 8]));
  try {
    const s = await blockPairStatistics(source(images, 4), { k: 4 });
    assert.equal(s.images, 6);
    assert.equal(s.channels, 2);
    const px = images.toTypedArray() as Float32Array;
    // Channel 1, direct: blocks (gh, gw) ∈ {0,1}², entry p = i·4 + j.
    const block = (img: number, c: number, bh: number, bw: number) => Array.from({ length: 16 }, (_, p) => px[((img * 2 + c) * 8 + bh * 4 + Math.floor(p / 4)) * 8 + bw * 4 + (p % 4)]);
    const all: number[][] = [];
    const pairs: [number[], number[]][] = [];
    for (let img = 0; img < 6; img++) {
      for (let bh = 0; bh < 2; bh++) {
        all.push(block(img, 1, bh, 0), block(img, 1, bh, 1));
        pairs.push([block(img, 1, bh, 0), block(img, 1, bh, 1)]);
      }
    }
    const mu = Array.from({ length: 16 }, (_, p) => all.reduce((a, b) => a + b[p], 0) / all.length);
    for (let p = 0; p < 16; p++) assert.ok(Math.abs(mu[p] - s.mean[1][p]) < 1e-12);
    for (const [i, j] of [
      [0, 0],
      [2, 9],
      [15, 3],
    ]) {
      const cov = all.reduce((a, b) => a + (b[i] - mu[i]) * (b[j] - mu[j]), 0) / all.length;
      assert.ok(Math.abs(cov - s.covariance[1][i * 16 + j]) < 1e-12, 'covariance');
      const cross = pairs.reduce((a, [l, r]) => a + l[i] * r[j], 0) / pairs.length - mu[i] * mu[j];
      assert.ok(Math.abs(cross - s.horizontal[1][i * 16 + j]) < 1e-12, 'horizontal cross-covariance');
    }
  } finally {
    images.dispose();
  }
});

test('ciphertext-only recovery: the statistics of other images of the same kind decrypt the ciphertexts, without the key', async () => {
  manualSeed(12);
  const prior = smoothImages(3000);
  const plain = smoothImages(3000);
  for (const kind of ['uniform', 'orthogonal'] as const) {
    const key = deriveKey(new Uint8Array(32).fill(kind === 'uniform' ? 3 : 4), { kind, k: 4, channels: 3 });
    const cipher = new BlockCipher(key);
    const net = new AdaptationNetwork({ k: 4 });
    const encrypted = noGrad(() => cipher.encrypt(plain));
    try {
      const r = recoverFromStatistics(await blockPairStatistics(source(encrypted), { k: 4 }), await blockPairStatistics(source(prior), { k: 4 }));
      const { matrix, offset } = recoveryAsWindowAffine(r);
      net.setWindowAffine(matrix, offset);
      noGrad(() =>
        scope(() => {
          const test = narrow(plain, 0, 0, 200);
          const decrypted = net.forward(cipher.encrypt(test));
          const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
          const recovered = mean(psnrPerImage(clamp(decrypted, 0, 1), test));
          const baseline = mean(psnrPerImage(clamp(cipher.encrypt(test), 0, 1), test));
          assert.ok(recovered > 30, `${kind}: recovered images at ${recovered.toFixed(1)} dB PSNR (ciphertext itself: ${baseline.toFixed(1)} dB)`);
          if (process.env.NNLOCK_VERBOSE) console.log(kind, 'recovered PSNR', recovered, 'ciphertext PSNR', baseline);
        }),
      );
    } finally {
      encrypted.dispose();
      net.dispose();
      cipher.dispose();
    }
  }
  prior.dispose();
  plain.dispose();
});

test('recoverFromStatistics refuses mismatched statistics', async () => {
  manualSeed(13);
  const a = noGrad(() => rand([4, 3, 8, 8]));
  const b = noGrad(() => rand([4, 2, 8, 8]));
  try {
    const sa = await blockPairStatistics(source(a), { k: 4 });
    const sb = await blockPairStatistics(source(b), { k: 4 });
    assert.throws(() => recoverFromStatistics(sa, sb), /the prior has 2 channels, the ciphertext 3/);
    const s2 = await blockPairStatistics(source(a), { k: 2 });
    assert.throws(() => recoverFromStatistics(sa, s2), /block size 4 against the prior's 2/);
    // 4 images × 4 blocks = 16 samples of 16 values, centred: a singular covariance.
    assert.throws(() => recoverFromStatistics(sa, sa), /covariance is singular/);
    await assert.rejects(() => blockPairStatistics({ batchCount: 0, async *epoch() {} }, { k: 4 }), /gave no images/);
  } finally {
    a.dispose();
    b.dispose();
  }
});

test("statisticalAttack: the workflow recovers, scores and draws; decryptWithRecovery is the adaptation network's decryption", async () => {
  manualSeed(14);
  const prior = smoothImages(2000);
  const plain = smoothImages(2000);
  const key = deriveKey(new Uint8Array(32).fill(5), { kind: 'orthogonal', k: 4, channels: 3 });
  const cipher = new BlockCipher(key);
  const encrypted = noGrad(() => cipher.encrypt(plain));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-stat-'));
  try {
    const grid = path.join(dir, 'grid.png');
    const { report, recovery } = await statisticalAttack(encrypted, prior, { k: 4, plain, scoreImages: 200, grid, gridImages: 3 });
    assert.equal(report.cipherImages, 2000);
    assert.equal(report.priorImages, 2000);
    assert.equal(report.recovered?.images, 200);
    assert.ok(report.recovered!.psnr > 30, `recovered at ${report.recovered!.psnr.toFixed(1)} dB`);
    assert.ok(report.recovered!.ssim > 0.5 && report.recovered!.ssim <= 1);
    assert.ok(fs.statSync(grid).size > 100);
    const net = decryptorFromRecovery(recovery);
    try {
      noGrad(() =>
        scope(() => {
          const y = narrow(encrypted, 0, 0, 20);
          const diff = max(abs(sub(decryptWithRecovery(recovery, y), net.forward(y)))).item();
          assert.ok(diff < 1e-4, `the two decryptions differ by ${diff}`);
        }),
      );
    } finally {
      net.dispose();
    }
    const bytes = noGrad(() => tensor(new Uint8Array(2 * 3 * 8 * 8), [2, 3, 8, 8]));
    await assert.rejects(() => statisticalAttack(bytes, prior, { k: 4 }), /hill256 ciphertext \(mod 256\) does not transform its statistics linearly/);
    bytes.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    encrypted.dispose();
    cipher.dispose();
    prior.dispose();
    plain.dispose();
  }
});

test('no tensors leak', () => checkLeaks());
