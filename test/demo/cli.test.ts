// `nnlock demo` end to end on data made by the test (never the real Fashion-MNIST, never
// ../shared/data): without fixtures it runs on a tiny Fashion-MNIST folder, and a second run reads
// the trained models from the cache; with (synthetic) fixtures it runs the ResNet-20 tour as before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { manualSeed } from '../../src/tensor/index.ts';
import { modelSpec, saveWeights } from '../../src/models/index.ts';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { runCli } from '../helpers/cli.ts';
import { writeTinyFashionMnist } from '../helpers/fashion.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-demo-cli-'));
  fs.mkdirSync(p('fashion'));
  writeTinyFashionMnist(p('fashion'), { train: 96, test: 48, size: 16, classes: 2 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('without fixtures: Fashion-MNIST, both capabilities, and a second run from the cache', async () => {
  const args = ['demo', '--data', p('no-fixtures'), '--fashion-mnist', p('fashion'), '--cache', p('cache'), '-o', p('out')];
  let r = await runCli([...args, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /the shared fixtures were not found .* runs on Fashion-MNIST instead/);
  assert.match(r.err, /1\/4 a small CNN[\s\S]*epoch 2\/2[\s\S]*2\/4 protecting[\s\S]*3\/4 an Encryption-Robust model[\s\S]*4\/4 the ciphertext-only attack/, 'steps and progress on stderr');
  const first = JSON.parse(r.out);
  assert.equal(first.fixtures, null);
  assert.equal(first.data.trainImages, 96);
  assert.equal(first.classifier.cached, false);
  assert.equal(first.protect.accuracy.length, 4);
  assert.equal(first.protect.identical, true);
  assert.ok(first.protect.refused);
  assert.equal(first.er.cached, false);
  assert.ok(first.er.accuracy >= 0 && first.er.accuracy <= 1);
  assert.ok(Number.isFinite(first.attack.recovered.psnr));
  assert.equal(first.liveTensors, 0);
  for (const f of ['fashion-tiers.svg', 'fashion-tier-predictions.png', 'fashion-attack.png']) assert.ok(fs.statSync(p(`out/${f}`)).size > 0, f);
  assert.ok(fs.existsSync(first.classifier.path) && first.classifier.path.startsWith(p('cache')));
  // Safe to run twice: the models and the demo's key come from the cache, the pictures are rewritten.
  r = await runCli(args);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.err, /epoch 1\/2/, 'nothing is trained again');
  assert.match(r.out, /smallcnn, 2 epochs: read from the cache/);
  assert.match(r.out, /tier 3: accuracy [01]\.\d{4} on 48 test images {2}← tier-3 key \(master\)/);
  assert.match(r.out, /Encryption-Robust model .* read from the cache/);
  assert.match(r.out, /recovered images at [\d.]+ dB PSNR/);
  assert.match(r.out, new RegExp(`the demo's own, kept in ${p('cache').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

test('with fixtures: the ResNet-20 tour, as before', async () => {
  const fx = p('fixtures');
  fs.mkdirSync(path.join(fx, 'weights'), { recursive: true });
  fs.mkdirSync(path.join(fx, 'cifar10'));
  manualSeed(1);
  const model = modelSpec('resnet20').create();
  try {
    await saveWeights(model, path.join(fx, 'weights', 'resnet20-cifar10.safetensors'));
  } finally {
    model.dispose();
  }
  const n = 40;
  const pixels = Uint8Array.from({ length: n * 3072 }, (_, i) => (i * 7 + (i >> 10) * 13) % 256);
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  for (const f of ['test_batch.bin', 'data_batch_1.bin', 'data_batch_3.bin']) await writeCifar10(path.join(fx, 'cifar10', f), pixels, labels);
  const r = await runCli(['demo', '--data', fx, '--fashion-mnist', p('fashion'), '--limit', '20', '-o', p('out-fx'), '--json', '--quiet']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.fixtures, fx);
  assert.equal(j.protect.architecture, 'resnet20');
  assert.equal(j.protect.images, 20);
  assert.equal(j.protect.identical, true);
  assert.equal(j.cipher.cipherImages, n);
  assert.ok(fs.existsSync(p('out-fx/resnet20-tiers.svg')) && fs.existsSync(p('out-fx/cipher-recovered.png')));
});

test('leaks no tensors', checkLeaks);
