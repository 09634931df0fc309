// Whitening initialisation of the adaptation network (src/cipher/whitening.ts): the windows are the
// ones the convolution reads (aligned and padded), the statistics are right, and after whitening
// the convolution's output has (shrunk) identity covariance on the data it was estimated from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { rand, randn } from '../../src/ops/creation.ts';
import { abs, sub } from '../../src/ops/arithmetic.ts';
import { max, mean } from '../../src/ops/reduction.ts';
import { matmul } from '../../src/ops/linear.ts';
import { narrow, permute, reshape, transpose } from '../../src/ops/shape.ts';
import { AdaptationNetwork } from '../../src/er/adaptation.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { adaptationWindows, whitenAdaptation, windowStatistics, zcaWhitening } from '../../src/er/whitening.ts';
import { tensorSource } from '../../src/cipher/data.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

const imagesSource = (images: Tensor, batch: number) => tensorSource(images, batch);

/** The conv output of the network, laid out as windows: [N·gh·gw, C·k²]. */
function convRows(net: AdaptationNetwork, x: Tensor): Tensor {
  const h = net.conv.forward(x);
  return reshape(permute(h, [0, 2, 3, 1]), [-1, h.shape[1]]);
}

test('adaptationWindows are what the convolution reads (aligned and padded): conv(x) = windows·Mᵀ + b', () => {
  manualSeed(4);
  for (const variant of ['aligned', 'padded'] as const) {
    const net = new AdaptationNetwork({ k: 4, variant });
    try {
      noGrad(() =>
        scope(() => {
          const d = 48;
          const m = randn([d, d]);
          const b = randn([d]);
          net.setWindowAffine(m.toTypedArray() as Float32Array, b.toTypedArray() as Float32Array);
          const x = rand([3, 3, 16, 12]);
          const want = sub(matmul(adaptationWindows(x, 4, variant), transpose(m, 0, 1)), sub(0, b));
          const err = max(abs(sub(convRows(net, x), want))).item();
          assert.ok(err < 1e-4, `${variant}: conv output = windows·Mᵀ + b (max error ${err})`);
          assert.deepEqual(adaptationWindows(x, 4, variant).shape, [3 * 4 * 3, 48]);
        }),
      );
    } finally {
      net.dispose();
    }
  }
});

test('windowStatistics: mean and covariance of the windows, capped at maxImages', async () => {
  manualSeed(5);
  const images = rand([40, 3, 8, 8]);
  try {
    const stats = await windowStatistics(imagesSource(images, 16), { k: 4, variant: 'aligned', maxImages: 36 });
    assert.equal(stats.images, 36);
    assert.equal(stats.count, 36 * 4);
    // Direct computation on the first 36 images.
    noGrad(() =>
      scope(() => {
        const rows = adaptationWindows(narrow(images, 0, 0, 36), 4, 'aligned').toTypedArray() as Float32Array;
        const n = 36 * 4;
        const d = 48;
        const mean = new Float64Array(d);
        for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) mean[i] += rows[r * d + i] / n;
        for (let i = 0; i < d; i++) assert.ok(Math.abs(mean[i] - stats.mean[i]) < 1e-9, 'mean');
        for (const [i, j] of [
          [0, 0],
          [3, 17],
          [47, 47],
          [20, 5],
        ]) {
          let c = 0;
          for (let r = 0; r < n; r++) c += (rows[r * d + i] - mean[i]) * (rows[r * d + j] - mean[j]);
          c /= n - 1;
          assert.ok(Math.abs(c - stats.covariance[i * d + j]) < 1e-9, `covariance (${i}, ${j})`);
        }
      }),
    );
  } finally {
    images.dispose();
  }
});

test('whitening: on the data it was estimated from, the conv output has mean 0 and covariance ≈ λ/(λ+ε) (identity where the data vary)', async () => {
  manualSeed(6);
  const key = deriveKey(new Uint8Array(32).fill(9), { kind: 'uniform', k: 4, channels: 3 });
  const cipher = new BlockCipher(key);
  const net = new AdaptationNetwork({ k: 4, init: 'whiten' });
  // Random images, encrypted: the cipher correlates the pixels of each block.
  const plain = noGrad(() => scope(() => rand([200, 3, 16, 16])));
  const images = noGrad(() => cipher.encrypt(plain));
  try {
    const shrinkage = 1e-6;
    const report = await whitenAdaptation(net, imagesSource(images, 64), { shrinkage });
    assert.equal(report.images, 200);
    assert.ok(report.eigenvalueRange[0] > 0 && report.eigenvalueRange[1] > report.eigenvalueRange[0]);
    noGrad(() =>
      scope(() => {
        const h = convRows(net, images);
        const n = h.shape[0];
        const cov = matmul(transpose(h, 0, 1), h).toTypedArray() as Float32Array;
        const d = 48;
        let worst = 0;
        for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) worst = Math.max(worst, Math.abs(cov[i * d + j] / (n - 1) - (i === j ? 1 : 0)));
        assert.ok(worst < 1e-2, `covariance ≈ identity (worst entry off by ${worst})`);
        const meanAbs = max(abs(mean(h, [0]))).item();
        assert.ok(meanAbs < 1e-3, `mean ≈ 0 (${meanAbs})`);
        // The deconv is depth-to-space: the network's output is the whitened windows put back in place.
        const out = net.forward(images);
        const back = adaptationWindows(out, 4, 'aligned');
        assert.ok(max(abs(sub(back, h))).item() < 1e-5);
      }),
    );
    // Shrinkage caps the gain of directions without variance.
    const stats = await windowStatistics(imagesSource(images, 64), { k: 4, variant: 'aligned' });
    const shrunk = zcaWhitening(stats, 0.5);
    const meanEigenvalue = shrunk.eigenvalues.reduce((a, v) => a + v, 0) / 48;
    assert.ok(Math.abs(shrunk.epsilon - 0.5 * meanEigenvalue) < 1e-12 * meanEigenvalue);
    assert.throws(() => zcaWhitening(stats, 0), /shrinkage must be positive/);
  } finally {
    images.dispose();
    plain.dispose();
    net.dispose();
    cipher.dispose();
  }
});

test('whitenAdaptation rejects data with the wrong channel count, and an empty source', async () => {
  const net = new AdaptationNetwork({ k: 4, channels: 1 });
  const images = noGrad(() => scope(() => rand([4, 3, 8, 8])));
  try {
    await assert.rejects(() => whitenAdaptation(net, imagesSource(images, 4)), /3 channels, the network 1/);
    await assert.rejects(() => windowStatistics({ batchCount: 0, async *epoch() {} }, { k: 4, variant: 'aligned' }), /gave no images/);
    assert.throws(() => scope(() => adaptationWindows(rand([1, 1, 6, 8]), 4, 'aligned')), /not a multiple of k=4/);
  } finally {
    images.dispose();
    net.dispose();
  }
});

test('no tensors leak', () => checkLeaks());
