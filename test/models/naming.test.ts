// Architecture names as public checkpoints write them resolve to nnlock's registry names, for every
// depth (not only the one alias there used to be), and a weights file that says `resnet56-cifar`
// loads.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '../../src/tensor/index.ts';
import { type DnCNN, PUBLIC_NAME_EXAMPLES, ResNetCifar, type VGG, modelSpec, openModel, resolveArchitectureName, saveWeights } from '../../src/models/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-naming-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TABLE: [string, string, number?][] = [
  ['resnet20', 'resnet20'],
  ['resnet20-cifar', 'resnet20'],
  ['resnet32-cifar', 'resnet32'],
  ['resnet44-cifar', 'resnet44'],
  ['resnet56-cifar', 'resnet56'],
  ['resnet110-cifar', 'resnet110'],
  ['resnet1202-cifar', 'resnet1202'],
  ['resnet56_cifar10', 'resnet56', 10],
  ['resnet56-cifar100', 'resnet56', 100],
  ['cifar_resnet56', 'resnet56'],
  ['cifar10_resnet44', 'resnet44', 10],
  ['cifar100_resnet20', 'resnet20', 100],
  ['ResNet56_CIFAR10', 'resnet56', 10],
  ['vgg16-bn', 'vgg16-bn'],
  ['vgg16_bn', 'vgg16-bn'],
  ['vgg11bn', 'vgg11-bn'],
  ['cifar10_vgg13_bn', 'vgg13-bn', 10],
  ['vgg19_cifar100', 'vgg19', 100],
  ['vgg11-bn-w0.25', 'vgg11-bn-w0.25'],
  ['dncnn-17', 'dncnn-17'],
  ['DnCNN-S', 'dncnn-17'],
  ['dncnn', 'dncnn-17'],
  ['DnCNN-B', 'dncnn-20'],
  ['dncnn-3', 'dncnn-3'],
  ['CDnCNN-B', 'dncnn-20-c3'],
  ['dncnn17', 'dncnn-17'],
  ['dncnn_17_color', 'dncnn-17-c3'],
  ['dncnn-17-c3', 'dncnn-17-c3'],
];

test('every public naming resolves, for every depth', () => {
  for (const [name, canonical, classes] of TABLE) {
    const r = resolveArchitectureName(name);
    assert.deepEqual(r && { name: r.name, numClasses: r.numClasses }, { name: canonical, numClasses: classes }, name);
    assert.equal(modelSpec(name).name, canonical, name);
  }
  for (const example of PUBLIC_NAME_EXAMPLES) assert.ok(resolveArchitectureName(example), example);
  assert.equal(modelSpec('CDnCNN-B').inputChannels, 3);
  assert.equal(modelSpec('dncnn-b').task, 'denoising');
});

test('unknown names and impossible depths are refused with the naming that works', () => {
  for (const name of ['resnet21', 'resnet56-imagenet', 'vgg12', 'alexnet', 'cifar10_resnet', '']) {
    assert.throws(() => modelSpec(name), /unknown architecture .*resnet56-cifar/, name);
  }
});

test('the head of a dataset-named classifier has that dataset’s classes', () => {
  const m = modelSpec('cifar100_resnet20').create() as ResNetCifar;
  const v = modelSpec('vgg11_bn_cifar100').create() as VGG;
  try {
    assert.equal(m.numClasses, 100);
    assert.equal(m.linear.weight.shape[0], 100);
    assert.equal(v.config.numClasses, 100);
  } finally {
    m.dispose();
    v.dispose();
  }
  const seven = modelSpec('resnet56-cifar').create(7) as ResNetCifar;
  assert.equal(seven.numClasses, 7);
  seven.dispose();
  const d = modelSpec('CDnCNN-B').create() as DnCNN;
  assert.equal(d.channels, 3);
  d.dispose();
});

test('a weights file whose metadata says resnet56-cifar opens as resnet56', async () => {
  manualSeed(1);
  const model = new ResNetCifar(56);
  await saveWeights(model, join(dir, 'r56.safetensors'), { architecture: 'resnet56-cifar' });
  model.dispose();
  const opened = await openModel(join(dir, 'r56.safetensors'));
  try {
    assert.equal(opened.spec.name, 'resnet56');
    assert.equal(opened.model.parameterCount() > 800_000, true);
  } finally {
    opened.model.dispose();
  }
});

test('leaks no tensors', checkLeaks);
