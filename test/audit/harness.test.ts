import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import type { BatchSource } from '../../src/data/batch-source.ts';
import { correctCount } from '../../src/train/metrics.ts';
import { convLayers } from '../../src/protect/index.ts';
import { bytesToFloat64 } from '../../src/protect/layers.ts';
import { type AttackRun, attackHarness, resetKernels, startTag } from '../../src/audit/index.ts';
import { fileOf } from '../protect/fixtures.ts';

const checkLeaks = trackLeaks();

// 8×8 RGB inputs whose label is the brightest channel (3 of resnet8's 10 classes).
function images(n: number, seed: number): { x: Float32Array; y: number[] } {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = new Float32Array(n * 3 * 64);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rnd() * 3);
    y.push(c);
    for (let ch = 0; ch < 3; ch++) for (let p = 0; p < 64; p++) x[(i * 3 + ch) * 64 + p] = rnd() + (ch === c ? 0.8 : 0);
  }
  return { x, y };
}

function source(n: number, batch = 8): BatchSource {
  const { x, y } = images(n, 11);
  return {
    batchCount: Math.ceil(n / batch),
    *epoch() {
      for (let i = 0; i < n; i += batch) {
        const m = Math.min(batch, n - i);
        yield { x: tensor(x.subarray(i * 192, (i + m) * 192), [m, 3, 8, 8]), y: tensor(Int32Array.from(y.slice(i, i + m)), [m], 'int64') };
      }
    },
  };
}

const held = images(64, 99);
async function accuracy(m: { forward: (x: ReturnType<typeof tensor>) => ReturnType<typeof tensor> }): Promise<number> {
  return noGrad(() => scope(() => correctCount(m.forward(tensor(held.x, [64, 3, 8, 8])), tensor(Int32Array.from(held.y), [64], 'int64')))) / 64;
}

test('resetKernels: zeros, the mean of the kept kernels, or a fresh draw, only where flagged', () => {
  manualSeed(3);
  const m = modelSpec('resnet8').create();
  const file = fileOf(m);
  m.dispose();
  const layer = convLayers(file.tensors)[1];
  const flagged = new Map([[layer.name, Int32Array.from([0, 5])]]);
  const before = bytesToFloat64(file.tensors.get(layer.name)!.data, layer.dtype);
  for (const to of ['zeros', 'mean', 'init'] as const) {
    const after = bytesToFloat64(resetKernels(file, flagged, to).tensors.get(layer.name)!.data, layer.dtype);
    assert.deepEqual(Array.from(after.subarray(9, 45)), Array.from(before.subarray(9, 45)), 'kernel 1..4 untouched');
    if (to === 'zeros') assert.ok(after.subarray(0, 9).every((v) => v === 0));
    if (to === 'mean') assert.deepEqual(Array.from(after.subarray(0, 9)), Array.from(after.subarray(45, 54)));
    if (to === 'init') assert.ok(after.subarray(0, 9).some((v, q) => v !== before[q] && v !== 0));
  }
});

/** One N of 16 images and 4 steps on resnet8: the runs the reuse tests count. */
const ONE_SMALL_RUN = { architecture: 'resnet8', task: 'classification' as const, sizes: [16], steps: 4, data: (n: number) => source(n), metric: accuracy };

/** A resnet8 file of its own random weights. */
function fileOfSeed(seed: number) {
  manualSeed(seed);
  const m = modelSpec('resnet8').create();
  const f = fileOf(m);
  m.dispose();
  return f;
}

test('attackHarness: every run at every N, the head start, and a restart that trains nothing', async () => {
  manualSeed(5);
  const m = modelSpec('resnet8').create();
  const published = fileOf(m);
  m.dispose();
  const layer = convLayers(published.tensors)[0];
  const flagged = new Map([[layer.name, Int32Array.from([0, 1, 2])]]);
  const stored = new Map<string, AttackRun>();
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-harness-'));
  let trained = 0;
  const o = {
    architecture: 'resnet8',
    task: 'classification' as const,
    published,
    publicWeights: published,
    flagged,
    sizes: [16, 32],
    steps: 4,
    data: (n: number) => source(n),
    metric: accuracy,
    checkpoints: dir,
    store: { get: (k: string) => stored.get(k), set: (k: string, r: AttackRun) => void stored.set(k, r) },
    onRun: (_r: AttackRun, cached: boolean) => {
      if (!cached) trained++;
    },
  };
  const r = await attackHarness(o);
  assert.equal(r.runs.length, 8);
  assert.deepEqual([...new Set(r.runs.map((x) => x.start))].sort(), ['public', 'published', 'replaced', 'scratch']);
  for (const run of r.runs) {
    assert.equal(run.steps, 4);
    assert.ok(run.after >= 0 && run.after <= 1);
    assert.equal(run.before === null, run.start === 'scratch');
  }
  for (const n of ['16', '32']) {
    const at = r.runs.filter((x) => String(x.images) === n);
    const best = (s: string[]) => Math.max(...at.filter((x) => s.includes(x.start)).map((x) => x.after));
    assert.equal(r.headStart[n], best(['published', 'replaced']) - best(['scratch', 'public']));
  }
  assert.equal(trained, 8);
  assert.ok(readdirSync(dir).length > 0, 'checkpoints written');
  trained = 0;
  const again = await attackHarness(o);
  assert.equal(trained, 0, 'a restart takes every run from the store');
  assert.deepEqual(again.headStart, r.headStart);
});

test("attackHarness never resumes from the checkpoint of another file's run (e.g. another tier)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-harness-ckpt-'));
  const epochsTrained = async (published: ReturnType<typeof fileOfSeed>) => {
    let epochs = 0;
    await attackHarness({
      ...ONE_SMALL_RUN,
      published,
      checkpoints: dir,
      starts: ['published'],
      onEpoch: () => epochs++,
    });
    return epochs;
  };
  const a = fileOfSeed(1);
  assert.equal(await epochsTrained(a), 2);
  assert.equal(await epochsTrained(a), 0, 'the same file resumes from its finished checkpoint');
  assert.equal(await epochsTrained(fileOfSeed(2)), 2, 'another file trains from its own start');
});

test('startTag: the weights count, the sealed sections (fresh nonces each protection) do not', () => {
  const f = fileOfSeed(1);
  const sealed = (fill: number) => ({ tensors: new Map([...f.tensors, ['__nnlock__/tier-1', { dtype: 'U8' as const, shape: [4], data: new Uint8Array(4).fill(fill) }]]), metadata: f.metadata });
  assert.equal(startTag(sealed(1)), startTag(sealed(2)));
  assert.equal(startTag(sealed(1)), startTag(f));
  assert.notEqual(startTag(fileOfSeed(2)), startTag(f));
});

test("attackHarness never takes another file's stored run (a rerun after the decoys changed)", async () => {
  const stored = new Map<string, AttackRun>();
  const trainedRuns = async (published: ReturnType<typeof fileOfSeed>) => {
    let trained = 0;
    await attackHarness({
      ...ONE_SMALL_RUN,
      published,
      starts: ['published', 'scratch'],
      store: { get: (k) => stored.get(k), set: (k, v) => void stored.set(k, v) },
      onRun: (_r, cached) => {
        if (!cached) trained++;
      },
    });
    return trained;
  };
  assert.equal(await trainedRuns(fileOfSeed(1)), 2);
  assert.equal(await trainedRuns(fileOfSeed(1)), 0, 'the same file: both runs from the store');
  assert.equal(await trainedRuns(fileOfSeed(2)), 1, 'another file: its published run again, the scratch baseline from the store');
});

test('attackHarness on a denoiser: MSE on the residual, Adam, a metric in dB, and Adam runs stored apart from SGD ones', async () => {
  manualSeed(6);
  const m = modelSpec('dncnn-3').create();
  const published = fileOf(m);
  m.dispose();
  // 8×8 grey patches; the target is the residual (noise) the denoiser predicts.
  const patches = (n: number): BatchSource => ({
    batchCount: Math.ceil(n / 4),
    *epoch() {
      for (let i = 0; i < n; i += 4) {
        const k = Math.min(4, n - i);
        const noise = Float32Array.from({ length: k * 64 }, (_, j) => 0.1 * Math.sin(7 * (i * 64 + j)));
        const clean = Float32Array.from({ length: k * 64 }, (_, j) => 0.5 + 0.3 * Math.cos(j / 9));
        yield {
          x: tensor(
            clean.map((v, j) => v + noise[j]),
            [k, 1, 8, 8],
          ),
          y: tensor(noise, [k, 1, 8, 8]),
        };
      }
    },
  });
  const stored = new Map<string, AttackRun>();
  let psnrCalls = 0;
  const r = await attackHarness({
    architecture: 'dncnn-3',
    task: 'denoising',
    published,
    sizes: [8],
    steps: 2,
    optimizer: 'adam',
    lr: { fineTune: 1e-3, scratch: 1e-3 },
    data: patches,
    metric: async () => 20 + psnrCalls++,
    store: { get: (k) => stored.get(k), set: (k, v) => void stored.set(k, v) },
    starts: ['published', 'scratch'],
  });
  assert.equal(r.runs.length, 2);
  assert.ok(
    [...stored.keys()].every((k) => k.endsWith('|adam')),
    'Adam runs have their own keys',
  );
  const pub = r.runs.find((x) => x.start === 'published')!;
  assert.equal(pub.before, 20);
  assert.equal(pub.after, 21);
  assert.equal(r.headStart['8'], pub.after - r.runs.find((x) => x.start === 'scratch')!.after);
});

test('leaks no tensors', checkLeaks);
