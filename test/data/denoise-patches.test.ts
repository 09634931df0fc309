import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writePng } from '../../src/io/image.ts';
import { dihedral } from '../../src/data/augment.ts';
import { addGaussianNoise, denoiseLoader, denoisePatches, patchCount } from '../../src/data/denoise-patches.ts';
import { DataLoader, type DenoiseBatch } from '../../src/data/loader.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir: string;
const A = { h: 60, w: 50, data: new Uint8Array(60 * 50).map((_, i) => (i * 97 + (i >> 3)) % 256) };
const B = { h: 45, w: 45, data: new Uint8Array(45 * 45).map((_, i) => (i * 13) % 256) };

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-denoise-'));
  await writePng(path.join(dir, 'a.png'), A.data, 1, A.h, A.w);
  await writePng(path.join(dir, 'b.png'), B.data, 1, B.h, B.w);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an image, ignored');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function region(img: typeof A, top: number, left: number, p: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) out.push(img.data[(top + y) * img.w + left + x]);
  return out;
}

test('patch count and shape, and patches are the image regions in row order', async () => {
  assert.equal(patchCount(60, 20, 10), 5);
  assert.equal(patchCount(19, 20, 10), 0);
  const ds = await denoisePatches(dir, { patchSize: 20, stride: 10 });
  assert.deepEqual(ds.shape, [1, 20, 20]);
  assert.equal(ds.length, 5 * 4 + 3 * 3);
  assert.deepEqual([...ds.get(0).image], region(A, 0, 0, 20));
  assert.deepEqual([...ds.get(1 * 4 + 2).image], region(A, 10, 20, 20));
  assert.deepEqual([...ds.get(20 + 4).image], region(B, 10, 10, 20));
  assert.equal(ds.get(7).label, 0);
});

test('scales add resized copies; flips: all gives 8 forms, random gives a seeded one of the 8', async () => {
  const scaled = await denoisePatches(dir, { patchSize: 20, stride: 10, scales: [1, 0.5] });
  assert.equal(scaled.length, 20 + 2 + 9 + 1); // a: 60×50 then 30×25; b: 45×45 then 22×22
  const all = await denoisePatches(dir, { patchSize: 20, stride: 10, flips: 'all' });
  assert.equal(all.length, 8 * 29);
  const plain = region(A, 0, 0, 20);
  for (let m = 0; m < 8; m++) {
    assert.deepEqual([...all.get(m).image], [...dihedral(Uint8Array.from(plain), [1, 20, 20], m)]);
  }
  const r1 = await denoisePatches(dir, { patchSize: 20, stride: 10, flips: 'random', seed: 1 });
  const r1again = await denoisePatches(dir, { patchSize: 20, stride: 10, flips: 'random', seed: 1 });
  const r2 = await denoisePatches(dir, { patchSize: 20, stride: 10, flips: 'random', seed: 2 });
  assert.equal(r1.length, 29);
  assert.deepEqual(r1.images, r1again.images);
  assert.notDeepEqual(r1.images, r2.images);
  const forms = new Set(Array.from({ length: 8 }, (_, m) => dihedral(Uint8Array.from(plain), [1, 20, 20], m).join(',')));
  assert.ok(forms.has([...r1.get(0).image].join(',')));
});

test('errors: missing folder, no images, images too small', async () => {
  await assert.rejects(denoisePatches(path.join(dir, 'nope')), /nope: no such folder/);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-denoise-empty-'));
  try {
    await assert.rejects(denoisePatches(empty), /no images/);
    await assert.rejects(denoisePatches(dir, { patchSize: 100 }), /no image is large enough/);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

function read(b: DenoiseBatch) {
  const out = { noisy: b.noisy.toArray(), clean: b.clean.toArray(), shape: b.noisy.shape };
  b.noisy.dispose();
  b.clean.dispose();
  return out;
}

test('noisy = clean + σ/255 noise, seeded; clean in [0, 1]; worker path identical', async () => {
  const ds = await denoisePatches(dir, { patchSize: 20, stride: 10 });
  const loader = denoiseLoader(ds, { batchSize: 16, sigma: 25, seed: 3, workers: 0 });
  const batches = [];
  for await (const b of loader.epoch(0)) batches.push(read(b));
  assert.deepEqual(
    batches.map((b) => b.shape),
    [
      [16, 1, 20, 20],
      [13, 1, 20, 20],
    ],
  );
  const diffs = batches.flatMap((b) => b.noisy.map((v, i) => v - b.clean[i]));
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / diffs.length);
  assert.ok(Math.abs(mean) < 0.003, `noise mean ${mean}`);
  assert.ok(Math.abs(sd * 255 - 25) < 0.5, `noise σ ${sd * 255}`);
  assert.ok(batches.every((b) => b.clean.every((v) => v >= 0 && v <= 1)));
  // The clean values are the patch bytes / 255.
  const order = loader.order(0);
  assert.ok(Math.abs(batches[0].clean[5] - ds.get(order[0]).image[5] / 255) < 1e-7);

  const again = [];
  for await (const b of DataLoader.denoise(ds, { batchSize: 16, sigma: 25, seed: 3, workers: 1 }).epoch(0)) again.push(read(b));
  assert.deepEqual(again, batches, 'same seed, worker path: same noise');
  const other = read(DataLoader.denoise(ds, { batchSize: 16, sigma: 25, seed: 4, workers: 0 }).batch(0, 0));
  assert.notDeepEqual(other.noisy, batches[0].noisy);
  const nextEpoch = read(loader.batch(1, 0));
  assert.notDeepEqual(nextEpoch.noisy, batches[0].noisy);
});

test('σ drawn per patch from a range (blind denoising)', async () => {
  const ds = await denoisePatches(dir, { patchSize: 20, stride: 10 });
  const b = read(DataLoader.denoise(ds, { batchSize: 29, sigma: [0, 55], seed: 1, workers: 0, shuffle: false }).batch(0, 0));
  const sds = Array.from({ length: 29 }, (_, i) => {
    let s = 0;
    for (let p = i * 400; p < (i + 1) * 400; p++) s += (b.noisy[p] - b.clean[p]) ** 2;
    return Math.sqrt(s / 400) * 255;
  });
  assert.ok(Math.max(...sds) < 55 * 1.2 && Math.min(...sds) >= 0);
  assert.ok(Math.max(...sds) - Math.min(...sds) > 20, `σ spread ${Math.min(...sds)}..${Math.max(...sds)}`);
});

test('addGaussianNoise is reproducible from its seed', () => {
  const clean = new Float32Array(1000).fill(0.5);
  assert.deepEqual(addGaussianNoise(clean, 25, 7), addGaussianNoise(clean, 25, 7));
  assert.notDeepEqual(addGaussianNoise(clean, 25, 7), addGaussianNoise(clean, 25, 8));
  assert.deepEqual(addGaussianNoise(clean, 0, 7), clean);
});

test('leaks no tensors', checkLeaks);
