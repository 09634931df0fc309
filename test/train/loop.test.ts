// The training loop on synthetic data: it learns, and a run interrupted and resumed from its
// checkpoint ends exactly where an uninterrupted run ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, tensor } from '../../src/tensor/index.ts';
import { crossEntropy, equal } from '../../src/ops/index.ts';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, SGD, Sequential, multiStep } from '../../src/nn/index.ts';
import type { Batch, BatchSource } from '../../src/data/batch-source.ts';
import { train } from '../../src/train/loop.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-train-'));

/** Two classes of 8×8 images: a bright square top-left or bottom-right, plus noise. */
function syntheticSource(count: number, batch: number, seed: number): BatchSource {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const images = new Float32Array(count * 64);
  const labels = new BigInt64Array(count);
  for (let i = 0; i < count; i++) {
    const cls = i % 2;
    labels[i] = BigInt(cls);
    for (let p = 0; p < 64; p++) {
      const r = Math.floor(p / 8),
        c = p % 8;
      const inSquare = cls === 0 ? r < 4 && c < 4 : r >= 4 && c >= 4;
      images[i * 64 + p] = (inSquare ? 1 : 0) + (rand() - 0.5);
    }
  }
  return {
    batchCount: Math.ceil(count / batch),
    async *epoch(e: number): AsyncIterable<Batch> {
      // a per-epoch order that depends only on the epoch, as the real loader's does
      const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => ((a * 7919 + e * 104729) % count) - ((b * 7919 + e * 104729) % count));
      for (let b = 0; b < count; b += batch) {
        const idx = order.slice(b, b + batch);
        const x = new Float32Array(idx.length * 64);
        const y = new BigInt64Array(idx.length);
        idx.forEach((j, k) => {
          x.set(images.subarray(j * 64, j * 64 + 64), k * 64);
          y[k] = labels[j];
        });
        yield { x: tensor(x, [idx.length, 1, 8, 8]), y: tensor(y, [idx.length]) };
      }
    },
  };
}

function smallNet() {
  return new Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(64, 2));
}

test('a tiny network learns: loss drops clearly and accuracy rises', async () => {
  manualSeed(0);
  const model = smallNet();
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const { history } = await train({
    model,
    optimizer: opt,
    data: syntheticSource(256, 32, 1),
    epochs: 4,
    task: 'classification',
    loss: (out, y) => crossEntropy(out, y),
    seed: 3,
  });
  assert.equal(history.length, 4);
  assert.ok(history[3].trainLoss < 0.5 * history[0].trainLoss, `loss ${history[0].trainLoss} → ${history[3].trainLoss}`);
  assert.ok(history[3].trainAccuracy > 0.95, `accuracy ${history[3].trainAccuracy}`);
  opt.dispose();
  model.dispose();
});

test('interrupted and resumed training equals an uninterrupted run, bit for bit', async () => {
  const run = async (checkpoint: string, stops: number[]) => {
    manualSeed(123);
    const model = smallNet();
    const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const common = {
      model,
      optimizer: opt,
      data: syntheticSource(128, 16, 9),
      epochs: 3,
      task: 'classification' as const,
      loss: (out: ReturnType<typeof tensor>, y: ReturnType<typeof tensor>) => crossEntropy(out, y),
      schedule: multiStep(0.05, [2]),
      seed: 7,
      checkpoint,
      logFile: `${checkpoint}.json`,
    };
    let result;
    for (const stopAfter of stops) {
      // a fresh model and optimizer each time: what a restarted process has
      result = await train({ ...common, stopAfter });
    }
    return { model, opt, result: result! };
  };
  const whole = await run(join(dir, 'whole.ckpt'), [3]);
  // the second call starts new objects, as a restarted process would
  const interrupted = await runFresh(join(dir, 'split.ckpt'));
  assert.equal(interrupted.resumedFrom, 1);
  for (const [name, t] of whole.model.stateDict()) assert.ok(equal(t, interrupted.model.stateDict().get(name)!), name);
  assert.deepEqual(
    interrupted.history.map((h) => h.trainLoss),
    whole.result.history.map((h) => h.trainLoss),
  );
  const log = JSON.parse(readFileSync(join(dir, 'split.ckpt.json'), 'utf8'));
  assert.equal(log.history.length, 3);
  whole.opt.dispose();
  whole.model.dispose();
  interrupted.opt.dispose();
  interrupted.model.dispose();

  async function runFresh(checkpoint: string) {
    const first = await run(checkpoint, [1]);
    first.opt.dispose();
    first.model.dispose();
    manualSeed(999); // a different initialisation: the checkpoint must override it
    const model = smallNet();
    const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const r = await train({
      model,
      optimizer: opt,
      data: syntheticSource(128, 16, 9),
      epochs: 3,
      task: 'classification',
      loss: (out, y) => crossEntropy(out, y),
      schedule: multiStep(0.05, [2]),
      seed: 7,
      checkpoint,
      logFile: `${checkpoint}.json`,
    });
    return { model, opt, history: r.history, resumedFrom: r.resumedFrom };
  }
});

test('leaks no tensors', checkLeaks);
