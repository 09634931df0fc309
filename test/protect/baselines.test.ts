import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { convLayerOf, rankKernels, weightImportance, weightScores } from '../../src/protect/internals.ts';
import { bytesToFloat64, float64ToBytes } from '../../src/protect/layers.ts';

const checkLeaks = trackLeaks();

// A hand-made layer of 2×3 kernels of 2×2 values. Kernel means: 1, −4, 0.5, 2, −0.25, 3.
const KERNELS = [
  [1, 1, 1, 1],
  [-4, -4, -4, -4],
  [2, -1, 2, -1],
  [2, 2, 2, 2],
  [-1, 0, 0, 0],
  [9, -3, 3, 3],
];
const values = Float64Array.from(KERNELS.flat());
const entry = { dtype: 'F32' as const, shape: [2, 3, 2, 2], data: float64ToBytes(values, 'F32') };
const layer = convLayerOf('conv.weight', entry);
const rank = (s: ReturnType<typeof weightScores>) => [...rankKernels(s)];

test('magnitude: |kernel mean| descending', () => {
  const s = weightScores('magnitude', layer, values);
  assert.deepEqual(Array.from(s.scores), [1, 4, 0.5, 2, 0.25, 3]);
  assert.deepEqual(rank(s), [1, 5, 3, 0, 2, 4]);
});

test('magnitude-asc: smallest |kernel mean| first', () => {
  assert.deepEqual(rank(weightScores('magnitude-asc', layer, values)), [4, 2, 0, 3, 5, 1]);
});

test('closest-mean: kernel mean closest to the mean of the kernel means first', () => {
  // Mean of the means: (1 − 4 + 0.5 + 2 − 0.25 + 3) / 6 = 0.375.
  // Distances: 0.625, 4.375, 0.125, 1.625, 0.625, 2.625 (a tie between kernels 0 and 4).
  assert.deepEqual(rank(weightScores('closest-mean', layer, values)), [2, 0, 4, 3, 5, 1]);
});

test('l1: Σ|w| descending', () => {
  const s = weightScores('l1', layer, values);
  assert.deepEqual(Array.from(s.scores), [4, 16, 6, 8, 1, 18]);
  assert.deepEqual(rank(s), [5, 1, 3, 2, 0, 4]);
});

test('random: seeded, reproducible, different seeds differ', () => {
  const a = weightScores('random', layer, values, 1);
  const b = weightScores('random', layer, values, 1);
  const c = weightScores('random', layer, values, 2);
  assert.deepEqual(Array.from(a.scores), Array.from(b.scores));
  assert.notDeepEqual(Array.from(a.scores), Array.from(c.scores));
  assert.ok(a.scores.every((v) => v >= 0 && v < 1));
});

test('weightImportance covers every layer with [A, B] maps, in any float dtype', () => {
  for (const dtype of ['F32', 'F64', 'F16', 'BF16'] as const) {
    const e = { dtype, shape: [2, 3, 2, 2], data: float64ToBytes(values, dtype) };
    assert.deepEqual(Array.from(bytesToFloat64(e.data, dtype)), Array.from(values)); // all exactly representable
    const m = weightImportance('l1', new Map([['conv.weight', e]]), [convLayerOf('conv.weight', e)]);
    assert.deepEqual(m.get('conv.weight')!.shape, [2, 3]);
    assert.deepEqual(Array.from(m.get('conv.weight')!.scores), [4, 16, 6, 8, 1, 18]);
  }
});

test('leaks no tensors', checkLeaks);
