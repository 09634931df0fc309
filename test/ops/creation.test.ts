import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, manualSeed, scope, tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

test('zeros, ones, full: float32 by default, shape and dtype as asked', () =>
  scope(() => {
    const z = ops.zeros([2, 3]);
    assert.deepEqual(z.shape, [2, 3]);
    assert.equal(z.dtype, 'float32');
    assert.deepEqual(z.toArray(), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ops.ones([2], { dtype: 'int32' }).toArray(), [1, 1]);
    assert.equal(ops.ones([2], { dtype: 'int32' }).dtype, 'int32');
    const f = ops.full([3], 2);
    assert.equal(f.dtype, 'float32'); // unlike torch.full(.., 2): JavaScript has no int literal
    assert.deepEqual(f.toArray(), [2, 2, 2]);
    assert.equal(ops.full([1], 7, { dtype: 'int64' }).dtype, 'int64');
    assert.deepEqual(ops.full([2], true, { dtype: 'bool' }).toArray(), [1, 1]);
    assert.deepEqual(ops.zeros([]).shape, []);
    assert.equal(ops.zeros([2], { device: 'cpu' }).device, 'cpu');
  }));

test('requiresGrad makes a leaf', () =>
  scope(() => {
    const w = ops.zeros([2], { requiresGrad: true });
    assert.equal(w.requiresGrad, true);
    assert.equal(ops.zeros([2]).requiresGrad, false);
  }));

test('an integer dtype cannot require grad, and the failed tensor is freed even outside a scope', () => {
  const before = liveTensors();
  assert.throws(() => ops.zeros([2], { dtype: 'int64', requiresGrad: true }));
  assert.equal(liveTensors(), before);
});

test('arange: int64 when every argument is an integer, float32 otherwise, as PyTorch', () =>
  scope(() => {
    const a = ops.arange(5);
    assert.equal(a.dtype, 'int64');
    assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(ops.arange(2, 5).toArray(), [2, 3, 4]);
    assert.equal(ops.arange(2, 5).dtype, 'int64');
    assert.deepEqual(ops.arange(5, 0, -2).toArray(), [5, 3, 1]);
    const f = ops.arange(0, 1, 0.25);
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(f.toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(ops.arange(0.5, 3).dtype, 'float32');
    assert.deepEqual(ops.arange(0.5, 3).toArray(), [0.5, 1.5, 2.5]);
    const d = ops.arange(3, { dtype: 'float64' });
    assert.equal(d.dtype, 'float64');
    assert.deepEqual(d.toArray(), [0, 1, 2]);
    assert.equal(ops.arange(1, 4, 1, { dtype: 'float32' }).dtype, 'float32');
    assert.throws(() => ops.arange(0, 1, 0), RangeError);
  }));

test('linspace includes both ends', () =>
  scope(() => {
    const l = ops.linspace(-1, 1, 5);
    assert.equal(l.dtype, 'float32');
    assert.deepEqual(l.toArray(), [-1, -0.5, 0, 0.5, 1]);
    assert.equal(ops.linspace(0, 1, 3, { dtype: 'float64' }).dtype, 'float64');
  }));

test('rand, randn, randint, randperm: ranges, dtypes, and reproducible under manualSeed', () =>
  scope(() => {
    const r = ops.rand([1000]).toArray();
    assert.ok(r.every((v) => v >= 0 && v < 1));
    assert.equal(ops.randn([2, 2]).dtype, 'float32');
    const n = ops.randn([4000]).toArray();
    const m = n.reduce((a, b) => a + b, 0) / n.length;
    assert.ok(Math.abs(m) < 0.1, `mean ${m}`);
    const i = ops.randint(3, 7, [500]);
    assert.equal(i.dtype, 'int64');
    assert.ok(i.toArray().every((v) => v >= 3 && v < 7 && Number.isInteger(v)));
    const p = ops.randperm(10);
    assert.equal(p.dtype, 'int64');
    assert.deepEqual(
      p.toArray().sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    manualSeed(123);
    const a = ops.randn([5]).toArray();
    manualSeed(123);
    assert.deepEqual(ops.randn([5]).toArray(), a);
  }));

test('eye: square and rectangular', () =>
  scope(() => {
    assert.deepEqual(ops.eye(2).toArray(), [1, 0, 0, 1]);
    const e = ops.eye(2, 3, { dtype: 'float64' });
    assert.deepEqual(e.shape, [2, 3]);
    assert.equal(e.dtype, 'float64');
    assert.deepEqual(e.toArray(), [1, 0, 0, 0, 1, 0]);
  }));

test('*Like: shape, dtype and device of the model unless overridden', () =>
  scope(() => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], 'float64');
    const z = ops.zerosLike(x);
    assert.deepEqual(z.shape, [2, 3]);
    assert.equal(z.dtype, 'float64');
    assert.deepEqual(z.toArray(), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ops.onesLike(x, { dtype: 'int64' }).toArray(), [1, 1, 1, 1, 1, 1]);
    assert.equal(ops.onesLike(x, { dtype: 'int64' }).dtype, 'int64');
    assert.deepEqual(ops.fullLike(x, 0.5).toArray(), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    assert.ok(
      ops
        .randLike(x)
        .toArray()
        .every((v) => v >= 0 && v < 1),
    );
    assert.equal(ops.randnLike(x).dtype, 'float64');
    const e = ops.emptyLike(x, { dtype: 'float32' });
    assert.deepEqual(e.shape, [2, 3]);
    assert.equal(e.dtype, 'float32');
    assert.equal(ops.zerosLike(x, { requiresGrad: true }).requiresGrad, true);
  }));

test('creation leaks no tensors', checkLeaks);
