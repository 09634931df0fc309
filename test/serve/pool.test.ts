// The inference pool on its own (src/serve/pool.ts): a worker holds its next batch while it runs
// one (the pipeline), sent shortly before it is expected to finish once the pool knows the model's
// pace; with pipeline 1 it holds only the one it runs; every request gets its own rows of the
// batch it joined.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { softmax } from '../../src/ops/activation.ts';
import { modelSpec } from '../../src/models/registry.ts';
import { entriesFromTensors } from '../../src/io/tensor-file.ts';
import { InferencePool } from '../../src/serve/pool.ts';
import { applyPixelTable, pixelTable } from '../../src/serve/pixel-table.ts';
import type { TensorEntry } from '../../src/io/safetensors.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

const IMAGE = [3, 8, 8];
const PER = 3 * 8 * 8;
let tensors: [string, TensorEntry][];
let table: Float32Array;
/** Offline softmax of float input through the same weights, in this thread. */
let offline: (input: Float32Array, n: number) => Float32Array;
let model: ReturnType<ReturnType<typeof modelSpec>['create']>;

before(() => {
  manualSeed(21);
  model = modelSpec('resnet8').create(10);
  model.eval();
  const state = model.stateDict();
  tensors = [...entriesFromTensors(state)];
  table = pixelTable({ mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] }, 3);
  offline = (input, n) => noGrad(() => scope(() => softmax(model.forward(tensor(input, [n, ...IMAGE])), 1).toTypedArray() as Float32Array));
});

function pixels(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n * PER }, (_, i) => (i * 31 + seed * 17) % 256);
}

async function loaded(pipeline: number, batches: number[]): Promise<InferencePool> {
  const pool = new InferencePool({ workers: 1, threads: 1, maxBatch: 8, maxWaitMs: 0, pipeline, onBatch: (_m, _t, size) => batches.push(size) });
  await pool.load({ name: 'm', build: { kind: 'registry', architecture: 'resnet8', numClasses: 10 }, task: 'classify', tensors, pixelTable: table });
  return pool;
}

test('pipeline 2: a busy worker is sent the next ready batch at once; each request gets its own answer', async () => {
  const batches: number[] = [];
  const pool = await loaded(2, batches);
  try {
    // Two queues (8-bit pixels and float input are batched apart), ready at once (maxWaitMs 0).
    const a = pixels(2, 1);
    const b = applyPixelTable(table, pixels(3, 2), 3, 64);
    const runs = [pool.run('m', 0, IMAGE, 2, a), pool.run('m', 0, IMAGE, 3, b)];
    // Both batches went to the one worker before either was answered.
    assert.deepEqual(batches, [2, 3]);
    const [ra, rb] = await Promise.all(runs);
    const ea = offline(applyPixelTable(table, a, 3, 64), 2);
    const eb = offline(b, 3);
    assert.deepEqual(ra.shape, [2, 10]);
    assert.deepEqual(rb.shape, [3, 10]);
    for (let i = 0; i < ea.length; i++) assert.ok(Math.abs(ra.data[i] - ea[i]) < 1e-5, `pixels, value ${i}`);
    for (let i = 0; i < eb.length; i++) assert.ok(Math.abs(rb.data[i] - eb[i]) < 1e-5, `float, value ${i}`);
  } finally {
    await pool.close();
  }
});

test("pipeline 2: once the pool knows a model's pace, a busy worker's next batch waits until it nears its finish", async () => {
  const batches: number[] = [];
  const pool = new InferencePool({ workers: 1, threads: 1, maxBatch: 64, maxWaitMs: 0, pipeline: 2, onBatch: (_m, _t, size) => batches.push(size) });
  try {
    await pool.load({ name: 'm', build: { kind: 'registry', architecture: 'resnet8', numClasses: 10 }, task: 'classify', tensors, pixelTable: table });
    const big = [3, 64, 64];
    const frame = (n: number, seed: number) => Uint8Array.from({ length: n * 3 * 64 * 64 }, (_, i) => (i * 13 + seed) % 256);
    // One batch first: the pool learns the model's ms per image from it.
    await pool.run('m', 0, big, 4, frame(4, 1));
    // The pool frees the worker a few microtasks after it answers: let it, so the worker is idle.
    await new Promise((r) => setImmediate(r));
    // 32 images take tens of ms at any CPU's pace: far more than the lead, so the second batch is held.
    const first = pool.run('m', 0, big, 32, frame(32, 2));
    const second = pool.run(
      'm',
      0,
      big,
      2,
      Float32Array.from(frame(2, 3), (v) => v / 255),
    );
    assert.deepEqual(batches, [4, 32]);
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(batches, [4, 32, 2]);
    assert.deepEqual(a.shape, [32, 10]);
    assert.deepEqual(b.shape, [2, 10]);
  } finally {
    await pool.close();
  }
});

test('pipeline 1: the worker is sent one batch at a time', async () => {
  const batches: number[] = [];
  const pool = await loaded(1, batches);
  try {
    const runs = [pool.run('m', 0, IMAGE, 2, pixels(2, 3)), pool.run('m', 0, IMAGE, 3, applyPixelTable(table, pixels(3, 4), 3, 64))];
    assert.deepEqual(batches, [2]);
    await runs[0];
    await runs[1];
    assert.deepEqual(batches, [2, 3]);
  } finally {
    await pool.close();
  }
});

test('pipeline must be a positive integer', () => {
  assert.throws(() => new InferencePool({ pipeline: 0 }), /pipeline must be a positive integer, got 0/);
  assert.throws(() => new InferencePool({ pipeline: 1.5 }), /pipeline must be a positive integer/);
});

test('leaks no tensors', () => {
  model.dispose();
  checkLeaks();
});
