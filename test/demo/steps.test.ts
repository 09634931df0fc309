// The demo's library steps on a tiny synthetic Fashion-MNIST folder (never the real dataset):
// the cache folder and recipe keys, a classifier trained once and then read from the cache,
// a protected model measured at every tier, an Encryption-Robust model trained once and then
// reused, and the statistical attack on an encrypted dataset.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheDir, recipeKey } from '../../src/io/cache-dir.ts';
import { cachedClassifier } from '../../src/train/cached.ts';
import { evaluateTiers } from '../../src/protect/evaluate-tiers.ts';
import { openDataset } from '../../src/data/open.ts';
import { generateKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { cachedEncryptionRobust } from '../../src/er/cached.ts';
import { encryptedBatches } from '../../src/er/data.ts';
import { attackEncryptedDataset } from '../../src/attacks/statistical-attack.ts';
import { datasetPixels } from '../../src/attacks/image-input.ts';
import { FASHION_MNIST_CLASSES } from '../../src/data/fashion-mnist.ts';
import { writeTinyFashionMnist } from '../helpers/fashion.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
let data = '';
let cache = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-demo-steps-'));
  data = path.join(dir, 'fashion');
  cache = path.join(dir, 'cache');
  fs.mkdirSync(data);
  writeTinyFashionMnist(data, { train: 96, test: 48, size: 16, classes: 2 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const recipe = { architecture: 'smallcnn', data: '', epochs: 2, batch: 16, lr: 0.05, seed: 0, augment: false, normalisation: { mean: [0.3], std: [0.3] }, workers: 0 };

test('the cache folder follows NNLOCK_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache; recipe keys ignore key order', () => {
  assert.equal(cacheDir({ NNLOCK_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }), '/c');
  assert.equal(cacheDir({ XDG_CACHE_HOME: '/x' }), path.join('/x', 'nnlock'));
  assert.equal(cacheDir({}), path.join(os.homedir(), '.cache', 'nnlock'));
  assert.equal(recipeKey({ a: 1, b: { c: 2, d: 3 } }), recipeKey({ b: { d: 3, c: 2 }, a: 1 }));
  assert.notEqual(recipeKey({ a: 1 }), recipeKey({ a: 2 }));
  assert.match(recipeKey({}), /^[0-9a-f]{16}$/);
});

test('a classifier is trained once, then read from the cache; another recipe trains anew', async () => {
  const spec = `fashion-mnist:${data}`;
  let epochs = 0;
  const first = await cachedClassifier({ ...recipe, data: spec, cache, onEpoch: () => epochs++ });
  assert.equal(first.cached, false);
  assert.equal(epochs, 2);
  assert.ok(first.testAccuracy! > 0.9, `the stripes are easy: held-out accuracy ${first.testAccuracy}`);
  assert.equal(first.file.metadata.architecture, 'smallcnn');
  assert.equal(first.file.metadata.class_names, JSON.stringify(FASHION_MNIST_CLASSES));
  assert.equal(first.file.metadata.input_mean, '0.3');
  assert.ok(!fs.existsSync(path.join(path.dirname(first.path), 'train.ckpt')), 'the finished run leaves no checkpoint');
  const again = await cachedClassifier({ ...recipe, data: spec, cache, onEpoch: () => epochs++ });
  assert.equal(again.cached, true);
  assert.equal(again.path, first.path);
  assert.equal(epochs, 2, 'nothing was trained the second time');
  assert.equal(again.testAccuracy, first.testAccuracy);
  const other = await cachedClassifier({ ...recipe, data: spec, cache, epochs: 1 });
  assert.equal(other.cached, false);
  assert.notEqual(other.path, first.path);
});

test('evaluateTiers: every tier measured, the master key bit-exact, a tier-1 key refused the top tier, a chart', async () => {
  const { file } = await cachedClassifier({ ...recipe, data: `fashion-mnist:${data}`, cache });
  const test = await openDataset(data, { split: 'test' });
  const seen: number[] = [];
  const chart = path.join(dir, 'tiers.svg');
  const samples = path.join(dir, 'samples.png');
  const r = await evaluateTiers(file, { test, ratio: 0.5, tiers: 3, fractions: [0.4, 0.7, 1], chart, samples: { path: samples, count: 4 }, onTier: (t) => seen.push(t), modelId: '00'.repeat(16) });
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.equal(r.accuracy.length, 4);
  assert.equal(r.images, 48);
  assert.equal(
    r.ordered,
    r.accuracy.every((a, t) => t === 0 || a > r.accuracy[t - 1]),
  );
  assert.ok(r.accuracy[3] > 0.9, `the master key restores the model: ${r.accuracy}`);
  assert.equal(r.identical, true);
  assert.equal(r.tensors, file.tensors.size);
  assert.match(r.refused ?? '', /tier-1 key cannot unlock tier 3/);
  assert.ok(r.selected > 0 && r.selected < r.kernels);
  assert.match(fs.readFileSync(chart, 'utf8'), /^<svg[\s\S]*tier 3[\s\S]*<\/svg>$/);
  // The samples: the first four test images, each tier's prediction; the master key's agree with its accuracy.
  assert.deepEqual(
    r.samples!.labels,
    [0, 1, 2, 3].map((i) => test.get(i).label),
  );
  assert.equal(r.samples!.predictions.length, 4);
  assert.ok(r.samples!.predictions.every((p) => p.length === 4));
  const sharp = (await import('sharp')).default;
  const meta = await sharp(samples).metadata();
  assert.ok(meta.width! > 5 * 120 && meta.height! > 4 * 120, `5 columns, 4 rows: ${meta.width}×${meta.height}`);
});

test('an Encryption-Robust model is trained once on ciphertext, then reused; the attack recovers images', async () => {
  const train = await openDataset(data, { split: 'train' });
  const test = await openDataset(data, { split: 'test' });
  const key = generateKey({ kind: 'uniform', k: 4, channels: 1 });
  const cipher = new BlockCipher(key);
  const out = path.join(dir, 'er.safetensors');
  const config = () => ({
    architecture: 'smallcnn',
    classes: train.classes,
    adaptation: 'aligned' as const,
    cipher: key,
    init: { kind: 'whiten' as const, source: encryptedBatches(train, cipher, { batch: 48, shuffle: false, workers: 0 }) },
    train: encryptedBatches(train, cipher, { batch: 16, shuffle: true, workers: 0 }),
    test: encryptedBatches(test, cipher, { batch: 48, shuffle: false, workers: 0 }),
    epochs: 1,
    lr: 0.05,
    out,
  });
  try {
    const first = await cachedEncryptionRobust(config());
    first.model.dispose();
    assert.equal(first.cached, false);
    assert.ok(first.testAccuracy !== undefined && first.testAccuracy >= 0);
    assert.deepEqual(first.spec.classes, FASHION_MNIST_CLASSES);
    assert.ok(!fs.existsSync(`${out}.checkpoints`), 'its checkpoints are gone once it is finished');
    const again = await cachedEncryptionRobust(config());
    again.model.dispose();
    assert.equal(again.cached, true);
    assert.equal(again.testAccuracy, first.testAccuracy, 'the same model on the same ciphertext');
    // Another key: the cached file is refused, not silently used.
    await assert.rejects(cachedEncryptionRobust({ ...config(), cipher: generateKey({ kind: 'uniform', k: 4, channels: 1 }) }), /was trained for key/);
  } finally {
    cipher.dispose();
  }
  const grid = path.join(dir, 'attack.png');
  const report = await attackEncryptedDataset(test, train, key, { limit: 20, scoreImages: 20, grid });
  assert.equal(report.cipherImages, 20);
  assert.equal(report.priorImages, 96);
  assert.ok(Number.isFinite(report.recovered!.psnr) && report.recovered!.images === 20);
  assert.ok(fs.statSync(grid).size > 0);
  await assert.rejects(attackEncryptedDataset(test, train, generateKey({ kind: 'uniform', k: 4, channels: 3 })), /the images have 1 channels .* the key encrypts 3/);
});

test('datasetPixels: bytes as [0, 1] floats, the first n images', async () => {
  const ds = await openDataset(data, { split: 'test' });
  const x = datasetPixels(ds, 3);
  try {
    assert.deepEqual(x.shape, [3, 1, 16, 16]);
    assert.equal(x.dtype, 'float32');
    const v = x.toArray();
    assert.ok(Math.abs(v[5] - ds.get(0).image[5] / 255) < 1e-7);
  } finally {
    x.dispose();
  }
});

test('leaks no tensors', checkLeaks);
