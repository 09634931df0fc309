// 'matched' decoys (src/protect/decoys/matched.ts), the default: resampled decoys kept by
// importance resampling so their detector features follow the genuine kernels' distribution.
// On a layer of two kinds of kernels (smooth ramps and rough checkerboards), the resample turn
// blends the kinds and the detectors find it (the classifier at 0.61 pooled); matched decoys stay
// near chance (0.53).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { KeyedStream, encodeKeyToken } from '../../src/crypto/index.ts';
import { DEFAULT_DECOY_MODE, type DecoyMode, protectModel, unlockModel } from '../../src/protect/index.ts';
import { convLayerOf, decoyLayer, drawDecoys } from '../../src/protect/internals.ts';
import { bytesToFloat64, float64ToBytes } from '../../src/protect/layers.ts';
import { type PublishedLayer, kernelFeatures, runDetectors, scoreDetectors } from '../../src/audit/index.ts';
import { assertNoCopiesAndRowSizes, changedKernels, fileOf, sameBytes, testKey, tinyNet } from './fixtures.ts';

const checkLeaks = trackLeaks();

/** Kernels of two kinds, half smooth (a ramp) and half rough (a checkerboard), with log-normal sizes. */
function twoKindLayer(seed: number, a = 32, b = 32): PublishedLayer {
  const s = new KeyedStream(testKey(seed), 'two-kind layer');
  const z = s.normal(a * b * 9);
  const size = s.normal(a * b);
  const kind = s.uniform(a * b);
  const values = new Float64Array(a * b * 9);
  for (let k = 0; k < a * b; k++) {
    const scale = Math.exp(0.3 * size[k]);
    for (let q = 0; q < 9; q++) {
      const i = Math.floor(q / 3),
        j = q % 3;
      const pattern = kind[k] < 0.5 ? (i - 1) * 0.8 + (j - 1) * 0.5 * z[k * 9 + 4] : ((i + j) % 2 ? 1 : -1) * 0.7;
      values[k * 9 + q] = scale * (pattern + 0.4 * z[k * 9 + q]);
    }
  }
  return { name: `t${seed}.weight`, shape: [a, b, 3, 3], values };
}

/** The best detector's pooled separability (rowColumnEffect left out) on two planted layers. */
function bestDetector(mode: DecoyMode): [string, number] {
  const planted = [1, 2].map((seed) => {
    const layer = twoKindLayer(seed);
    const s = new KeyedStream(testKey(seed + 40), 'plant');
    const perm = s.permutation(1024);
    const truth = new Uint8Array(1024);
    for (let i = 0; i < 102; i++) truth[perm[i]] = 1;
    const d = drawDecoys(layer.values, layer.shape, truth, s, mode);
    const values = Float64Array.from(layer.values);
    let j = 0;
    for (let k = 0; k < 1024; k++) if (truth[k]) values.set(d.subarray(j * 9, (j++ + 1) * 9), k * 9);
    return { layer: { ...layer, values }, truth };
  });
  const layers = planted.map((p) => p.layer);
  const reports = scoreDetectors(
    layers,
    runDetectors(layers, { mode, counts: [102, 102], seed: 4 }),
    planted.map((p) => p.truth),
  );
  return reports.filter((r) => r.detector !== 'rowColumnEffect').reduce<[string, number]>((w, r) => (r.pooledSeparability > w[1] ? [r.detector, r.pooledSeparability] : w), ['', 0]);
}

test("'matched' is the default decoy mode", () => {
  assert.equal(DEFAULT_DECOY_MODE, 'matched');
});

test('with two kinds of kernels, resampled decoys are found and matched ones are not', () => {
  // 204 decoys among 2048 kernels: one detector at chance stays under 0.54 19 times in 20; the
  // best of 27 correlated ones, a little above.
  const resample = bestDetector('resample');
  assert.ok(resample[1] > 0.6, `resample decoys: best detector ${resample}`);
  const matched = bestDetector('matched');
  assert.ok(matched[1] < 0.57, `matched decoys: best detector ${matched}`);
});

const base = twoKindLayer(9, 64, 64);
const entry = { dtype: 'F32' as const, shape: [64, 64, 3, 3], data: float64ToBytes(base.values, 'F32') };
const layer = convLayerOf('features.0.weight', entry);
const modelId = new Uint8Array(16).fill(5);
const chosen = Int32Array.from({ length: 300 }, (_, i) => (i * 13) % 4096);

test('matched decoys come from the keyed stream: same key same decoys, another key or model others', () => {
  const a = decoyLayer(layer, entry, chosen, testKey(1), modelId, 'matched');
  assert.deepEqual(decoyLayer(layer, entry, chosen, testKey(1), modelId, 'matched'), a);
  assert.notDeepEqual(decoyLayer(layer, entry, chosen, testKey(2), modelId, 'matched'), a);
  assert.notDeepEqual(decoyLayer(layer, entry, chosen, testKey(1), new Uint8Array(16).fill(6), 'matched'), a);
  assert.notDeepEqual(decoyLayer(layer, entry, chosen, testKey(1), modelId, 'resample'), a);
  assert.deepEqual(
    changedKernels(entry.data, a, layer.kernelBytes),
    [...chosen].sort((x, y) => x - y),
  );
});

/** Quantiles 0.1, 0.5 and 0.9 of the log Mahalanobis distance of the decoys and of the kept kernels, in the published layer. */
function radiusQuantiles(mode: DecoyMode): { decoys: number[]; kept: number[] } {
  const truth = new Uint8Array(4096);
  for (const k of chosen) truth[k] = 1;
  const d = drawDecoys(base.values, base.shape, truth, new KeyedStream(testKey(3), 'radius'), mode);
  const values = Float64Array.from(base.values);
  let j = 0;
  for (let k = 0; k < 4096; k++) if (truth[k]) values.set(d.subarray(j * 9, (j++ + 1) * 9), k * 9);
  const d2 = kernelFeatures({ values, shape: base.shape }).mahalanobis;
  const at = (v: number[], p: number) => v.sort((x, y) => x - y)[Math.floor(p * (v.length - 1))];
  const side = (flag: number) => [0.1, 0.5, 0.9].map((p) => at([...d2].filter((_, k) => truth[k] === flag).map(Math.log), p));
  return { decoys: side(1), kept: side(0) };
}

test("matched decoys' Mahalanobis distances spread like the genuine kernels' (the attacker's radius)", () => {
  // 300 decoys of 4,096: their 10%, 50% and 90% points of log d² land within 0.08 of the genuine
  // kernels' here; per-position decoys, about 1.0 above.
  const matched = radiusQuantiles('matched');
  matched.decoys.forEach((q, i) => assert.ok(Math.abs(q - matched.kept[i]) < 0.2, `quantile ${i}: decoys ${q.toFixed(3)}, genuine ${matched.kept[i].toFixed(3)}`));
  // Per-position draws lose the covariance: the radius sees it.
  const position = radiusQuantiles('position');
  assert.ok(
    position.decoys.some((q, i) => Math.abs(q - position.kept[i]) > 0.5),
    `position decoys ${position.decoys} against ${position.kept}`,
  );
});

test('matched decoys copy no genuine kernel and take their size from their row', () => {
  assertNoCopiesAndRowSizes(base.values, chosen, 'matched', modelId);
});

test('matched decoys of a layer of two kernels and of half-precision layers are finite', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    const e = { dtype, shape: [8, 8, 3, 3], data: float64ToBytes(base.values.subarray(0, 8 * 8 * 9), dtype) };
    const out = decoyLayer(convLayerOf('h.weight', e), e, Int32Array.from([5, 9]), testKey(), modelId, 'matched');
    assert.ok(bytesToFloat64(out, dtype).every((v) => Number.isFinite(v)));
  }
  const tiny = drawDecoys(base.values.subarray(0, 27), [3, 1, 3, 3], Uint8Array.from([1, 0, 0]), new KeyedStream(testKey(), 'x'), 'matched');
  assert.equal(tiny.length, 9);
  assert.ok(tiny.every((v) => Number.isFinite(v)));
});

test('a model protected with matched decoys unlocks bit-exactly at the top tier', async () => {
  const model = tinyNet(3);
  const file = fileOf(model);
  model.dispose();
  const masterToken = encodeKeyToken({ tier: 2, key: testKey(11) });
  const p = await protectModel(file, { ratio: 0.3, tiers: 2, decoys: 'matched', masterToken, modelId });
  assert.ok(
    [...file.tensors].some(([name, e]) => !sameBytes(p.file.tensors.get(name)!.data, e.data)),
    'decoys were published',
  );
  const restored = await unlockModel(p.file, masterToken);
  for (const [name, e] of file.tensors) assert.ok(sameBytes(restored.file.tensors.get(name)!.data, e.data), `${name} restored bit-exactly`);
});

test('leaks no tensors', checkLeaks);
