// The paper's PSS setting (deterministic gates, log α from 1.0, SGD with Nesterov momentum, the
// paper's layers, `--setting paper`) and the gate-gradient estimator, on tiny models and data
// made here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { runCli } from '../helpers/cli.ts';
import { keep, manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { randn } from '../../src/ops/creation.ts';
import { mean, sum } from '../../src/ops/reduction.ts';
import { narrow } from '../../src/ops/shape.ts';
import { gt } from '../../src/ops/compare.ts';
import { sub } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import type { Batch, BatchSource } from '../../src/data/batch-source.ts';
import { PSS_DEFAULTS, PSS_PAPER_SETTING, gateGradientImportance, paperLayers, pssImportance, taskLoss } from '../../src/protect/internals.ts';
import { PSS_SAMPLED_SETTING } from '../../src/protect/index.ts';
import { computeImportance } from '../../src/protect/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import { writeSafetensors, readSafetensors } from '../../src/io/safetensors.ts';
import { fileOf, tinyNet } from './fixtures.ts';

const checkLeaks = trackLeaks();

/** `n` images of 3×8×8 in batches: class 1 when channel 0 is brighter than channel 1, else 0 (4 classes for TinyNet's head, 2 used). */
function makeData(n: number, batch: number): BatchSource & { dispose(): void } {
  manualSeed(5);
  const batches: Batch[] = [];
  for (let i = 0; i < n / batch; i++) {
    batches.push(
      keep(
        noGrad(() =>
          scope(() => {
            const x = randn([batch, 3, 8, 8]);
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

const shape = (o: number, i: number, k = 3) => [o, i, k, k];

test("paperLayers gives the authors' VGG19 layers and their ResNet-20 analogue", () => {
  // VGG19: 2 convs at 64, 2 at 128, 4 at 256, 4 at 512, 4 at 512.
  const widths = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512];
  const names = ['1_1', '1_2', '2_1', '2_2', '3_1', '3_2', '3_3', '3_4', '4_1', '4_2', '4_3', '4_4', '5_1', '5_2', '5_3', '5_4'];
  const vgg = widths.map((w, i) => ({ name: `conv${names[i]}`, shape: shape(w, i === 0 ? 3 : widths[i - 1]) }));
  assert.deepEqual(paperLayers(vgg), ['conv1_1', 'conv1_2', 'conv3_1', 'conv4_1']);
  const r20 = [{ name: 'conv1.weight', shape: shape(16, 3) }];
  for (const [stage, w] of [16, 32, 64].entries())
    for (let b = 0; b < 3; b++) for (const c of [1, 2]) r20.push({ name: `layer${stage + 1}.${b}.conv${c}.weight`, shape: shape(w, c === 1 && b === 0 && stage > 0 ? w / 2 : w) });
  assert.deepEqual(paperLayers(r20), ['conv1.weight', 'layer1.0.conv1.weight', 'layer2.0.conv1.weight', 'layer3.0.conv1.weight']);
  // A 1×1 projection shortcut is no stage of its own.
  const withShortcut = [...r20.slice(0, 7), { name: 'layer2.0.shortcut.weight', shape: shape(32, 16, 1) }, ...r20.slice(7)];
  assert.deepEqual(paperLayers(withShortcut), paperLayers(r20));
});

test('deterministic gates from log α = 1: one plain SGD step is −lr·(∂L/∂log α + λ·penalty gradient), and gate-gradient is −∂L/∂log α', async () => {
  const model = tinyNet(2);
  const data = makeData(16, 16);
  try {
    const loss = taskLoss('classification');
    const lr = 20;
    const lambda = 0.01;
    const one = await pssImportance(model, data, { loss, gates: 'deterministic', initLogAlpha: 1, optimizer: 'sgd', momentum: 0, nesterov: false, lr, lambda, epochs: 1 });
    const grad = await gateGradientImportance(model, data, { loss, batches: 1, initLogAlpha: 1 });
    // d/dlog α of σ(log α − β log(−γ/ζ)) at log α = 1, the same for every kernel.
    const sig = 1 / (1 + Math.exp(-(1 - PSS_DEFAULTS.beta * Math.log(-PSS_DEFAULTS.gamma / PSS_DEFAULTS.zeta))));
    const penalty = sig * (1 - sig);
    let moved = 0;
    for (const [name, s] of one) {
      const g = grad.get(name)!.scores;
      s.scores.forEach((v, k) => {
        assert.ok(Math.abs(v - (1 + lr * (g[k] - lambda * penalty))) < 1e-4, `${name}[${k}]: ${v} vs ${1 + lr * (g[k] - lambda * penalty)}`);
        moved = Math.max(moved, Math.abs(v - 1));
      });
    }
    assert.ok(moved > 1e-3, 'the step moved log α (the comparison can fail)');
  } finally {
    data.dispose();
    model.dispose();
  }
});

test('deterministic gates do not depend on the seed; sampled gates do; Nesterov SGD and the schedule run', async () => {
  const model = tinyNet(3);
  const data = makeData(32, 16);
  try {
    const loss = taskLoss('classification');
    const run = (seed: number, gates: 'sampled' | 'deterministic') =>
      pssImportance(model, data, { loss, seed, gates, ...(gates === 'deterministic' ? { ...PSS_PAPER_SETTING, epochs: 3, milestones: [1, 2] } : {}) });
    const flat = (m: Awaited<ReturnType<typeof run>>) => [...m.values()].flatMap((s) => Array.from(s.scores));
    const [d0, d1] = [flat(await run(0, 'deterministic')), flat(await run(1, 'deterministic'))];
    assert.deepEqual(d0, d1);
    assert.ok(
      d0.some((v) => v !== 1),
      'the gates moved from 1.0',
    );
    const [s0, s1] = [flat(await run(0, 'sampled')), flat(await run(1, 'sampled'))];
    assert.notDeepEqual(s0, s1);
    // log α is reported after each epoch, starting from exactly initLogAlpha.
    const seen: number[][] = [];
    await pssImportance(model, data, { loss, layers: ['conv1'], gates: 'deterministic', initLogAlpha: 1, optimizer: 'sgd', lr: 1e-9, epochs: 2, onEpoch: (e) => seen.push(Array.from(e.logAlpha)) });
    assert.equal(seen.length, 2);
    assert.ok(seen[0].every((v) => Math.abs(v - 1) < 1e-6));
    await assert.rejects(pssImportance(model, data, { loss, optimizer: 'rmsprop' as 'sgd' }), /optimizer must be/);
    await assert.rejects(pssImportance(model, data, { loss, gates: 'open' as 'sampled' }), /gates must be/);
    await assert.rejects(gateGradientImportance(model, data, { loss, batches: 0 }), /positive integer/);
  } finally {
    data.dispose();
    model.dispose();
  }
});

test("PSS_DEFAULTS are the paper's gates, start and optimiser on the light budget; 0.3's stay reachable", async () => {
  assert.deepEqual(
    { gates: PSS_DEFAULTS.gates, init: PSS_DEFAULTS.initLogAlpha, opt: PSS_DEFAULTS.optimizer, lr: PSS_DEFAULTS.lr, m: PSS_DEFAULTS.momentum, n: PSS_DEFAULTS.nesterov, e: PSS_DEFAULTS.epochs },
    { gates: 'deterministic', init: 1, opt: 'sgd', lr: 0.1, m: 0.9, n: true, e: 2 },
  );
  const model = tinyNet(6);
  const data = makeData(32, 16);
  try {
    const loss = taskLoss('classification');
    const flat = (m: Awaited<ReturnType<typeof pssImportance>>) => [...m.values()].flatMap((s) => Array.from(s.scores));
    const byDefault = flat(await pssImportance(model, data, { loss, epochs: 1 }));
    const explicit = flat(await pssImportance(model, data, { loss, epochs: 1, gates: 'deterministic', initLogAlpha: 1, optimizer: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, seed: 9 }));
    assert.deepEqual(byDefault, explicit);
    // Undefined settings fall back to the defaults (as the CLI passes them), they do not erase them.
    assert.deepEqual(flat(await pssImportance(model, data, { loss, epochs: 1, initLogAlpha: undefined, gates: undefined })), byDefault);
    const sampled = flat(await pssImportance(model, data, { loss, epochs: 1, ...PSS_SAMPLED_SETTING }));
    assert.notDeepEqual(sampled, byDefault);
    // 0.3's start: log α from the drop rate, ≈ log(0.9/0.1) = 2.197 (after one Adam epoch of 2 steps, within 2 · lr).
    assert.ok(
      sampled.every((v) => Math.abs(v - Math.log(9)) < 2 * PSS_SAMPLED_SETTING.lr + 0.05),
      `sampled log α ${sampled.slice(0, 4)}`,
    );
    await assert.rejects(pssImportance(model, data, { loss, optimizer: 'adam', momentum: 0.9 }), /momentum and nesterov are for the sgd optimizer/);
    // With Adam, momentum and Nesterov default off rather than refusing.
    await pssImportance(model, data, { loss, epochs: 1, optimizer: 'adam', lr: 0.05 });
  } finally {
    data.dispose();
    model.dispose();
  }
});

test('computeImportance: gate-gradient is a strategy with its settings', async () => {
  const model = tinyNet(4);
  const data = makeData(32, 16);
  try {
    const imp = await computeImportance('gate-gradient', model, data, { batches: 2, task: 'classification' });
    assert.equal(imp.strategy, 'gate-gradient');
    assert.deepEqual(imp.settings, { batches: 2, initLogAlpha: 1 });
    assert.deepEqual([...imp.scores.keys()], ['conv1.weight', 'conv2.weight']);
    assert.ok([...imp.scores.values()].every((s) => s.scores.some((v) => v !== 0)));
  } finally {
    data.dispose();
    model.dispose();
  }
});

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-pss-paper-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('nnlock protect importance --setting paper: the preset, overridden by explicit flags', async () => {
  const records = new Uint8Array(32 * 3073);
  for (let i = 0; i < 32; i++) {
    records[i * 3073] = i % 10;
    for (let p = 1; p < 3073; p++) records[i * 3073 + p] = (i * 31 + p * 7) % 256;
  }
  fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), records);
  const model = modelSpec('resnet20').create();
  const weights = path.join(dir, 'r20.safetensors');
  try {
    const file = fileOf(model, { architecture: 'resnet20' });
    await writeSafetensors(weights, file.tensors, file.metadata);
  } finally {
    model.dispose();
  }
  const out = path.join(dir, 'paper.safetensors');
  const r = await runCli([
    'protect',
    'importance',
    weights,
    '-s',
    'pss',
    '--setting',
    'paper',
    '-d',
    path.join(dir, 'data_batch_1.bin'),
    '--images',
    '32',
    '--batch',
    '16',
    '--epochs',
    '1',
    '--json',
    '-o',
    out,
  ]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(j.discovery.layers.length > 4, true);
  assert.equal(j.layers, 4);
  assert.deepEqual(
    { gates: j.settings.gates, init: j.settings.initLogAlpha, opt: j.settings.optimizer, lr: j.settings.lr, m: j.settings.momentum, n: j.settings.nesterov, e: j.settings.epochs },
    { gates: 'deterministic', init: 1, opt: 'sgd', lr: 0.1, m: 0.9, n: true, e: 1 },
  );
  assert.deepEqual({ images: j.settings.images, batch: j.settings.batch, augment: j.settings.augment }, { images: 32, batch: 16, augment: true });
  const saved = await readSafetensors(out);
  assert.deepEqual([...saved.tensors.keys()].sort(), ['conv1.weight', 'layer1.0.conv1.weight', 'layer2.0.conv1.weight', 'layer3.0.conv1.weight']);
  // Explicit flags win over the preset: --optimizer adam drops the preset's SGD momentum; an
  // explicit momentum without SGD is a usage error.
  const adam = await runCli([
    'protect',
    'importance',
    weights,
    '-s',
    'pss',
    '--setting',
    'paper',
    '--optimizer',
    'adam',
    '--images',
    '32',
    '--batch',
    '16',
    '--epochs',
    '1',
    '--json',
    '-d',
    path.join(dir, 'data_batch_1.bin'),
    '-o',
    path.join(dir, 'x.safetensors'),
  ]);
  assert.equal(adam.code, 0, adam.err);
  const ja = JSON.parse(adam.out);
  assert.deepEqual({ opt: ja.settings.optimizer, m: ja.settings.momentum, n: ja.settings.nesterov, gates: ja.settings.gates }, { opt: 'adam', m: 0, n: false, gates: 'deterministic' });
  const momentum = await runCli(['protect', 'importance', weights, '-s', 'pss', '--optimizer', 'adam', '--momentum', '0.9', '-d', dir, '-o', path.join(dir, 'z.safetensors')]);
  assert.equal(momentum.code, 2, momentum.err);
  assert.match(momentum.err, /--momentum and --nesterov are for --optimizer sgd/);
  const bad = await runCli(['protect', 'importance', weights, '-s', 'pss', '--gates', 'open', '-d', dir, '-o', path.join(dir, 'y.safetensors')]);
  assert.equal(bad.code, 2);
});

test('nnlock protect importance -s pss: the new defaults, --setting sampled, and --droprate-init', async () => {
  const weights = path.join(dir, 'r20.safetensors');
  const data = path.join(dir, 'data_batch_1.bin');
  assert.ok(fs.existsSync(weights) && fs.existsSync(data), 'written by the --setting paper test');
  const common = ['protect', 'importance', weights, '-s', 'pss', '-d', data, '--layers', 'conv1', '--images', '16', '--batch', '16', '--epochs', '1', '--json', '--force'];
  const settingsOf = async (extra: string[]) => {
    const r = await runCli([...common, ...extra, '-o', path.join(dir, 'd.safetensors')]);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out).settings;
    return { gates: s.gates, init: s.initLogAlpha, drop: s.droprateInit, opt: s.optimizer, lr: s.lr, m: s.momentum, n: s.nesterov };
  };
  assert.deepEqual(await settingsOf([]), { gates: 'deterministic', init: 1, drop: 0.1, opt: 'sgd', lr: 0.1, m: 0.9, n: true });
  assert.deepEqual(await settingsOf(['--setting', 'sampled']), { gates: 'sampled', init: null, drop: 0.1, opt: 'adam', lr: 0.05, m: 0, n: false });
  assert.deepEqual(await settingsOf(['--droprate-init', '0.2', '--no-nesterov']), { gates: 'deterministic', init: null, drop: 0.2, opt: 'sgd', lr: 0.1, m: 0.9, n: false });
  const both = await runCli([...common, '--droprate-init', '0.2', '--init-log-alpha', '1', '-o', path.join(dir, 'e.safetensors')]);
  assert.equal(both.code, 2, both.err);
  const help = await runCli(['protect', 'importance', '--help']);
  assert.match(help.out, /--setting sampled is nnlock 0\.3's light default/);
  assert.match(help.out, /--setting light \(the default since 0\.4\)/);
});

test('leaks no tensors', checkLeaks);
