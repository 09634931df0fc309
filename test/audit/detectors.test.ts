import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { KeyedStream } from '../../src/crypto/index.ts';
import { type DecoyMode, drawDecoys } from '../../src/protect/decoys.ts';
import {
  type PublishedLayer,
  contextResidual,
  fitLogistic,
  flagSuspects,
  percentileRanks,
  precisionAt,
  rocAuc,
  runDetectors,
  scoreDetectors,
  separability,
  spatialAutocorrelation,
} from '../../src/audit/index.ts';
import { testKey } from '../protect/fixtures.ts';

const checkLeaks = trackLeaks();

test('rocAuc: perfect, reversed, ties and chance', () => {
  assert.equal(rocAuc([1, 2, 3, 4], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([4, 3, 2, 1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([1, 1, 1, 1], [0, 1, 0, 1]), 0.5);
  assert.equal(rocAuc([1, 3, 2, 4], [0, 1, 0, 1]), 1);
  assert.equal(rocAuc([1, 3, 2, 4], [1, 0, 0, 1]), 0.5);
  assert.ok(Number.isNaN(rocAuc([1, 2], [0, 0])));
  assert.equal(separability(0.2), 0.8);
  assert.equal(precisionAt([5, 1, 4, 2], [1, 0, 0, 1], 2), 0.5);
  assert.deepEqual(Array.from(percentileRanks([10, 30, 20, 20])), [0.125, 0.875, 0.5, 0.5]);
});

test('spatial autocorrelation: smooth kernels positive, checkerboards negative', () => {
  const smooth = [1, 2, 3, 2, 3, 4, 3, 4, 5];
  const checker = [1, -1, 1, -1, 1, -1, 1, -1, 1];
  const r = spatialAutocorrelation({ values: Float64Array.from([...smooth, ...checker]), shape: [1, 2, 3, 3] });
  assert.ok(r[0] > 0.3, `smooth ${r[0]}`);
  assert.ok(r[1] < -0.9, `checkerboard ${r[1]}`);
});

test('the row-and-column residual finds a kernel unlike its neighbours', () => {
  const a = 16,
    b = 16;
  const z = new KeyedStream(testKey(5), 'ctx').normal(a * b * 9);
  const v = new Float64Array(a * b * 9);
  // Row scales vary 30×: a kernel of typical layer-wide size in a small row stands out.
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let q = 0; q < 9; q++) v[(i * b + j) * 9 + q] = 1.25 ** i * 0.1 * z[(i * b + j) * 9 + q];
  for (let q = 0; q < 9; q++) v[(0 * b + 3) * 9 + q] = z[q];
  const l2 = Float64Array.from({ length: a * b }, (_, k) => Math.hypot(...v.subarray(k * 9, (k + 1) * 9)));
  const r = contextResidual({ values: v, shape: [a, b, 3, 3] }, l2);
  const rank = [...r].sort((x, y) => y - x).indexOf(r[3]);
  assert.equal(rank, 0, 'the planted kernel has the largest residual');
});

test('fitLogistic separates separable classes', () => {
  const rows = Array.from({ length: 200 }, (_, i) => Float64Array.from([1, i < 100 ? -1 - (i % 7) / 10 : 1 + (i % 5) / 10]));
  const labels = Uint8Array.from({ length: 200 }, (_, i) => (i < 100 ? 0 : 1));
  const w = fitLogistic(rows, labels, 1e-2);
  assert.ok(w[1] > 1, `slope ${w[1]}`);
});

// A layer of correlated kernels with heavy-tailed sizes and row/column scales, like a trained one.
function syntheticLayer(seed: number, a = 32, b = 32): PublishedLayer {
  const s = new KeyedStream(testKey(seed), 'layer');
  const u = s.normal(a * b * 9);
  const size = s.normal(a * b);
  const rowScale = s.normal(a);
  const colScale = s.normal(b);
  const values = new Float64Array(a * b * 9);
  for (let k = 0; k < a * b; k++) {
    const scale = Math.exp(0.5 * size[k] + 0.4 * rowScale[Math.floor(k / b)] + 0.4 * colScale[k % b]);
    // Neighbouring positions share a common component: a smooth, correlated kernel.
    for (let q = 0; q < 9; q++) values[k * 9 + q] = scale * (u[k * 9 + q] + 0.8 * u[k * 9 + ((q + 1) % 9)] + 0.3);
  }
  return { name: `l${seed}.weight`, shape: [a, b, 3, 3], values };
}

function plant(layer: PublishedLayer, mode: DecoyMode, seed: number): { layer: PublishedLayer; truth: Uint8Array } {
  const kernels = layer.shape[0] * layer.shape[1];
  const s = new KeyedStream(testKey(seed + 50), 'plant');
  const perm = s.permutation(kernels);
  const truth = new Uint8Array(kernels);
  const count = Math.floor(kernels * 0.1);
  for (let i = 0; i < count; i++) truth[perm[i]] = 1;
  const d = drawDecoys(layer.values, layer.shape, truth, s, mode);
  const values = Float64Array.from(layer.values);
  let j = 0;
  for (let k = 0; k < kernels; k++) if (truth[k]) values.set(d.subarray(j * 9, (j++ + 1) * 9), k * 9);
  return { layer: { ...layer, values }, truth };
}

function suite(mode: DecoyMode) {
  const planted = [1, 2].map((i) => plant(syntheticLayer(i), mode, i));
  const layers = planted.map((p) => p.layer);
  const counts = planted.map((p) => p.truth.reduce((x, y) => x + y, 0));
  const scores = runDetectors(layers, { mode, counts, seed: 3 });
  const reports = scoreDetectors(
    layers,
    scores,
    planted.map((p) => p.truth),
  );
  return { reports, layers, counts, truth: planted.map((p) => p.truth) };
}

test('the suite finds per-position decoys (the covariance and learned detectors)', () => {
  const { reports } = suite('position');
  const by = new Map(reports.map((r) => [r.detector, r]));
  assert.ok(by.get('diagonalVsFull')!.pooledSeparability > 0.75, `diagonalVsFull ${by.get('diagonalVsFull')!.pooledSeparability}`);
  assert.ok(by.get('classifier')!.pooledSeparability > 0.75, `classifier ${by.get('classifier')!.pooledSeparability}`);
  for (const r of reports) assert.equal(r.layers.length, 2);
});

test('context decoys at random positions stay near chance for every detector', () => {
  const { reports } = suite('context');
  const worst = reports.reduce((m, r) => (r.pooledSeparability > m.pooledSeparability ? r : m));
  // 204 decoys against 1844 genuine kernels: chance separability is about 0.5 + 0.03.
  assert.ok(worst.pooledSeparability < 0.62, `${worst.detector}: ${worst.pooledSeparability}`);
});

test('flagSuspects flags the decoy count of each layer, mostly decoys for per-position decoys', () => {
  const { layers, counts, truth } = suite('position');
  const flags = flagSuspects(layers, 'diagonalVsFull', { mode: 'position', counts });
  layers.forEach((l, i) => {
    const f = flags.get(l.name)!;
    assert.equal(f.length, counts[i]);
    const hits = [...f].filter((k) => truth[i][k]).length;
    assert.ok(hits / f.length > 0.3, `precision ${hits / f.length} (chance 0.1)`);
  });
});

test('leaks no tensors', checkLeaks);
