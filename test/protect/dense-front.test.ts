// Mode 'dense-front' (src/protect/selection.ts ProtectMode): every kernel of the first conv layers
// holding a share of the conv weights gets a decoy, the rest of the model stays in the clear, the
// tiers still nest, and the master key restores the original bit for bit.
import { after, test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { manualSeed } from '../../src/tensor/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import { convLayers, frontLayers, protectModel, unlockModel } from '../../src/protect/index.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { runCli } from '../helpers/cli.ts';
import { changedKernels, fileOf, sameBytes } from './fixtures.ts';

const checkLeaks = trackLeaks();

manualSeed(4);
const net = modelSpec('resnet8').create();
const original = fileOf(net, { architecture: 'resnet8' });
net.dispose();
const layers = convLayers(original.tensors);
const size = (l: (typeof layers)[number]) => l.kernels * l.kernelSize;
const total = layers.reduce((n, l) => n + size(l), 0);

test('frontLayers: the leading layers within the share, at least the first', () => {
  for (const share of [0.01, 0.25, 0.5, 1]) {
    const front = frontLayers(layers, share);
    assert.deepEqual(
      front.map((l) => l.name),
      layers.slice(0, front.length).map((l) => l.name),
      'a prefix in file order',
    );
    assert.ok(front.length >= 1);
    const sum = front.reduce((n, l) => n + size(l), 0);
    if (front.length > 1) assert.ok(sum <= share * total * (1 + 1e-9), `within ${share}`);
    if (front.length < layers.length) assert.ok(sum + size(layers[front.length]) > share * total, 'and as many as fit');
  }
  assert.equal(frontLayers(layers, 1).length, layers.length);
  assert.throws(() => frontLayers(layers, 0), /front share/);
});

test("protectModel mode 'dense-front': every kernel of the front layers, nothing else; tiers nest; the master key is bit-exact", async () => {
  const front = new Set(frontLayers(layers, 0.3).map((l) => l.name));
  assert.ok(front.size >= 2 && front.size < layers.length, 'the test needs a front that is not the whole model');
  const p = await protectModel(original, { mode: 'dense-front', frontShare: 0.3, tiers: 3 });
  assert.deepEqual(new Set(p.layers.map((l) => l.name)), front);
  for (const l of p.layers) {
    assert.equal(l.selected, l.kernels, `${l.name}: dense`);
    for (let m = 1; m < l.perTier.length; m++) assert.ok(l.perTier[m] > l.perTier[m - 1], `${l.name}: tier ${m} restores more`);
  }
  for (const layer of layers) {
    const changed = changedKernels(original.tensors.get(layer.name)!.data, p.file.tensors.get(layer.name)!.data, layer.kernelBytes).length;
    assert.equal(changed, front.has(layer.name) ? layer.kernels : 0, layer.name);
  }
  const master = (await unlockModel(p.file, p.tokens[2])).file;
  for (const [name, e] of original.tensors) assert.ok(sameBytes(e.data, master.tensors.get(name)!.data), name);
  await assert.rejects(protectModel(original, { mode: 'dense-front', ratio: 0.5 }), /chooses the layers and the ratio/);
  await assert.rejects(protectModel(original, { mode: 'dense-front', layers: [layers[0].name] }), /chooses the layers and the ratio/);
  await assert.rejects(protectModel(original, { frontShare: 0.3 }), /frontShare is for mode 'dense-front'/);
});

test('nnlock protect lock --mode dense-front; --ratio or --layers with it is a usage error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-dense-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'resnet8.safetensors');
  await writeSafetensors(model, original.tensors, original.metadata);
  const env = { NNLOCK_KEYS_DIR: path.join(dir, 'keys') };
  const r = await runCli(['protect', 'lock', model, '--mode', 'dense-front', '--front-share', '0.3', '--json', '-o', path.join(dir, 'p.safetensors')], env);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.mode, 'dense-front');
  assert.equal(j.ratio, 1);
  assert.deepEqual(
    j.layers.map((l: { name: string }) => l.name),
    frontLayers(layers, 0.3).map((l) => l.name),
  );
  assert.equal(j.selected, j.kernels);
  for (const bad of [
    ['--mode', 'dense-front', '-r', '0.2'],
    ['--mode', 'dense-front', '--layers', 'conv1'],
    ['--front-share', '0.3'],
  ]) {
    const e = await runCli(['protect', 'lock', model, ...bad, '-o', path.join(dir, 'q.safetensors')], env);
    assert.equal(e.code, 2, `${bad.join(' ')}: ${e.err}`);
  }
});

test('leaks no tensors', checkLeaks);
