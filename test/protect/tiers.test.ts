// Calibrated tiers: bisection over breakpoints on a synthetic metric, and through protect() on a
// tiny model, where the calibrated tiers must then unlock to exactly the measured metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { randn } from '../../src/ops/creation.ts';
import { mseLoss } from '../../src/ops/loss.ts';
import type { Module } from '../../src/nn/index.ts';
import {
  type ConvLayer,
  type LayerSelection,
  breakpoints,
  calibrateFractions,
  convLayerOf,
  convLayers,
  protect,
  restoredTotal,
  tierTokens,
  unlock,
  weightImportance,
} from '../../src/protect/internals.ts';
import { TinyNet, fileOf, tinyNet } from './fixtures.ts';
import { loadWeightsSync } from '../../src/models/weights.ts';

const checkLeaks = trackLeaks();

function layer(name: string, a: number, b: number): ConvLayer {
  return convLayerOf(name, { dtype: 'F32', shape: [a, b, 1, 1], data: new Uint8Array(a * b * 4) });
}
const sel: LayerSelection[] = [
  { layer: layer('a.weight', 5, 5), ranked: Int32Array.from({ length: 10 }, (_, i) => i) },
  { layer: layer('b.weight', 2, 2), ranked: Int32Array.from({ length: 4 }, (_, i) => i) },
];

test('breakpoints: every k/S, ascending, ending at 1', () => {
  assert.deepEqual(breakpoints(sel), [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1]);
});

test('calibration finds the smallest breakpoint meeting each target', async () => {
  const seen: number[] = [];
  const r = await calibrateFractions({ selections: sel, targets: [0.45, 0.72], tiers: 3, metricAt: (f) => f, onEvaluate: (f) => seen.push(f) });
  assert.deepEqual(r.fractions, [0.5, 0.75, 1]);
  assert.deepEqual(r.metrics, [0, 0.5, 0.75, 1]);
  assert.equal(r.evaluations, new Set(seen).size);
  assert.ok(r.evaluations < breakpoints(sel).length); // bisection, not a scan
});

test('calibration keeps tiers strictly ordered when targets are met early', async () => {
  const r = await calibrateFractions({ selections: sel, targets: [0.1, 0.2, 0.3], tiers: 4, metricAt: () => 1 });
  assert.deepEqual(r.fractions, [0.1, 0.2, 0.25, 1]);
  for (let m = 1; m < r.fractions.length; m++) assert.ok(restoredTotal(sel, r.fractions[m]) > restoredTotal(sel, r.fractions[m - 1]));
});

test('calibration errors: unreachable, falling or miscounted targets', async () => {
  const metricAt = (f: number) => f;
  await assert.rejects(calibrateFractions({ selections: sel, targets: [0.5, 1.5], tiers: 3, metricAt }), /above what the unprotected model reaches/);
  await assert.rejects(calibrateFractions({ selections: sel, targets: [0.5, 0.4], tiers: 3, metricAt }), /rise strictly/);
  await assert.rejects(calibrateFractions({ selections: sel, targets: [0.5], tiers: 3, metricAt }), /need 2 targets/);
  await assert.rejects(calibrateFractions({ selections: sel, targets: [0.5, 0.6, 1.2], tiers: 3, metricAt }), /top tier target/);
  // A target only the top tier meets cannot be a lower tier's.
  await assert.rejects(calibrateFractions({ selections: sel, targets: [0.95], tiers: 2, metricAt }), /cannot be met below the top tier/);
});

test('protect with calibrated tiers: each tier unlocks to the metric calibration measured', () =>
  scope(async () => {
    const model = tinyNet(2);
    const original = fileOf(model);
    model.dispose();
    manualSeed(4);
    const x = randn([8, 3, 8, 8]);
    const reference = new TinyNet();
    loadWeightsSync(reference, original);
    const target = noGrad(() => reference.forward(x));
    reference.dispose();
    // Higher is better: minus the MSE between the model's outputs and the original's.
    const evaluate = (m: Module) => noGrad(() => scope(() => -mseLoss(m.forward(x), target).item()));
    const importance = weightImportance('l1', original.tensors, convLayers(original.tensors));
    const calModel = new TinyNet();
    try {
      // A fixed key: the decoys (drawn from a stream keyed by it) must be the same in the probe and
      // in the calibrated run, or the probe's floor says nothing about the run's.
      const keys = { masterKey: new Uint8Array(32).fill(7), modelId: new Uint8Array(16).fill(1) };
      const probe = await protect(original, { importance, ratio: 0.3, tiers: 1, ...keys });
      const bottom = (() => {
        const m = new TinyNet();
        loadWeightsSync(m, probe.file);
        const v = evaluate(m);
        m.dispose();
        return v;
      })();
      const targets = [bottom * 0.5, bottom * 0.1];
      const r = await protect(original, { importance, ratio: 0.3, calibrate: { targets, model: calModel, evaluate }, ...keys });
      assert.equal(r.header.tiers, 3);
      const cal = r.calibration!;
      assert.equal(cal.fractions.length, 3);
      assert.ok(cal.fractions[0] < cal.fractions[1] && cal.fractions[1] < 1);
      assert.ok(cal.metrics[1] >= targets[0] && cal.metrics[2] >= targets[1]);
      assert.ok(Math.abs(cal.metrics[3]) < 1e-12);
      const tokens = tierTokens(r.masterKey, r.modelId, 3);
      for (let m = 0; m <= 3; m++) {
        const net = new TinyNet();
        loadWeightsSync(net, unlock(r.file, tokens[2], { tier: m }).file);
        assert.equal(evaluate(net), cal.metrics[m], `tier ${m}`);
        net.dispose();
      }
    } finally {
      calModel.dispose();
    }
  }));

test('leaks no tensors', checkLeaks);
