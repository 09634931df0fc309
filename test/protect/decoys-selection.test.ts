// The balanced selection (selection.ts), which keeps the selected positions from pointing at the decoys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { convLayerOf, layerScores, selectLayer } from '../../src/protect/internals.ts';
import { float64ToBytes } from '../../src/protect/layers.ts';

const checkLeaks = trackLeaks();

// 16×16 kernels whose importance is dominated by the row: 'top' would take whole rows.
const A = 16,
  B = 16;
const entry = { dtype: 'F32' as const, shape: [A, B, 3, 3], data: float64ToBytes(new Float64Array(A * B * 9), 'F32') };
const layer = convLayerOf('c.weight', entry);
const scores = layerScores(
  [A, B],
  Float32Array.from({ length: A * B }, (_, k) => 100 * Math.floor(k / B) + (k % B)),
);

test("'top' takes the best rows whole; 'balanced' caps every row and column, most important first", () => {
  const top = selectLayer(layer, scores, 0.24, 'top').ranked;
  const bal = selectLayer(layer, scores, 0.24, 'balanced').ranked;
  assert.equal(top.length, 62);
  assert.equal(bal.length, 62);
  assert.ok(new Set([...top].map((k) => Math.floor(k / B))).size <= 4, 'top: a few rows');
  const rows = new Int32Array(A);
  const cols = new Int32Array(B);
  for (const k of bal) {
    rows[Math.floor(k / B)]++;
    cols[k % B]++;
  }
  assert.ok(Math.max(...rows) <= 4 && Math.max(...cols) <= 4, `rows ${rows}, cols ${cols}`);
  const s = scores.scores;
  for (let i = 1; i < bal.length; i++) assert.ok(s[bal[i - 1]] >= s[bal[i]], 'ranking order');
  assert.equal(new Set(bal).size, bal.length);
  // A tiny layer whose caps cannot hold still gets its count.
  const tiny = convLayerOf('t.weight', { ...entry, shape: [1, 3, 3, 3], data: float64ToBytes(new Float64Array(27), 'F32') });
  assert.equal(selectLayer(tiny, layerScores([1, 3], Float32Array.from([3, 2, 1])), 0.5, 'balanced').ranked.length, 2);
});

test('leaks no tensors', checkLeaks);
