import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const long = (values: number[], shape?: number[]) => tensor(values, shape, 'int64');

test('gather picks along a dim', () =>
  scope(() => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    assert.deepEqual(ops.gather(x, 1, long([2, 0, 1, 1], [2, 2])).toArray(), [3, 1, 5, 5]);
    assert.deepEqual(ops.gather(x, 0, long([1, 0, 1], [1, 3])).toArray(), [4, 2, 6]);
  }));

test('scatter: a tensor, a number, add and multiply; the input is left alone', () =>
  scope(() => {
    const x = ops.zeros([2, 3]);
    const idx = long([2, 0], [2, 1]);
    assert.deepEqual(ops.scatter(x, 1, idx, tensor([7, 8], [2, 1])).toArray(), [0, 0, 7, 8, 0, 0]);
    assert.deepEqual(ops.scatter(x, 1, idx, 5).toArray(), [0, 0, 5, 5, 0, 0]);
    assert.deepEqual(ops.scatter(ops.zeros([4]), 0, long([1, 1, 3]), tensor([1, 2, 3]), 'add').toArray(), [0, 3, 0, 3]);
    assert.deepEqual(ops.scatter(ops.full([3], 2), 0, long([0, 0]), tensor([3, 4]), 'multiply').toArray(), [24, 2, 2]);
    assert.deepEqual(x.toArray(), [0, 0, 0, 0, 0, 0]);
    assert.throws(() => ops.scatter(x, 1, idx, 5, 'add'), TypeError);
  }));

test('indexTensor: integer indices, null as a full slice, boolean masks', () =>
  scope(() => {
    const x = ops.reshape(ops.arange(12, { dtype: 'float32' }), [3, 4]);
    assert.deepEqual(ops.indexTensor(x, [long([2, 0])]).toArray(), [8, 9, 10, 11, 0, 1, 2, 3]);
    assert.deepEqual(ops.indexTensor(x, [null, long([1, 3])]).toArray(), [1, 3, 5, 7, 9, 11]);
    assert.deepEqual(ops.indexTensor(x, [long([0, 2]), long([3, 1])]).toArray(), [3, 9]);
    assert.deepEqual(ops.indexTensor(x, [ops.gt(x, 9)]).toArray(), [10, 11]);
  }));

test('indexPut out of place and in place, with accumulate', () =>
  scope(() => {
    const x = ops.zeros([4]);
    const i = long([1, 1, 3]);
    const v = tensor([1, 2, 3]);
    assert.deepEqual(ops.indexPut(x, [i], v, true).toArray(), [0, 3, 0, 3]);
    assert.deepEqual(x.toArray(), [0, 0, 0, 0]);
    const r = ops.indexPutInPlace(x, [long([0, 2])], tensor([5, 6]));
    assert.equal(r, x);
    assert.deepEqual(x.toArray(), [5, 0, 6, 0]);
    ops.indexPutInPlace(x, [long([0])], tensor([1]), true);
    assert.deepEqual(x.toArray(), [6, 0, 6, 0]);
  }));

test('maskedFill (number or 0-d tensor) and maskedSelect', () =>
  scope(() => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    const mask = tensor([1, 0], [1, 2], 'bool'); // broadcasts over rows
    assert.deepEqual(ops.maskedFill(x, mask, -1).toArray(), [-1, 2, -1, 4]);
    assert.deepEqual(ops.maskedFill(x, mask, tensor(9)).toArray(), [9, 2, 9, 4]);
    assert.deepEqual(ops.maskedSelect(x, ops.gt(x, 2)).toArray(), [3, 4]);
  }));

test('topk: defaults (last dim, largest, sorted) and options', () =>
  scope(() => {
    const x = tensor([5, 1, 4, 2, 3, 0], [2, 3]);
    const t = ops.topk(x, 2);
    assert.deepEqual(t.values.toArray(), [5, 4, 3, 2]);
    assert.deepEqual(t.indices.toArray(), [0, 2, 1, 0]);
    const s = ops.topk(x, 1, 0, false);
    assert.deepEqual(s.values.toArray(), [2, 1, 0]);
    assert.deepEqual(s.indices.toArray(), [1, 0, 1]);
  }));

test('sort, argsort: ascending by default, descending, stable with ties', () =>
  scope(() => {
    const x = tensor([3, 1, 2, 1]);
    const s = ops.sort(x);
    assert.deepEqual(s.values.toArray(), [1, 1, 2, 3]);
    assert.deepEqual(ops.sort(x, -1, false, true).indices.toArray(), [1, 3, 2, 0]);
    assert.deepEqual(ops.sort(x, 0, true).values.toArray(), [3, 2, 1, 1]);
    assert.deepEqual(ops.argsort(x, -1, true, true).toArray(), [0, 2, 1, 3]);
    assert.deepEqual(ops.argsort(tensor([4, 1, 2, 3], [2, 2]), 0).toArray(), [1, 0, 0, 1]);
  }));

test('nonzero and oneHot', () =>
  scope(() => {
    const nz = ops.nonzero(tensor([0, 1, 1, 0], [2, 2]));
    assert.deepEqual(nz.shape, [2, 2]);
    assert.deepEqual(nz.toArray(), [0, 1, 1, 0]);
    const oh = ops.oneHot(long([2, 0]));
    assert.deepEqual(oh.shape, [2, 3]);
    assert.equal(oh.dtype, 'int64');
    assert.deepEqual(oh.toArray(), [0, 0, 1, 1, 0, 0]);
    assert.deepEqual(ops.oneHot(long([1]), 4).toArray(), [0, 1, 0, 0]);
  }));

test('indexing leaks no tensors', checkLeaks);
