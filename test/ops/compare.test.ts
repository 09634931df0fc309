import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

test('eq, ne, lt, le, gt, ge with a tensor or a number give bool tensors', () =>
  scope(() => {
    const a = tensor([1, 2, 3]);
    const b = tensor([3, 2, 1]);
    assert.equal(ops.eq(a, b).dtype, 'bool');
    assert.deepEqual(ops.eq(a, b).toArray(), [0, 1, 0]);
    assert.deepEqual(ops.ne(a, b).toArray(), [1, 0, 1]);
    assert.deepEqual(ops.lt(a, b).toArray(), [1, 0, 0]);
    assert.deepEqual(ops.le(a, b).toArray(), [1, 1, 0]);
    assert.deepEqual(ops.gt(a, b).toArray(), [0, 0, 1]);
    assert.deepEqual(ops.ge(a, b).toArray(), [0, 1, 1]);
    assert.deepEqual(ops.eq(a, 2).toArray(), [0, 1, 0]);
    assert.deepEqual(ops.ne(a, 2).toArray(), [1, 0, 1]);
    assert.deepEqual(ops.lt(a, 2.5).toArray(), [1, 1, 0]);
    assert.deepEqual(ops.le(a, 2).toArray(), [1, 1, 0]);
    assert.deepEqual(ops.gt(a, 1).toArray(), [0, 1, 1]);
    assert.deepEqual(ops.ge(a, 3).toArray(), [0, 0, 1]);
    assert.deepEqual(ops.gt(tensor([1, 2], [2, 1]), a).shape, [2, 3]); // broadcasts
  }));

test('isfinite and isnan', () =>
  scope(() => {
    const x = tensor([1, NaN, Infinity, -Infinity]);
    assert.deepEqual(ops.isfinite(x).toArray(), [1, 0, 0, 0]);
    assert.deepEqual(ops.isnan(x).toArray(), [0, 1, 0, 0]);
  }));

test('allclose and equal answer with booleans', () =>
  scope(() => {
    const a = tensor([1, 2, 3]);
    assert.equal(ops.allclose(a, tensor([1, 2, 3.000001])), true);
    assert.equal(ops.allclose(a, tensor([1, 2, 3.01])), false);
    assert.equal(ops.allclose(a, tensor([1, 2, 3.01]), { atol: 0.1 }), true);
    assert.equal(ops.allclose(a, tensor([1, 2, 3.01]), { rtol: 0.01 }), true);
    assert.equal(ops.allclose(tensor([NaN]), tensor([NaN])), false);
    assert.equal(ops.allclose(tensor([NaN]), tensor([NaN]), { equalNan: true }), true);
    assert.equal(ops.equal(a, tensor([1, 2, 3])), true);
    assert.equal(ops.equal(a, tensor([1, 2, 3.000001])), false);
    assert.equal(ops.equal(a, tensor([1, 2, 3, 4])), false);
  }));

test('comparisons leak no tensors', checkLeaks);
