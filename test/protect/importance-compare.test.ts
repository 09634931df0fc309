// Comparing importance maps (compare.ts): Spearman's ρ with ties, and the top-r overlap as
// selection counts kernels (⌊N·r⌋ + 1 per layer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { compareImportance, layerScores, spearman, topOverlap } from '../../src/protect/internals.ts';

const checkLeaks = trackLeaks();

test('spearman: ±1 for monotone maps, ties averaged, the textbook value otherwise', () => {
  const a = Float32Array.from([1, 2, 3, 4, 5]);
  assert.ok(Math.abs(spearman(a, Float32Array.from([10, 20, 30, 40, 50])) - 1) < 1e-12);
  assert.ok(Math.abs(spearman(a, Float32Array.from([5, 4, 3, 2, 1])) + 1) < 1e-12);
  // Ranks (1 2 3 4 5) against (2 1 4 3 5): 1 − 6·Σd²/(n(n²−1)) = 1 − 6·4/120 = 0.8.
  assert.ok(Math.abs(spearman(a, Float32Array.from([2, 1, 4, 3, 5])) - 0.8) < 1e-12);
  // Ties: (1, 1, 2) against (1, 2, 3) is Pearson's r of ranks (1.5, 1.5, 3) and (1, 2, 3).
  assert.ok(Math.abs(spearman(Float32Array.from([1, 1, 2]), Float32Array.from([1, 2, 3])) - Math.sqrt(3) / 2) < 1e-12);
  assert.ok(Number.isNaN(spearman(Float32Array.from([1, 1]), Float32Array.from([1, 2]))));
  assert.throws(() => spearman(a, Float32Array.from([1])), /5 and 1 scores/);
});

test('topOverlap and compareImportance count the kernels selection would take', () => {
  const a = layerScores([2, 5], Float32Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]));
  const b = layerScores([2, 5], Float32Array.from([9, 0, 7, 6, 5, 4, 3, 2, 1, 8]));
  // ratio 0.1: ⌊1⌋ + 1 = 2 kernels: a takes {0, 1}, b takes {0, 9}.
  assert.equal(topOverlap(a, b, 0.1), 0.5);
  assert.equal(topOverlap(a, a, 0.1), 1);
  const c = compareImportance(new Map([['l', a]]), new Map([['l', b]]), [0.1, 0.3]);
  assert.equal(c.overlap['0.1'], 0.5);
  assert.equal(c.overlap['0.3'], 0.75); // 4 kernels: {0,1,2,3} and {0,9,2,3}
  assert.equal(c.layers[0].kernels, 10);
  assert.throws(() => compareImportance(new Map([['l', a]]), new Map(), [0.1]), /no layer 'l'/);
});

test('leaks no tensors', checkLeaks);
