// PSS must learn: on a synthetic task where some kernels carry the signal and others only add
// noise (conv1) or are zero (conv2), the learned log α ranks the useful kernels first, although
// the noisy kernels are the larger ones (so magnitude gets it wrong).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { type Tensor, keep, manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { Conv2d, Module } from '../../src/nn/index.ts';
import { copyInPlace } from '../../src/ops/inplace.ts';
import { randn } from '../../src/ops/creation.ts';
import { gt } from '../../src/ops/compare.ts';
import { mean, sum } from '../../src/ops/reduction.ts';
import { narrow } from '../../src/ops/shape.ts';
import { sub } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { LOG_ALPHA_MAX, LOG_ALPHA_MIN, convLayerOf, hardConcreteGate, l0Penalty, pssImportance, rankKernels, taskLoss, taylorImportance, weightScores } from '../../src/protect/internals.ts';
import type { Batch, BatchSource } from '../../src/data/batch-source.ts';
import { PSS_SAMPLED_SETTING } from '../../src/protect/index.ts';
import { bytesToFloat64 } from '../../src/protect/layers.ts';
import { entriesFromTensors } from '../../src/io/tensor-file.ts';

const checkLeaks = trackLeaks();

/** conv1: 4 → 2 (3×3), conv2: 2 → 2 (1×1); the logits are the spatial mean of conv2's output. */
class Synth extends Module {
  readonly conv1 = this.registerModule('conv1', new Conv2d(4, 2, 3, { padding: 1, bias: false }));
  readonly conv2 = this.registerModule('conv2', new Conv2d(2, 2, 1, { bias: false }));
  forward(x: Tensor): Tensor {
    return scope(() => mean(this.conv2.forward(this.conv1.forward(x)), [2, 3]));
  }
}

// Channels 0 and 1 carry the label (class 1 when mean(x0) > mean(x1)); channels 2 and 3 are noise.
// conv1: output 1 = 0.5·(x0 − x1), output 0 = 0.5·(x1 − x0) (constant kernels); inputs 2 and 3 reach
// the outputs through larger kernels of opposite signs, which only blur the logit difference.
// conv2: a scaled identity (its off-diagonal kernels are 0). The scale keeps the logits below their
// loss-optimal temperature: the noise kernels make the classifier unsure, and with larger logits
// (scale 0.25: cross-entropy 0.80 > log 2) closing conv2's gates, which only shrinks the logits,
// lowers the loss, so deterministic gates (the paper's, PSS's defaults) rightly close them. At 0.1
// they still drift down; at 0.05 the diagonal kernels are needed.
const CONV2_SCALE = 0.05;
function synth(): Synth {
  const m = new Synth();
  const w1: number[] = [];
  const sign = [0, 0, -1, 1, 0, 0, 1, -1]; // noise kernels' signs at (o, i), i = 2, 3: opposite per output, so they move the logit difference
  for (let o = 0; o < 2; o++) {
    for (let i = 0; i < 4; i++) {
      const v = i < 2 ? (o === 1 ? 1 : -1) * (i === 0 ? 1 : -1) * 0.5 : 1.5 * sign[o * 4 + i];
      for (let p = 0; p < 9; p++) w1.push(v);
    }
  }
  noGrad(() =>
    scope(() => {
      copyInPlace(m.conv1.weight, tensor(w1, [2, 4, 3, 3]));
      copyInPlace(m.conv2.weight, tensor([CONV2_SCALE, 0, 0, CONV2_SCALE], [2, 2, 1, 1]));
    }),
  );
  return m;
}

function makeData(n: number, batch: number): BatchSource & { dispose(): void } {
  manualSeed(11);
  const batches: Batch[] = [];
  for (let i = 0; i < n / batch; i++) {
    batches.push(
      keep(
        noGrad(() =>
          scope(() => {
            const x = randn([batch, 4, 6, 6]);
            const m = mean(x, [2, 3]);
            const y = toDtype(gt(sub(narrow(m, 1, 0, 1), narrow(m, 1, 1, 1)), 0), 'int64');
            return { x, y: sum(y, 1) };
          }),
        ),
      ),
    );
  }
  return {
    batchCount: batches.length,
    // Hands out views the consumer may dispose; the batches themselves live until dispose().
    *epoch() {
      for (const b of batches) yield noGrad(() => ({ x: narrow(b.x, 0, 0, batch), y: narrow(b.y, 0, 0, batch) }));
    },
    dispose: () =>
      batches.forEach((b) => {
        b.x.dispose();
        b.y.dispose();
      }),
  };
}

test('hard-concrete gate: evaluation values and training draws in [0, 1]', () =>
  scope(() => {
    const la = tensor([0, 10, -10, 2.1972245773], [4]);
    const z = hardConcreteGate(la, false).toArray();
    assert.ok(Math.abs(z[0] - 0.5) < 1e-6);
    assert.equal(z[1], 1);
    assert.equal(z[2], 0);
    assert.ok(Math.abs(z[3] - 0.98) < 1e-5); // the default start, p = 0.1
    manualSeed(0);
    const draws = hardConcreteGate(tensor(new Array(1000).fill(2.1972245773), [1000]), true).toArray();
    assert.ok(draws.every((v) => v >= 0 && v <= 1));
    const open = draws.filter((v) => v === 1).length / 1000;
    assert.ok(open > 0.55 && open < 0.75, `fully open fraction ${open}`);
    // Penalty: Σ σ(log α − β log(−γ/ζ)).
    const pen = l0Penalty(tensor([0], [1])).item();
    assert.ok(Math.abs(pen - 1 / (1 + Math.exp((2 / 3) * Math.log(0.1 / 1.1)))) < 1e-6);
  }));

for (const [name, setting] of [
  ['the defaults', {}],
  ["0.3's sampled setting", { ...PSS_SAMPLED_SETTING, lr: 0.1 }],
] as const) {
  test(`PSS ranks the kernels the task needs above noisy and zero kernels (${name})`, async () => {
    const model = synth();
    const data = makeData(512, 64);
    try {
      let loss = 0;
      for await (const b of data.epoch(0)) {
        loss += noGrad(() => scope(() => taskLoss('classification')(model.forward(b.x), b.y).item())) / data.batchCount;
        b.x.dispose();
        b.y.dispose();
      }
      assert.ok(loss < Math.log(2), `the synthetic model's loss ${loss} is below a uniform guess's`);
      const steps: number[] = [];
      const imp = await pssImportance(model, data, { loss: taskLoss('classification'), epochs: 5, ...setting, onStep: (s) => steps.push(s.step) });
      assert.equal(steps.length, 2 * 5 * 8);
      const c1 = Array.from(imp.get('conv1.weight')!.scores);
      const c2 = Array.from(imp.get('conv2.weight')!.scores);
      assert.deepEqual(imp.get('conv1.weight')!.shape, [2, 4]);
      assert.ok(c1.concat(c2).every((v) => v >= LOG_ALPHA_MIN - 1e-6 && v <= LOG_ALPHA_MAX + 1e-6));
      const useful1 = [0, 1, 4, 5];
      const noisy1 = [2, 3, 6, 7];
      assert.ok(Math.min(...useful1.map((k) => c1[k])) > Math.max(...noisy1.map((k) => c1[k])), `conv1 log α ${c1.map((v) => v.toFixed(2))}`);
      assert.ok(Math.min(c2[0], c2[3]) > Math.max(c2[1], c2[2]), `conv2 log α ${c2.map((v) => v.toFixed(2))}`);
      // Magnitude ranks the (larger) noisy kernels first: PSS learned something it could not see.
      const entry = entriesFromTensors(new Map([['conv1.weight', model.conv1.weight]])).get('conv1.weight')!;
      const layer = convLayerOf('conv1.weight', entry);
      assert.deepEqual([...rankKernels(weightScores('magnitude', layer, bytesToFloat64(entry.data, 'F32')))].slice(0, 4).sort(), noisy1);
      assert.deepEqual([...rankKernels(imp.get('conv1.weight')!)].slice(0, 4).sort(), useful1);
      // Everything is put back: no transform left, weights frozen no more, training flag restored.
      assert.equal(model.conv1.weightTransform, null);
      assert.ok(model.conv1.weight.requiresGrad);
      assert.ok(model.training);
    } finally {
      data.dispose();
      model.dispose();
    }
  });
}

test('PSS is deterministic for a seed and scores only the named layers', async () => {
  const model = synth();
  const data = makeData(128, 64);
  try {
    const a = await pssImportance(model, data, { loss: taskLoss('classification'), epochs: 1, layers: ['conv2'], seed: 3 });
    const b = await pssImportance(model, data, { loss: taskLoss('classification'), epochs: 1, layers: ['conv2.weight'], seed: 3 });
    assert.deepEqual([...a.keys()], ['conv2.weight']);
    assert.deepEqual(Array.from(a.get('conv2.weight')!.scores), Array.from(b.get('conv2.weight')!.scores));
    await assert.rejects(pssImportance(model, data, { loss: taskLoss('classification'), layers: ['conv9'] }), /no conv layer 'conv9'/);
  } finally {
    data.dispose();
    model.dispose();
  }
});

test('Taylor: |Σ w·∂L/∂w| per kernel, zero for zero kernels', async () => {
  const model = synth();
  const data = makeData(256, 64);
  try {
    const imp = await taylorImportance(model, data, { loss: taskLoss('classification'), batches: 3 });
    const c1 = Array.from(imp.get('conv1.weight')!.scores);
    const c2 = Array.from(imp.get('conv2.weight')!.scores);
    assert.equal(c1.length, 8);
    assert.ok(c1.every((v) => v > 0));
    assert.equal(c2[1], 0);
    assert.equal(c2[2], 0);
    assert.ok(c2[0] > 0 && c2[3] > 0);
    assert.equal(model.conv1.weight.grad, null);
    const again = await taylorImportance(model, data, { loss: taskLoss('classification'), batches: 3 });
    assert.deepEqual(Array.from(again.get('conv1.weight')!.scores), c1);
  } finally {
    data.dispose();
    model.dispose();
  }
});

test('leaks no tensors', checkLeaks);
