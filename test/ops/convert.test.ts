import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, scope, tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

test('toDtype converts (float → int truncates toward zero); same dtype aliases unless copy', () =>
  scope(() => {
    const x = tensor([1.7, -1.7, 2.5]);
    const i = ops.toDtype(x, 'int64');
    assert.equal(i.dtype, 'int64');
    assert.deepEqual(i.toArray(), [1, -1, 2]);
    assert.deepEqual(ops.toDtype(x, 'float64').toArray(), [1.7000000476837158, -1.7000000476837158, 2.5]);
    assert.deepEqual(ops.toDtype(tensor([0, 2]), 'bool').toArray(), [0, 1]);
    assert.equal(ops.isSameTensor(ops.toDtype(x, 'float32'), x), true);
    const c = ops.toDtype(x, 'float32', true);
    assert.equal(ops.isSameTensor(c, x), false);
    ops.zeroInPlace(c);
    assert.equal(x.toArray()[0] !== 0, true);
  }));

test('toDevice to the CPU', () =>
  scope(() => {
    const x = tensor([1, 2]);
    const y = ops.toDevice(x, 'cpu');
    assert.equal(y.device, 'cpu');
    assert.equal(ops.isSameTensor(y, x), true);
    assert.equal(ops.isSameTensor(ops.toDevice(x, 'cpu', true), x), false);
  }));

test('clone owns its storage and stays in the graph; detach shares storage and leaves it', () =>
  scope(() => {
    const x = tensor([1, 2, 3]);
    x.requiresGrad = true;
    const c = ops.clone(x);
    assert.equal(c.requiresGrad, true);
    const d = ops.detach(x);
    assert.equal(d.requiresGrad, false);
    noGrad(() => ops.fillInPlace(c, 0));
    assert.deepEqual(x.toArray(), [1, 2, 3]);
    ops.fillInPlace(d, 7); // d shares x's storage
    assert.deepEqual(x.toArray(), [7, 7, 7]);
  }));

test('copyInto copies with broadcasting and dtype conversion and returns dst', () =>
  scope(() => {
    const dst = ops.zeros([2, 2], { dtype: 'float64' });
    const r = ops.copyInto(dst, tensor([1, 2], [2], 'int64'));
    assert.equal(r, dst);
    assert.equal(dst.dtype, 'float64');
    assert.deepEqual(dst.toArray(), [1, 2, 1, 2]);
  }));

test('isSameTensor: the same native tensor, not just equal values', () =>
  scope(() => {
    const a = tensor([1]);
    const b = tensor([1]);
    assert.equal(ops.isSameTensor(a, a), true);
    assert.equal(ops.isSameTensor(a, b), false);
    assert.equal(ops.isSameTensor(ops.detach(a), a), false); // a new tensor sharing a's storage
  }));

test('conversions leak no tensors', checkLeaks);
