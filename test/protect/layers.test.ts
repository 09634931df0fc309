// Layer discovery (issue 11): with a module, protection units are its Conv2d weights, found by the
// module's own types; Conv1d, Conv3d and Linear weights and every other 4-D floating tensor (a
// positional embedding) are listed as skipped with the reason, and never given decoys. Without a
// module, discovery is by name and shape, and says so. Run on the committed TorchScript fixture
// (../models/fixtures/tiny-scripted.pt: Conv2d, BatchNorm2d, a [1, 2, 4, 4] `pos`, Conv1d, Linear).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, tensor } from '../../src/tensor/index.ts';
import { randn } from '../../src/ops/index.ts';
import { TorchScriptModel } from '../../src/models/torchscript.ts';
import { entriesFromTensors } from '../../src/io/tensor-file.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { NAME_AND_SHAPE_NOTE, discoverLayers, moduleTypesOf, resolveLayers } from '../../src/protect/layers.ts';
import { computeImportance, protectModel } from '../../src/protect/index.ts';
import { runCli } from '../helpers/cli.ts';
import { fileOf, sameBytes, tinyNet } from './fixtures.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const FIXTURE = new URL('../models/fixtures/tiny-scripted.pt', import.meta.url).pathname;
const bytes = new Uint8Array(readFileSync(FIXTURE));
const dir = mkdtempSync(join(tmpdir(), 'nnlock-layers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function scripted(): TorchScriptModel {
  return new TorchScriptModel(bytes, 'tiny-scripted.pt');
}

function tensorsOf(m: TorchScriptModel) {
  return noGrad(() => entriesFromTensors(m.stateDict()));
}

test("with the module's types: Conv2d weights are the layers; pos, Conv1d and Linear are skipped with the reason", () => {
  const m = scripted();
  try {
    const d = discoverLayers(tensorsOf(m), moduleTypesOf(m));
    assert.equal(d.by, 'module-types');
    assert.equal(d.note, undefined);
    assert.deepEqual(
      d.layers.map((l) => l.name),
      ['conv.weight'],
    );
    const skipped = new Map(d.skipped.map((s) => [s.name, s]));
    assert.deepEqual([...skipped.keys()], ['pos', 'mix.weight', 'head.weight']);
    assert.match(skipped.get('pos')!.reason, /4-D tensor of the model itself \(Tiny\), not a Conv2d weight: not protected, never given decoys/);
    assert.equal(skipped.get('mix.weight')!.moduleType, 'Conv1d');
    assert.match(skipped.get('mix.weight')!.reason, /Conv1d weight: not protected \(protection units are Conv2d kernels\)/);
    assert.equal(skipped.get('head.weight')!.moduleType, 'Linear');
    assert.match(skipped.get('head.weight')!.reason, /Linear weight: not protected/);
    assert.throws(() => resolveLayers(tensorsOf(m), ['pos'], moduleTypesOf(m)), /cannot protect layer 'pos': it is a 4-D tensor of the model itself/);
    assert.throws(() => resolveLayers(tensorsOf(m), ['mix'], moduleTypesOf(m)), /cannot protect layer 'mix': it is a Conv1d weight/);
  } finally {
    m.dispose();
  }
});

test('without a module: by name and shape (the positional embedding is taken for a conv weight), and the result says so', () => {
  const m = scripted();
  try {
    const d = discoverLayers(tensorsOf(m));
    assert.equal(d.by, 'name-and-shape');
    assert.deepEqual(
      d.layers.map((l) => l.name),
      ['pos', 'conv.weight'],
    );
    assert.equal(d.note, NAME_AND_SHAPE_NOTE);
    assert.match(d.note!, /--module model\.pt/);
  } finally {
    m.dispose();
  }
});

test("nnlock's own architectures: module-type discovery finds the same layers as before", () => {
  const net = tinyNet(2);
  try {
    const file = fileOf(net);
    const byType = discoverLayers(file.tensors, moduleTypesOf(net));
    assert.equal(byType.by, 'module-types');
    assert.deepEqual(
      byType.layers.map((l) => l.name),
      discoverLayers(file.tensors).layers.map((l) => l.name),
    );
    assert.deepEqual(
      byType.skipped.map((s) => s.name),
      ['head.weight'],
    );
  } finally {
    net.dispose();
  }
});

test('protecting a TorchScript model: the positional embedding, Conv1d and Linear weights keep their bytes (no decoys)', async () => {
  const m = scripted();
  try {
    const file = { tensors: tensorsOf(m), metadata: {} };
    const p = await protectModel(file, { model: m, importance: 'l1', ratio: 0.9, tiers: 2 });
    assert.deepEqual(
      p.header.layers.map((l) => l.name),
      ['conv.weight'],
    );
    assert.deepEqual(
      p.discovery.skipped.map((s) => s.name),
      ['pos', 'mix.weight', 'head.weight'],
    );
    for (const name of ['pos', 'mix.weight', 'head.weight']) assert.ok(sameBytes(p.file.tensors.get(name)!.data, file.tensors.get(name)!.data), `${name} is unchanged`);
    assert.ok(!sameBytes(p.file.tensors.get('conv.weight')!.data, file.tensors.get('conv.weight')!.data), 'the conv layer got decoys');
    // Taylor runs the scripted model: gradients reach its conv weight.
    const taylor = await computeImportance('taylor', m, oneBatch(), { batches: 1 });
    assert.deepEqual([...taylor.scores.keys()], ['conv.weight']);
    assert.ok([...taylor.scores.get('conv.weight')!.scores].some((v) => v > 0));
    assert.equal(taylor.discovery.by, 'module-types');
  } finally {
    m.dispose();
  }
});

/** One batch of [4, 1, 4, 4] inputs with labels 0..2, as a BatchSource. */
function oneBatch() {
  return {
    batchCount: 1,
    async *epoch() {
      yield { x: randn([4, 1, 4, 4]), y: tensor(new BigInt64Array([0n, 1n, 2n, 1n]), [4]) };
    },
  };
}

test('the CLI lists the skipped tensors (text and JSON) with --module, and says discovery is by name and shape without it', async () => {
  const m = scripted();
  const weights = join(dir, 'tiny.safetensors');
  await writeSafetensors(weights, tensorsOf(m), {});
  m.dispose();
  const env = { NNLOCK_KEYS_DIR: join(dir, 'keys') };
  const withModule = await runCli(['protect', 'lock', weights, '--module', FIXTURE, '-r', '0.9', '--tiers', '2', '-o', join(dir, 'p1.safetensors'), '--json'], env);
  assert.equal(withModule.code, 0, withModule.err);
  const json = JSON.parse(withModule.out);
  assert.equal(json.discovery.by, 'module-types');
  assert.deepEqual(json.discovery.layers, ['conv.weight']);
  assert.deepEqual(json.discovery.skipped.map((s: { name: string; moduleType?: string }) => [s.name, s.moduleType]).sort(), [
    ['head.weight', 'Linear'],
    ['mix.weight', 'Conv1d'],
    ['pos', 'Tiny'],
  ]);
  const text = await runCli(['protect', 'importance', weights, '--module', FIXTURE, '-s', 'l1', '-o', join(dir, 'imp.safetensors')], env);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /conv layers found by module type: conv\.weight\n/);
  assert.match(text.out, /skipped pos F32\[1, 2, 4, 4\]: a 4-D tensor of the model itself/);
  assert.match(text.out, /skipped mix\.weight F32\[2, 2, 3\]: a Conv1d weight/);
  assert.match(text.out, /skipped head\.weight F32\[3, 32\]: a Linear weight/);
  const bare = await runCli(['protect', 'lock', weights, '-r', '0.9', '--tiers', '2', '-o', join(dir, 'p2.safetensors')], env);
  assert.equal(bare.code, 0, bare.err);
  assert.match(bare.err, /layers found by name and shape only .*--module model\.pt/);
  assert.match(bare.out, /conv layers found by name and shape: conv\.weight, pos/);
  const both = await runCli(['protect', 'lock', weights, '--module', FIXTURE, '-a', 'resnet20', '-o', join(dir, 'p3.safetensors')], env);
  assert.equal(both.code, 2);
  const task = await runCli(['protect', 'lock', weights, '--task', 'denoising', '-o', join(dir, 'p4.safetensors')], env);
  assert.equal(task.code, 2);
  assert.match(task.err, /--task is for a TorchScript model/);
});

test('leaks no tensors', checkLeaks);
