import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { convLayerOf, decoyLayer, positionStats } from '../../src/protect/internals.ts';
import { bytesToFloat64, float64ToBytes } from '../../src/protect/layers.ts';
import { KeyedStream } from '../../src/crypto/index.ts';
import { changedKernels, testKey } from './fixtures.ts';

const checkLeaks = trackLeaks();

// A layer of 64×64 = 4096 kernels of 3×3 whose 9 positions have different Gaussians.
const A = 64,
  B = 64,
  K = 9;
const MEANS = [0.5, -0.2, 0, 0.1, 1, -1, 0.3, 0.05, -0.4];
const STDS = [0.1, 0.3, 0.05, 1, 0.2, 0.5, 0.02, 0.7, 0.15];
const z = new KeyedStream(testKey(99), 'fixture').normal(A * B * K);
const values = Float64Array.from(z, (v, i) => MEANS[i % K] + STDS[i % K] * v);
const entry = { dtype: 'F32' as const, shape: [A, B, 3, 3], data: float64ToBytes(values, 'F32') };
const layer = convLayerOf('features.0.weight', entry);
const modelId = new Uint8Array(16).fill(3);
// Every other kernel: 2048 decoys.
const chosen = Int32Array.from({ length: 2048 }, (_, i) => 4095 - 2 * i);

test('positionStats: per-position mean and std over all kernels', () => {
  const s = positionStats(Float64Array.from([1, 10, 3, 20]), 2, 2);
  assert.deepEqual(Array.from(s.mean), [2, 15]);
  assert.ok(Math.abs(s.std[0] - Math.SQRT2) < 1e-12);
  assert.ok(Math.abs(s.std[1] - Math.sqrt(50)) < 1e-12);
  assert.deepEqual(Array.from(positionStats(Float64Array.from([4, 5]), 1, 2).std), [0, 0]);
});

test('decoys replace exactly the chosen kernels', () => {
  const out = decoyLayer(layer, entry, chosen, testKey(), modelId);
  assert.deepEqual(
    changedKernels(entry.data, out, layer.kernelBytes),
    [...chosen].sort((a, b) => a - b),
  );
  assert.equal(out.byteLength, entry.data.byteLength);
});

test("decoy statistics follow the layer's per-position Gaussian", () => {
  const out = bytesToFloat64(decoyLayer(layer, entry, chosen, testKey(), modelId), 'F32');
  const decoys = new Float64Array(chosen.length * K);
  [...chosen].forEach((k, j) => decoys.set(out.subarray(k * K, (k + 1) * K), j * K));
  const layerStats = positionStats(values, A * B, K);
  const decoyStats = positionStats(decoys, chosen.length, K);
  for (let p = 0; p < K; p++) {
    const sd = layerStats.std[p];
    // 2048 draws: the mean's standard error is sd/45, the std's about sd/64.
    assert.ok(Math.abs(decoyStats.mean[p] - layerStats.mean[p]) < 0.1 * sd, `position ${p}: mean ${decoyStats.mean[p]} vs ${layerStats.mean[p]}`);
    assert.ok(Math.abs(decoyStats.std[p] / sd - 1) < 0.08, `position ${p}: std ${decoyStats.std[p]} vs ${sd}`);
  }
});

test('decoys come from the keyed stream: same key same decoys, other key or model other decoys', () => {
  const a = decoyLayer(layer, entry, chosen, testKey(1), modelId);
  const b = decoyLayer(layer, entry, chosen, testKey(1), modelId);
  const c = decoyLayer(layer, entry, chosen, testKey(2), modelId);
  const d = decoyLayer(layer, entry, chosen, testKey(1), new Uint8Array(16).fill(4));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, d);
  // The draw order is by kernel index, whatever order the ranking lists them in.
  assert.deepEqual(decoyLayer(layer, entry, Int32Array.from(chosen).reverse(), testKey(1), modelId), a);
});

test('half-precision layers get decoys in their own dtype', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    const e = { dtype, shape: [8, 8, 3, 3], data: float64ToBytes(values.subarray(0, 8 * 8 * 9), dtype) };
    const l = convLayerOf('h.weight', e);
    const out = decoyLayer(l, e, Int32Array.from([5, 9]), testKey(), modelId);
    assert.deepEqual(changedKernels(e.data, out, l.kernelBytes), [5, 9]);
    assert.ok(bytesToFloat64(out, dtype).every((v) => Number.isFinite(v)));
  }
});

test('leaks no tensors', checkLeaks);
