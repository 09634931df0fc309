// The CUDA path where a GPU is there (bench/cuda.sh runs this file on a lent GPU machine; on a
// machine without one every test is skipped, saying why): Module.to moves in place and back,
// training and evaluation on the GPU follow the CPU run to float tolerance, an optimizer built
// before the move steps the moved tensors, and a checkpoint resumes onto the GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cuda, keep, manualSeed, scope, tensor } from '../../src/tensor/index.ts';
import { crossEntropy, toDevice } from '../../src/ops/index.ts';
import { BatchNorm2d, Conv2d, Flatten, Linear, ReLU, SGD, Sequential } from '../../src/nn/index.ts';
import type { Batch, BatchSource } from '../../src/data/batch-source.ts';
import { train } from '../../src/train/loop.ts';
import { evaluateAccuracy } from '../../src/train/evaluate.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const skip = cuda.deviceCount() === 0 && 'no CUDA device here (bench/cuda.sh runs these on a GPU machine)';
const GPU = 'cuda:0';

function net(seed: number): Sequential {
  manualSeed(seed);
  return new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 2));
}

/** 32 seeded 3×8×8 images of two classes, in batches of 8, made on the CPU (as loaders make them). */
function source(): BatchSource {
  let s = 7;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const x = Float32Array.from({ length: 32 * 3 * 64 }, (_, i) => (Math.floor(i / 192) % 2) + rand() - 0.5);
  const y = BigInt64Array.from({ length: 32 }, (_, i) => BigInt(i % 2));
  return {
    batchCount: 4,
    *epoch(): Iterable<Batch> {
      for (let b = 0; b < 4; b++) yield { x: keep(tensor(x.subarray(b * 8 * 192, (b + 1) * 8 * 192), [8, 3, 8, 8])), y: keep(tensor(y.subarray(b * 8, (b + 1) * 8), [8])) };
    },
  };
}

const close = (a: number[], b: number[], tol: number, what: string) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${v} vs ${b[i]}`));

test('Module.to(cuda) moves every parameter and buffer in place; back to the CPU the values are unchanged', { skip }, () => {
  const m = net(1);
  const before = [...m.stateDict()].map(([n, t]) => [n, t, t.toArray()] as const);
  m.to(GPU);
  assert.equal(m.device, GPU);
  for (const [n, t, v] of before) {
    assert.equal(m.stateDict().get(n), t, `${n} is the same Tensor object`);
    assert.equal(t.device, GPU, n);
    assert.deepEqual(t.toArray(), v, n);
  }
  assert.ok(m.parameters().every((p) => p.requiresGrad));
  m.to('cpu');
  for (const [n, t, v] of before) assert.deepEqual([t.device, t.toArray()], ['cpu', v], n);
  m.dispose();
});

test('train() and evaluateAccuracy on the GPU follow the CPU run (the batches move in one place)', { skip }, async () => {
  const runs: { losses: number[]; weights: number[]; accuracy: number }[] = [];
  for (const device of ['cpu', GPU]) {
    const m = net(2).to(device);
    const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9 }); // built after the move
    const { history } = await train({ model: m, optimizer: opt, data: source(), epochs: 3, loss: crossEntropy, task: 'classification', seed: 3 });
    const { accuracy } = await evaluateAccuracy(m, source());
    runs.push({ losses: history.map((h) => h.trainLoss), weights: m.parameters()[0].toArray(), accuracy });
    opt.dispose();
    m.dispose();
  }
  close(runs[1].losses, runs[0].losses, 1e-3, 'loss');
  close(runs[1].weights, runs[0].weights, 1e-3, 'conv weight');
  assert.equal(runs[1].accuracy, runs[0].accuracy);
});

test('an optimizer built before the move steps the moved parameters; its momentum lives on the GPU', { skip }, () => {
  const m = net(4);
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }); // built before
  m.to(GPU);
  const w = m.parameters()[0];
  const w0 = w.toArray();
  scope(() => crossEntropy(m.forward(toDevice(tensor(new Float32Array(2 * 3 * 64).fill(0.5), [2, 3, 8, 8]), GPU)), toDevice(tensor([0, 1], [2], 'int64'), GPU)).backward());
  opt.step();
  assert.notDeepEqual(w.toArray(), w0, 'the moved parameter was updated');
  for (const [, t] of opt.stateTensors()) assert.equal(t.device, GPU);
  opt.dispose();
  m.dispose();
});

test('a checkpoint written on the GPU resumes onto the GPU (optimizer state included)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-cuda-ckpt-'));
  try {
    const ckpt = join(dir, 'run.ckpt');
    const runOn = async (epochs: number, stopAfter?: number) => {
      const m = net(5).to(GPU);
      const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9 });
      const r = await train({ model: m, optimizer: opt, data: source(), epochs, loss: crossEntropy, task: 'classification', seed: 1, checkpoint: ckpt, stopAfter });
      const w = m.parameters()[0].toArray();
      for (const [, t] of opt.stateTensors()) assert.equal(t.device, GPU);
      opt.dispose();
      m.dispose();
      return { r, w };
    };
    await runOn(2, 1);
    const resumed = await runOn(2);
    assert.equal(resumed.r.resumedFrom, 1);
    rmSync(ckpt);
    const straight = await runOn(2);
    close(resumed.w, straight.w, 1e-5, 'weights after resuming');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('leaks no tensors', checkLeaks);
