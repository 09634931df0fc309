// The workflows on files: trainClassifier writes weights that evaluateClassifier reads back to the
// same accuracy, with the class count from the data; an interrupted run resumes exactly; and
// denoiseImages runs a denoiser from a file in memory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '../../src/tensor/index.ts';
import { InMemoryDataset } from '../../src/data/dataset.ts';
import { DnCNN, classNamesOf, saveWeights } from '../../src/models/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { writePng } from '../../src/io/image.ts';
import { denoiseImages, evaluateClassifier, evaluateDenoiser, stratifiedSplit, trainClassifier } from '../../src/train/index.ts';
import { readImage } from '../../src/io/image.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-workflows-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Three classes of 3×32×32 images told apart by brightness, with some noise. */
function threeClasses(count: number, seed: number): InMemoryDataset {
  const n = 3 * 32 * 32;
  const images = new Uint8Array(count * n);
  const labels = new Int32Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    labels[i] = i % 3;
    for (let j = 0; j < n; j++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      images[i * n + j] = 30 + 80 * labels[i] + (s >>> 26);
    }
  }
  return new InMemoryDataset(images, labels, [3, 32, 32], ['dark', 'grey', 'bright']);
}

const base = { architecture: 'vgg11-bn-w0.125', data: threeClasses(36, 1), test: threeClasses(12, 2), batch: 12, workers: 0, seed: 5 };

test('trained weights record their classes and evaluate back to the accuracy training reported', async () => {
  const epochs: number[] = [];
  const r = await trainClassifier({ ...base, epochs: 2, out: join(dir, 'c.safetensors'), onEpoch: (rec) => epochs.push(rec.epoch) });
  try {
    assert.deepEqual(epochs, [1, 2]);
    assert.equal(r.history.length, 2);
    assert.deepEqual(classNamesOf(r.metadata), ['dark', 'grey', 'bright']);
    const file = await readSafetensors(join(dir, 'c.safetensors'));
    assert.deepEqual(file.metadata, r.metadata);
    const head = [...file.tensors].filter(([k, e]) => k.startsWith('classifier.') && e.shape.length === 2).map(([, e]) => e.shape);
    assert.equal(head.at(-1)?.[0], 3, 'three outputs, one per class');
    const ev = await evaluateClassifier(file, base.test, { workers: 0 });
    assert.equal(ev.images, 12);
    assert.equal(ev.accuracy, r.testAccuracy);
  } finally {
    r.model.dispose();
  }
  await assert.rejects(trainClassifier({ ...base, epochs: 1, out: join(dir, 'c.safetensors') }), /c\.safetensors exists/);
  await assert.rejects(trainClassifier({ ...base, architecture: 'dncnn-17' }), /denoising model/);
});

test('a run stopped after one epoch resumes from its checkpoint to the same history', async () => {
  const whole = await trainClassifier({ ...base, epochs: 2 });
  whole.model.dispose();
  const checkpoint = join(dir, 'run.ckpt');
  const first = await trainClassifier({ ...base, epochs: 2, checkpoint, stopAfter: 1 });
  first.model.dispose();
  assert.equal(first.history.length, 1);
  const resumed = await trainClassifier({ ...base, epochs: 2, checkpoint });
  resumed.model.dispose();
  assert.equal(resumed.resumedFrom, 1);
  const strip = (h: Record<string, number>[]) => h.map(({ seconds, imagesPerSecond, ...rest }) => rest);
  assert.deepEqual(strip(resumed.history), strip(whole.history));
});

test('denoiseImages runs a denoiser from a file in memory, image by image', async () => {
  manualSeed(2);
  const dncnn = new DnCNN({ depth: 3, channels: 1 });
  await saveWeights(dncnn, join(dir, 'd.safetensors'), { architecture: 'dncnn-3' });
  dncnn.dispose();
  mkdirSync(join(dir, 'images'));
  for (const name of ['x.png', 'y.png']) await writePng(join(dir, 'images', name), new Uint8Array(20 * 20).fill(128), 1, 20, 20);
  const seen: string[] = [];
  const r = await denoiseImages(await readSafetensors(join(dir, 'd.safetensors')), join(dir, 'images'), { addNoise: 10, onImage: (done, total, s) => seen.push(`${done}/${total} ${s.name}`) });
  assert.deepEqual(seen, ['1/2 x.png', '2/2 y.png']);
  assert.equal(r.architecture, 'dncnn-3');
  assert.ok(Math.abs(r.psnrNoisy! - 28.1) < 1.5, String(r.psnrNoisy));
  assert.equal(r.images[0].denoisedFile, undefined);
});

test('denoiseImages cleans a real noisy photo as it is (no score), a single file, colour per channel or RGB', async () => {
  const weights = await readSafetensors(join(dir, 'd.safetensors'));
  const photo = join(dir, 'photo.png');
  await writePng(
    photo,
    Uint8Array.from({ length: 3 * 12 * 16 }, (_, j) => (j * 37) % 256),
    3,
    12,
    16,
  );
  const r = await denoiseImages(weights, photo, { out: join(dir, 'cleaned') });
  assert.equal(r.addedNoise, null);
  assert.equal(r.psnr, undefined, 'no clean reference, no PSNR');
  assert.equal(r.colour, 'per-channel');
  assert.deepEqual(
    r.images.map((s) => [s.name, s.channels, s.psnr, s.noisyFile]),
    [['photo.png', 3, undefined, undefined]],
  );
  const cleaned = await readImage(join(dir, 'cleaned', 'photo-denoised.png'), { channels: 3 });
  const input = await readImage(photo, { channels: 3 });
  assert.notDeepEqual(cleaned.data, input.data, 'denoised, and still in colour');
  assert.ok(
    cleaned.data.some((v, j) => v !== cleaned.data[j % (12 * 16)]),
    'channels differ: not turned grey',
  );

  manualSeed(4);
  const colourNet = new DnCNN({ depth: 3, channels: 3 });
  await saveWeights(colourNet, join(dir, 'c3.safetensors'), { architecture: 'dncnn-3-c3' });
  colourNet.dispose();
  const rgb = await denoiseImages(join(dir, 'c3.safetensors'), join(dir, 'images'), { addNoise: 15 });
  assert.equal(rgb.colour, 'rgb');
  assert.ok(rgb.psnr! > 0);
  await assert.rejects(denoiseImages(weights, join(dir, 'missing.png')), /missing\.png: no such file or folder/);
});

test('with added noise, the numbers are those of 0.1 (evaluateDenoiser on the grayscale images)', async () => {
  const weights = await readSafetensors(join(dir, 'd.safetensors'));
  mkdirSync(join(dir, 'varied'));
  for (const [i, name] of ['p.png', 'q.png'].entries())
    await writePng(
      join(dir, 'varied', name),
      Uint8Array.from({ length: 20 * 20 }, (_, j) => (j * (i + 5)) % 256),
      1,
      20,
      20,
    );
  const r = await denoiseImages(weights, join(dir, 'varied'), { addNoise: 25, seed: 3 });
  const { modelFromFile, modelSpec } = await import('../../src/models/index.ts');
  const model = modelFromFile(modelSpec('dncnn-3'), weights, 'd');
  try {
    const images = await Promise.all(['p.png', 'q.png'].map(async (name) => ({ name, ...(await readImage(join(dir, 'varied', name), { channels: 1 })) })));
    const before = evaluateDenoiser(model, images, 25, 3);
    assert.deepEqual(
      r.images.map((s) => [s.psnr, s.psnrNoisy, s.ssim]),
      before.map((b) => [b.psnr, b.psnrNoisy, b.ssim]),
    );
  } finally {
    model.dispose();
  }
});

test('a validation split is seeded, per class, disjoint from training, and used when asked', async () => {
  const labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2];
  const a = stratifiedSplit(labels, 0.25, 1);
  assert.deepEqual(a, stratifiedSplit(labels, 0.25, 1), 'seeded');
  assert.deepEqual(
    [...a.trainIndices, ...a.heldOutIndices].sort((x, y) => x - y),
    labels.map((_, i) => i),
    'a partition',
  );
  assert.deepEqual(
    a.heldOutIndices.map((i) => labels[i]),
    [0, 1, 1],
    'one of four, two of six (rounded), none of the single one',
  );
  const r = await trainClassifier({ ...base, test: undefined, epochs: 1, valSplit: 0.25, onStart: (s) => assert.deepEqual([s.trainImages, s.testImages, s.heldOut], [27, 9, 'val-split']) });
  r.model.dispose();
  assert.equal(typeof r.testAccuracy, 'number');
  await assert.rejects(trainClassifier({ ...base, valSplit: 0.25 }), /not both/);
});

test('leaks no tensors', checkLeaks);
