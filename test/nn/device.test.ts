// Devices: the one parser, Module.to in place (the same Tensor objects, optimizers still bound),
// and the data path's move to the model's device. This machine has no GPU: CUDA names must be
// refused clearly, and 'cpu' must change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceError, cuda, deviceSyntax, keep, parseDevice, sameDevice, scope, tensor } from '../../src/tensor/index.ts';
import { setData } from '../../src/ops/convert.ts';
import { mul, sum } from '../../src/ops/index.ts';
import { BatchNorm2d, Conv2d, SGD, Sequential } from '../../src/nn/index.ts';
import { batchesOn } from '../../src/data/batch-source.ts';
import { native } from '../../src/native/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

test('deviceSyntax: cpu, cuda and cuda:i in canonical form; anything else refused', () => {
  assert.equal(deviceSyntax('cpu'), 'cpu');
  assert.equal(deviceSyntax('cuda'), 'cuda:0');
  assert.equal(deviceSyntax('cuda:3'), 'cuda:3');
  for (const bad of ['gpu', 'cuda:', 'cuda:-1', 'cuda:x', 'cpu:0', 'CUDA', 'mps', '']) {
    assert.throws(
      () => deviceSyntax(bad),
      (e: Error) => e instanceof DeviceError && /is not a device: use cpu, cuda or cuda:<index>/.test(e.message),
      bad,
    );
  }
});

test('parseDevice checks CUDA names against the devices this libtorch sees', () => {
  assert.equal(parseDevice('cpu'), 'cpu');
  const count = cuda.deviceCount();
  if (count === 0) {
    for (const name of ['cuda', 'cuda:0', 'cuda:7']) {
      assert.throws(
        () => parseDevice(name),
        (e: Error) => e instanceof DeviceError && e.message.startsWith(`${name}: this libtorch sees 0 CUDA devices (`),
        name,
      );
    }
  } else {
    assert.equal(parseDevice('cuda'), 'cuda:0');
    assert.throws(() => parseDevice(`cuda:${count}`), new RegExp(`this libtorch sees ${count} CUDA device`));
  }
  assert.ok(sameDevice('cuda', 'cuda:0') && !sameDevice('cuda:1', 'cuda:0') && sameDevice('cpu', 'cpu'));
});

test('setData gives a tensor new data and keeps the Tensor object and requires_grad', () =>
  scope(() => {
    const p = tensor([1, 2]);
    p.requiresGrad = true;
    setData(p, tensor([5, 6, 7]));
    assert.deepEqual(p.shape, [3]);
    assert.deepEqual(p.toArray(), [5, 6, 7]);
    assert.equal(p.requiresGrad, true);
  }));

test("Module.to('cpu') keeps every parameter and buffer object and value; cuda is refused before anything moves", () => {
  const net = new Sequential(new Conv2d(2, 3, 3), new BatchNorm2d(3));
  const before = [...net.stateDict()];
  const values = before.map(([, t]) => t.toArray());
  const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  assert.equal(net.to('cpu'), net);
  assert.equal(net.device, 'cpu');
  const after = [...net.stateDict()];
  assert.deepEqual(
    after.map(([n]) => n),
    before.map(([n]) => n),
  );
  after.forEach(([n, t], i) => {
    assert.equal(t, before[i][1], `${n} is the same Tensor object`);
    assert.deepEqual(t.toArray(), values[i]);
    assert.equal(t.device, 'cpu');
  });
  assert.ok(net.parameters().every((p) => p.requiresGrad));
  if (cuda.deviceCount() === 0) assert.throws(() => net.to('cuda:7'), /cuda:7: this libtorch sees 0 CUDA devices/);
  after.forEach(([, t], i) => assert.deepEqual(t.toArray(), values[i], 'a refused move changes nothing'));
  // The optimizer built before the move still updates the module's own tensors.
  const w = net.parameters()[0];
  const w0 = w.toArray();
  scope(() => sum(mul(w, tensor(1))).backward());
  net.to('cpu'); // with a gradient present: it moves with the parameter
  scope(() => assert.ok(w.grad !== null, 'the gradient is still there'));
  scope(() => opt.step());
  assert.ok(
    w.toArray().every((v, i) => Math.abs(v - (w0[i] - 0.1)) < 1e-6),
    'SGD stepped the same parameter',
  );
  opt.dispose();
  net.dispose();
});

test('batchesOn: the source itself on the CPU; moved batches on another device name', async () => {
  const source = {
    batchCount: 1,
    *epoch() {
      yield { x: keep(tensor([1, 2])), y: keep(tensor([3])) };
    },
  };
  assert.equal(batchesOn(source, 'cpu'), source);
  if (cuda.deviceCount() > 0) {
    for await (const b of batchesOn(source, 'cuda:0').epoch(0)) {
      assert.equal(b.x.device, 'cuda:0');
      b.x.dispose();
      b.y.dispose();
    }
  } else {
    const moved = batchesOn(source, 'cuda:0');
    assert.equal(moved.batchCount, 1);
    await assert.rejects(async () => {
      for await (const b of moved.epoch(0)) b.x.dispose();
    });
  }
});

test("backend 'nccl' is refused with the reason where this addon has no NCCL group", { skip: cuda.deviceCount() > 0 && 'this machine has CUDA' }, () => {
  const store = native.c10dTcpStore('127.0.0.1', 0, 1, true, 5000);
  try {
    assert.throws(() => native.c10dProcessGroup(store, 0, 1, 'nccl', 5000, '127.0.0.1'), /backend 'nccl' is not available: this addon was built without c10d's NCCL group .*use 'gloo'/);
  } finally {
    native.c10dDestroyStore(store);
  }
});

test('leaks no tensors', checkLeaks);
