import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InMemoryDataset, subset } from '../../src/data/dataset.ts';
import { type ClassBatch, DataLoader, type LoaderOptions, runningLoaderWorkers } from '../../src/data/loader.ts';
import { manualSeed, type Tensor } from '../../src/tensor/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const root = fileURLToPath(new URL('../..', import.meta.url));

// 50 RGB 4×4 images; pixel values depend on item, channel and position; label = item mod 10.
const N = 50;
const ds = new InMemoryDataset(
  new Uint8Array(N * 48).map((_, i) => (i * 29 + Math.floor(i / 48)) % 256),
  new Uint8Array(N).map((_, i) => i % 10),
  [3, 4, 4],
);

/** Reads a batch out as plain arrays and disposes its tensors. */
function take(batch: Record<string, Tensor>): Record<string, { shape: number[]; dtype: string; values: number[] }> {
  const out: Record<string, { shape: number[]; dtype: string; values: number[] }> = {};
  for (const [k, t] of Object.entries(batch)) {
    out[k] = { shape: t.shape, dtype: t.dtype, values: t.toArray() };
    t.dispose();
  }
  return out;
}

async function collect(loader: DataLoader<Record<string, Tensor>>, epoch: number, startBatch = 0) {
  const out = [];
  for await (const b of loader.epoch(epoch, { startBatch })) out.push(take(b));
  return out;
}

const labelsOf = (batches: Awaited<ReturnType<typeof collect>>) => batches.flatMap((b) => b.y.values);

test('batches: shapes, dtypes, length, drop-last', async () => {
  const loader = new DataLoader(ds, { batchSize: 16, workers: 0 });
  assert.equal(loader.batchCount, 4);
  const batches = await collect(loader, 0);
  assert.deepEqual(
    batches.map((b) => b.x.shape),
    [
      [16, 3, 4, 4],
      [16, 3, 4, 4],
      [16, 3, 4, 4],
      [2, 3, 4, 4],
    ],
  );
  assert.equal(batches[0].x.dtype, 'float32');
  assert.equal(batches[0].y.dtype, 'int64');
  assert.deepEqual(batches[3].y.shape, [2]);
  assert.deepEqual([...labelsOf(batches)].sort(), [...ds.labels].map(Number).sort(), 'every item once');
  const dropping = new DataLoader(ds, { batchSize: 16, workers: 0, dropLast: true });
  assert.equal(dropping.batchCount, 3);
  assert.equal((await collect(dropping, 0)).length, 3);
});

test('same seed → same batches; another epoch or seed → another order; an epoch alone reproduces (resume)', async () => {
  const opts: LoaderOptions = { batchSize: 8, seed: 5, workers: 0, augment: { crop: { padding: 1 }, hflip: true } };
  const a = new DataLoader(ds, opts);
  const e0 = await collect(a, 0);
  const e1 = await collect(a, 1);
  const e2 = await collect(a, 2);
  assert.deepEqual(await collect(new DataLoader(ds, opts), 0), e0);
  assert.notDeepEqual(labelsOf(e1), labelsOf(e0));
  assert.notDeepEqual([...a.order(1)], [...a.order(2)]);
  assert.deepEqual(await collect(new DataLoader(ds, opts), 2), e2, 'epoch 2 without running 0 and 1');
  assert.deepEqual(await collect(new DataLoader(ds, opts), 2, 3), e2.slice(3), 'resume mid-epoch');
  assert.notDeepEqual([...new DataLoader(ds, { ...opts, seed: 6 }).order(0)], [...a.order(0)]);
  assert.deepEqual(
    [...new DataLoader(ds, { ...opts, shuffle: false }).order(4)],
    Array.from({ length: N }, (_, i) => i),
  );
});

test('normalisation: bytes / 255, then (x − mean) / std per channel; float datasets are not divided by 255', async () => {
  const mean = [0.5, 0.25, 0];
  const std = [0.5, 0.25, 2];
  const loader = new DataLoader(ds, { batchSize: 4, shuffle: false, workers: 0, mean, std });
  const [b] = await collect(loader, 0);
  for (let i = 0; i < 4 * 48; i += 7) {
    const c = Math.floor((i % 48) / 16);
    const expected = (ds.images[i] / 255 - mean[c]) / std[c];
    assert.ok(Math.abs(b.x.values[i] - expected) < 1e-6, `value ${i}: ${b.x.values[i]} vs ${expected}`);
  }
  assert.deepEqual(b.y.values, [0, 1, 2, 3]);

  const floats = new InMemoryDataset(new Float32Array([0, 0.5, 1, 0.25]), new Int32Array([7]), [1, 2, 2]);
  const [f] = await collect(new DataLoader(floats, { batchSize: 1, workers: 0, mean: [0.5], std: [0.5] }), 0);
  assert.deepEqual(f.x.values, [-1, 0, 1, -0.5]);
  assert.deepEqual(f.y.values, [7]);
});

test('the worker path gives exactly the in-thread batches (augmented, normalised, on a subset)', async () => {
  const part = subset(
    ds,
    Array.from({ length: 37 }, (_, i) => (i * 3) % N),
  );
  const opts: LoaderOptions = { batchSize: 5, seed: 9, mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.4], augment: { crop: { padding: 2 }, hflip: true } };
  const inThread = await collect(new DataLoader(part, { ...opts, workers: 0 }), 3);
  assert.deepEqual(await collect(new DataLoader(part, { ...opts, workers: 1 }), 3), inThread);
  assert.deepEqual(await collect(new DataLoader(part, { ...opts, workers: 3, prefetch: 4 }), 3), inThread);
  assert.deepEqual(await collect(new DataLoader(part, { ...opts, workers: 2 }), 3, 5), inThread.slice(5));
  assert.equal(runningLoaderWorkers(), 0, 'workers stop at the end of an epoch');
});

test("worker batches do not depend on manualSeed (libtorch's generator is process-wide; workers never use it)", async () => {
  const opts: LoaderOptions = { batchSize: 6, seed: 11, augment: { crop: { padding: 1 }, hflip: true } };
  manualSeed(1);
  const reference = await collect(new DataLoader(ds, { ...opts, workers: 2 }), 1);
  // Reseeded before and between batches, while two workers are building them.
  manualSeed(99);
  const loader = new DataLoader(ds, { ...opts, workers: 2 });
  const batches: ReturnType<typeof take>[] = [];
  let i = 0;
  for await (const b of loader.epoch(1)) {
    manualSeed(1000 + i++);
    batches.push(take(b));
  }
  assert.deepEqual(batches, reference);
});

test('breaking out of for-await stops the workers', async () => {
  const loader = new DataLoader(ds, { batchSize: 2, workers: 2 });
  let seen = 0;
  for await (const b of loader.epoch(0)) {
    take(b);
    assert.ok(runningLoaderWorkers() > 0);
    if (++seen === 2) break;
  }
  assert.equal(runningLoaderWorkers(), 0);
  // A thrown error also ends the loop through return().
  await assert.rejects(async () => {
    for await (const b of loader.epoch(1)) {
      take(b);
      throw new Error('stop');
    }
  }, /stop/);
  assert.equal(runningLoaderWorkers(), 0);
});

test('a process that stops iterating early (break, or just never asks again) exits', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-loader-'));
  const loaderUrl = new URL('../../src/data/loader.ts', import.meta.url).href;
  const datasetUrl = new URL('../../src/data/dataset.ts', import.meta.url).href;
  const script = path.join(dir, 'early.mts');
  fs.writeFileSync(
    script,
    `
    import { DataLoader } from ${JSON.stringify(loaderUrl)};
    import { InMemoryDataset } from ${JSON.stringify(datasetUrl)};
    const ds = new InMemoryDataset(new Uint8Array(100 * 12), new Uint8Array(100), [3, 2, 2]);
    const loader = new DataLoader(ds, { batchSize: 4, workers: 2 });
    for await (const b of loader.epoch(0)) { b.x.dispose(); b.y.dispose(); break; }
    // Abandoned: one batch taken, the iterator never finished nor returned.
    const it = loader.epoch(1);
    const first = await it.next();
    first.value.x.dispose(); first.value.y.dispose();
    console.log('done');
  `,
  );
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: root, timeout: 120_000 }); // a hang guard only: a child that never exits would wait forever
    assert.match(stdout, /done/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a batch that fails in a worker rejects next() with the cause, and stops the workers', async () => {
  const loader = new DataLoader(ds, { batchSize: 4, workers: 2 });
  // Sabotage the spec the workers get (internal), past the constructor's up-front check.
  loader.workerParts().spec.augment = { crop: { padding: 0, height: 99 } };
  await assert.rejects(async () => {
    for await (const b of loader.epoch(0)) take(b);
  }, /building batch 0 of epoch 0 failed: .*cannot crop 99×4/);
  assert.equal(runningLoaderWorkers(), 0);
});

test('options are checked up front', () => {
  assert.throws(() => new DataLoader(ds, { batchSize: 0 }), /batchSize/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, mean: [0.5] }), /mean has 1 values for 3 channels/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, std: [1, 0, 1] }), /std must be positive/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, workers: -1 }), /workers/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, augment: { crop: { padding: 0, height: 9 } } }), /cannot crop/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2 }).epoch(0, { startBatch: 99 }), /startBatch/);
  assert.throws(() => DataLoader.denoise(ds, { batchSize: 2, sigma: [30, 10] }), /sigma/);
});

test('worker-side modules never import the tensor layer (workers must not load the native addon)', () => {
  const data = new URL('../../src/data/', import.meta.url);
  for (const file of ['loader-worker.ts', 'collate.ts', 'augment.ts', 'rng.ts', 'dataset.ts']) {
    const src = fs.readFileSync(new URL(file, data), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    for (const spec of imports) {
      assert.ok(spec.startsWith('node:') || /^\.\/(collate|augment|rng|dataset)\.ts$/.test(spec), `${file} imports ${spec}`);
    }
  }
});

test('DataLoader batch type defaults to ClassBatch', () => {
  const loader: DataLoader<ClassBatch> = new DataLoader(ds, { batchSize: 50, workers: 0 });
  const b = loader.batch(0, 0);
  assert.deepEqual(b.x.shape, [50, 3, 4, 4]);
  take(b);
});

test('leaks no tensors', checkLeaks);
