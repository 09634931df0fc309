import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { DEFAULT_DECOY_MODE, convLayerOf, decoyLayer, drawDecoys, positionStats } from '../../src/protect/internals.ts';
import { cholesky, kernelMoments, shrunkCholesky } from '../../src/protect/decoys/gaussian.ts';
import { decoyKey } from '../../src/crypto/index.ts';
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

test("decoy statistics follow the layer's per-position Gaussian (both modes)", () => {
  for (const mode of ['context', 'joint', 'position'] as const) checkPositionStats(bytesToFloat64(decoyLayer(layer, entry, chosen, testKey(), modelId, mode), 'F32'));
});

function checkPositionStats(out: Float64Array): void {
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
}

// Correlated kernels: x = M·u with a fixed mixing matrix M, so positions are strongly correlated.
const MIX = Float64Array.from({ length: K * K }, (_, i) => (i % (K + 1) === 0 ? 1 : ((i * 7) % 5) / 5 - 0.3));
const u = new KeyedStream(testKey(98), 'fixture').normal(A * B * K);
const correlated = new Float64Array(A * B * K);
for (let k = 0; k < A * B; k++) for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) correlated[k * K + i] += MIX[i * K + j] * u[k * K + j];
const corrEntry = { dtype: 'F32' as const, shape: [A, B, 3, 3], data: float64ToBytes(correlated, 'F32') };

function decoysOf(out: Float64Array): Float64Array {
  const d = new Float64Array(chosen.length * K);
  [...chosen].sort((a, b) => a - b).forEach((k, j) => d.set(out.subarray(k * K, (k + 1) * K), j * K));
  return d;
}

test("joint decoys follow the layer's covariance; per-position decoys lose it", () => {
  const target = kernelMoments(correlated, A * B, K).cov;
  const err = (mode: 'context' | 'joint' | 'position') => {
    const got = kernelMoments(decoysOf(bytesToFloat64(decoyLayer(layer, corrEntry, chosen, testKey(), modelId, mode), 'F32')), chosen.length, K).cov;
    let worst = 0;
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) worst = Math.max(worst, Math.abs(got[i * K + j] - target[i * K + j]) / Math.sqrt(target[i * K + i] * target[j * K + j]));
    return worst;
  };
  // Correlations within 0.1 (2048 draws: standard error about 0.02).
  assert.ok(err('joint') < 0.1, `joint: worst correlation error ${err('joint')}`);
  assert.ok(err('context') < 0.15, `context: worst correlation error ${err('context')}`);
  assert.ok(err('position') > 0.3, `position: worst correlation error ${err('position')}`);
});

test('joint decoys take their moments from the kernels that stay genuine', () => {
  // Selected kernels are huge: the decoys must look like the others, not like them.
  const v = Float64Array.from(correlated);
  for (const k of chosen) for (let q = 0; q < K; q++) v[k * K + q] *= 100;
  const e = { dtype: 'F64' as const, shape: [A, B, 3, 3], data: float64ToBytes(v, 'F64') };
  const kept = new Uint8Array(A * B).fill(1);
  for (const k of chosen) kept[k] = 0;
  const want = kernelMoments(v, A * B, K, kept).cov;
  // The default mode too: its decoys are turned kept kernels, so their variances are noisier
  // (10–20% on this Gaussian layer), but nowhere near the sealed kernels' 10⁴×.
  for (const [mode, tolerance] of [['joint', 0.1] as const, [DEFAULT_DECOY_MODE, 0.25] as const]) {
    const d = decoysOf(bytesToFloat64(decoyLayer(convLayerOf('x.weight', e), e, chosen, testKey(), modelId, mode), 'F64'));
    const got = kernelMoments(d, chosen.length, K).cov;
    for (let i = 0; i < K; i++) assert.ok(Math.abs(got[i * K + i] / want[i * K + i] - 1) < tolerance, `${mode} position ${i}: variance ${got[i * K + i]} vs ${want[i * K + i]}`);
  }
});

test('context decoys take their size from their row and column', () => {
  // Output channel a scaled by 2^(a/21): the last rows' kernels are about 8 times the first rows'.
  const v = Float64Array.from(correlated, (x, i) => x * 2 ** (Math.floor(i / (B * K)) / 21));
  const e = { dtype: 'F64' as const, shape: [A, B, 3, 3], data: float64ToBytes(v, 'F64') };
  const out = bytesToFloat64(decoyLayer(convLayerOf('x.weight', e), e, chosen, testKey(), modelId, 'context'), 'F64');
  const rowNorm = (vals: Float64Array, rows: number[], decoy: boolean) => {
    let s = 0,
      n = 0;
    const isChosen = new Set(chosen);
    for (const r of rows) {
      for (let b = 0; b < B; b++) {
        const k = r * B + b;
        if (isChosen.has(k) !== decoy) continue;
        for (let q = 0; q < K; q++) s += vals[k * K + q] ** 2;
        n++;
      }
    }
    return Math.sqrt(s / n);
  };
  const low = [0, 1, 2, 3];
  const high = [60, 61, 62, 63];
  for (const rows of [low, high]) {
    const ratio = rowNorm(out, rows, true) / rowNorm(v, rows, false);
    assert.ok(ratio > 0.75 && ratio < 1.33, `rows ${rows}: decoys ${ratio.toFixed(2)}× their genuine neighbours`);
  }
});

test("'position' mode draws exactly what 0.1 drew (the v1 stream, every kernel's statistics)", () => {
  const out = bytesToFloat64(decoyLayer(layer, entry, chosen, testKey(), modelId, 'position'), 'F32');
  const { mean, std } = positionStats(bytesToFloat64(entry.data, 'F32'), A * B, K);
  const zz = new KeyedStream(decoyKey(testKey(), modelId, layer.name), 'nnlock decoys v1').normal(chosen.length * K);
  const want = Float32Array.from({ length: chosen.length * K }, (_, i) => mean[i % K] + std[i % K] * zz[i]);
  assert.deepEqual(Array.from(decoysOf(out)), Array.from(want));
});

test('a singular covariance is shrunk toward its diagonal, only when needed', () => {
  const pd = Float64Array.from([2, 1, 1, 2]);
  assert.equal(shrunkCholesky(pd, 2).shrinkage, 0);
  const singular = Float64Array.from([1, 1, 1, 1]);
  assert.equal(cholesky(singular, 2), null);
  const s = shrunkCholesky(singular, 2);
  assert.ok(s.shrinkage > 0 && s.shrinkage < 0.01, `shrinkage ${s.shrinkage}`);
  // Three kernels of nine values: rank 2 at most; decoys still come out finite and keyed.
  const few = Float64Array.from({ length: 27 }, (_, i) => Math.sin(i));
  const d = drawDecoys(few, [3, 1, 3, 3], Uint8Array.from([1, 0, 0]), new KeyedStream(testKey(), 'x'), 'joint');
  assert.ok(d.every((x) => Number.isFinite(x)));
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
