// Parameter and buffer names must be exactly PyTorch's, so state dicts move between the two.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope } from '../../src/tensor/index.ts';
import { randn } from '../../src/ops/creation.ts';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential, Flatten } from '../../src/nn/index.ts';
import { DnCNN, ResNetCifar, VGG } from '../../src/models/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

test('Sequential numbers children by position, parameterless layers included', () => {
  const s = new Sequential(new Conv2d(3, 4, 3), new ReLU(), new MaxPool2d(2), new Conv2d(4, 8, 3, { bias: false }), new BatchNorm2d(8), new Flatten(), new Linear(8, 2));
  assert.deepEqual([...s.stateDict().keys()], ['0.weight', '0.bias', '3.weight', '4.weight', '4.bias', '4.running_mean', '4.running_var', '4.num_batches_tracked', '6.weight', '6.bias']);
  assert.deepEqual(
    s.namedParameters().map(([n]) => n),
    ['0.weight', '0.bias', '3.weight', '4.weight', '4.bias', '6.weight', '6.bias'],
  );
  s.dispose();
});

test('layer shapes and dtypes follow torch.nn', () => {
  const conv = new Conv2d(6, 12, [3, 5], { groups: 3 });
  assert.deepEqual(conv.weight.shape, [12, 2, 3, 5]);
  assert.deepEqual(conv.bias?.shape, [12]);
  const bn = new BatchNorm2d(7);
  const sd = bn.stateDict();
  assert.equal(sd.get('num_batches_tracked')?.dtype, 'int64');
  assert.deepEqual(sd.get('num_batches_tracked')?.shape, []);
  assert.equal(
    sd
      .get('running_var')
      ?.toArray()
      .every((v) => v === 1),
    true,
  );
  const lin = new Linear(5, 3, { bias: false });
  assert.equal(lin.bias, null);
  assert.deepEqual([...lin.stateDict().keys()], ['weight']);
  for (const m of [conv, bn, lin]) m.dispose();
});

test('default init bounds match PyTorch (kaiming_uniform with a=sqrt(5))', () => {
  const conv = new Conv2d(16, 32, 3);
  const bound = 1 / Math.sqrt(16 * 9);
  const w = conv.weight.toArray();
  assert.ok(w.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...w.map(Math.abs)) > 0.9 * bound, 'draws should fill the range');
  conv.dispose();
});

test('ResNet-20 names match the akamaster checkpoint layout', () => {
  const m = new ResNetCifar(20);
  const names = [...m.stateDict().keys()];
  const expected: string[] = ['conv1.weight', ...bn('bn1')];
  for (const l of [1, 2, 3])
    for (const b of [0, 1, 2]) {
      const p = `layer${l}.${b}`;
      expected.push(`${p}.conv1.weight`, ...bn(`${p}.bn1`), `${p}.conv2.weight`, ...bn(`${p}.bn2`));
    }
  expected.push('linear.weight', 'linear.bias');
  assert.deepEqual(names, expected);
  assert.equal(m.parameterCount(), 269722); // akamaster prints "Total number of params 269722"
  m.dispose();
  function bn(p: string) {
    return [`${p}.weight`, `${p}.bias`, `${p}.running_mean`, `${p}.running_var`, `${p}.num_batches_tracked`];
  }
});

test('VGG uses features.N / classifier.N with PyTorch positions', () => {
  const m = new VGG({ depth: 11, batchNorm: true, width: 0.125 });
  const convs = [...m.stateDict().keys()].filter((k) => k.endsWith('.weight') && k.startsWith('features'));
  // conv, bn, relu, pool: conv 0, bn 1, pool at 3, next conv at 4
  assert.equal(convs[0], 'features.0.weight');
  assert.equal(convs[1], 'features.1.weight');
  assert.equal(convs[2], 'features.4.weight');
  assert.ok(m.stateDict().has('classifier.0.weight'));
  const plain = new VGG({ depth: 16, width: 0.0625 });
  const plainConvs = [...plain.stateDict().keys()].filter((k) => k.startsWith('features') && k.endsWith('weight'));
  assert.deepEqual(plainConvs.slice(0, 3), ['features.0.weight', 'features.2.weight', 'features.5.weight']);
  assert.equal(plainConvs.length, 13);
  scope(() => {
    const out = m.forward(randn([2, 3, 32, 32]));
    assert.deepEqual(out.shape, [2, 10]);
  });
  m.dispose();
  plain.dispose();
});

test('DnCNN-17 names follow SaoYan/DnCNN-PyTorch (last conv at dncnn.47)', () => {
  const m = new DnCNN({ depth: 17, features: 8 });
  const keys = [...m.stateDict().keys()];
  assert.equal(keys[0], 'dncnn.0.weight');
  assert.equal(keys[1], 'dncnn.2.weight');
  assert.equal(keys[2], 'dncnn.3.weight');
  assert.equal(keys.at(-1), 'dncnn.47.weight');
  assert.equal(keys.filter((k) => k.endsWith('running_mean')).length, 15);
  scope(() => {
    m.eval();
    const out = m.forward(randn([1, 1, 20, 24]));
    assert.deepEqual(out.shape, [1, 1, 20, 24]);
  });
  m.dispose();
});

test('ResNets of every depth build and run', () => {
  for (const depth of [20, 32]) {
    const m = new ResNetCifar(depth);
    scope(() => assert.deepEqual(m.forward(randn([2, 3, 32, 32])).shape, [2, 10]));
    m.dispose();
  }
  assert.throws(() => new ResNetCifar(21), /6n\+2/);
});

test('leaks no tensors', checkLeaks);
