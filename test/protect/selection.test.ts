import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import {
  type ConvLayer,
  type LayerSelection,
  checkFractions,
  checkStrictTiers,
  convLayerOf,
  defaultFractions,
  layerScores,
  prefixCount,
  rankKernels,
  selectKernels,
  selectedCount,
  tierCounts,
} from '../../src/protect/internals.ts';

const checkLeaks = trackLeaks();

function layer(name: string, a: number, b: number): ConvLayer {
  return convLayerOf(name, { dtype: 'F32', shape: [a, b, 3, 3], data: new Uint8Array(a * b * 36) });
}

test('selectedCount is ⌊N·ratio⌋ + 1, capped at N; ratio 1 is every kernel', () => {
  assert.equal(selectedCount(100, 0.08), 9);
  assert.equal(selectedCount(100, 0.29), 30); // 100 × 0.29 = 28.999… in floating point
  assert.equal(selectedCount(48, 0.08), 4);
  assert.equal(selectedCount(10, 0), 1);
  assert.equal(selectedCount(1, 0.5), 1);
  assert.equal(selectedCount(4096, 0.1), 410);
  assert.equal(selectedCount(10, 1), 10, 'ratio 1 = dense: every kernel');
  assert.equal(selectedCount(4096, 0.999), 4092, 'not every kernel below 1');
  assert.throws(() => selectedCount(10, 1.01), /ratio/);
  assert.throws(() => selectedCount(10, -0.1), /ratio/);
});

test('ranking: descending score, ties by ascending index, NaN refused', () => {
  const r = rankKernels(layerScores([2, 3], Float32Array.from([1, 5, 5, 0, 5, -1])));
  assert.deepEqual([...r], [1, 2, 4, 0, 3, 5]);
  assert.throws(() => rankKernels(layerScores([1, 2], Float32Array.from([1, NaN]))), /NaN/);
});

test('selection takes the top ⌊N·ratio⌋ + 1 of each layer, deterministically', () => {
  const layers = [layer('a.weight', 8, 8), layer('b.weight', 4, 3)];
  const scores = new Map([
    [
      'a.weight',
      layerScores(
        [8, 8],
        Float32Array.from({ length: 64 }, (_, i) => (i * 37) % 64),
      ),
    ],
    [
      'b.weight',
      layerScores(
        [4, 3],
        Float32Array.from({ length: 12 }, (_, i) => -i),
      ),
    ],
  ]);
  const s1 = selectKernels(layers, scores, 0.1);
  const s2 = selectKernels(layers, scores, 0.1);
  assert.equal(s1[0].ranked.length, 7);
  assert.equal(s1[1].ranked.length, 2);
  assert.deepEqual([...s1[1].ranked], [0, 1]);
  const a = scores.get('a.weight')!.scores;
  for (let j = 1; j < s1[0].ranked.length; j++) assert.ok(a[s1[0].ranked[j - 1]] >= a[s1[0].ranked[j]]);
  // Every unselected kernel scores no higher than the last selected one.
  const last = a[s1[0].ranked[6]];
  for (let k = 0; k < 64; k++) if (!s1[0].ranked.includes(k)) assert.ok(a[k] <= last);
  assert.deepEqual(
    s1.map((s) => [...s.ranked]),
    s2.map((s) => [...s.ranked]),
  );
});

test('selection refuses scores of the wrong shape or a missing layer', () => {
  const layers = [layer('a.weight', 2, 2)];
  assert.throws(() => selectKernels(layers, new Map([['a.weight', layerScores([1, 4], new Float32Array(4))]]), 0.1), /wrong model/);
  assert.throws(() => selectKernels(layers, new Map(), 0.1), /nothing for layer a.weight/);
});

test('default tier fractions: 0.6 + 0.4·m/M, top tier exactly 1', () => {
  assert.deepEqual(defaultFractions(1), [1]);
  const f = defaultFractions(3);
  assert.equal(f.length, 3);
  assert.ok(Math.abs(f[0] - (0.6 + 0.4 / 3)) < 1e-12);
  assert.ok(Math.abs(f[1] - (0.6 + 0.8 / 3)) < 1e-12);
  assert.equal(f[2], 1);
  assert.equal(prefixCount(21, f[0]), 15);
  assert.equal(prefixCount(21, f[1]), 18);
  assert.equal(prefixCount(21, 1), 21);
  assert.equal(prefixCount(10, 0.8), 8);
  assert.equal(prefixCount(3, 1 / 3), 1);
  assert.throws(() => checkFractions([0.5, 0.5, 1]), /rise strictly/);
  assert.throws(() => checkFractions([0.5, 0.9]), /fraction 1/);
  assert.throws(() => defaultFractions(0), /tiers/);
});

test('tier prefixes are nested and strictly ordered', () => {
  const sel: LayerSelection[] = [
    { layer: layer('a.weight', 10, 10), ranked: Int32Array.from({ length: 11 }, (_, i) => 90 - i) },
    { layer: layer('b.weight', 5, 5), ranked: Int32Array.from({ length: 3 }, (_, i) => i) },
  ];
  for (const M of [1, 2, 3, 4]) {
    const counts = tierCounts(sel, defaultFractions(M));
    for (const c of counts) {
      assert.equal(c.length, M + 1);
      assert.equal(c[0], 0);
      assert.equal(c[M], c === counts[0] ? 11 : 3);
      for (let m = 1; m <= M; m++) assert.ok(c[m] >= c[m - 1]);
    }
    const totals = Array.from({ length: M + 1 }, (_, m) => counts.reduce((n, c) => n + c[m], 0));
    for (let m = 1; m <= M; m++) assert.ok(totals[m] > totals[m - 1]);
  }
  // One kernel per layer cannot make 3 strictly ordered tiers.
  const tiny: LayerSelection[] = [{ layer: layer('c.weight', 2, 2), ranked: Int32Array.from([3]) }];
  assert.throws(() => checkStrictTiers(tiny, defaultFractions(3)), /no more kernels/);
});

test('leaks no tensors', checkLeaks);
