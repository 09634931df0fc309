import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

function close(actual: number[], expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `[${i}] ${a} vs ${expected[i]}`));
}

test('add and sub: tensors or numbers, alpha, broadcasting, number minus tensor', () =>
  scope(() => {
    const a = tensor([1, 2, 3]);
    const b = tensor([10, 20, 30]);
    assert.deepEqual(ops.add(a, b).toArray(), [11, 22, 33]);
    assert.deepEqual(ops.add(a, b, 0.5).toArray(), [6, 12, 18]);
    assert.deepEqual(ops.add(a, 1).toArray(), [2, 3, 4]);
    assert.deepEqual(ops.sub(b, a, 2).toArray(), [8, 16, 24]);
    assert.deepEqual(ops.sub(a, 1).toArray(), [0, 1, 2]);
    assert.deepEqual(ops.sub(1, a).toArray(), [0, -1, -2]);
    const col = tensor([1, 2], [2, 1]);
    assert.deepEqual(ops.add(col, a).shape, [2, 3]);
    assert.throws(() => ops.add(a, tensor([1, 2])), /aten::add/);
  }));

test('mul and div: integer Scalars keep integer tensors integral; true division promotes', () =>
  scope(() => {
    const i = tensor([1, 2, 3], [3], 'int64');
    assert.equal(ops.mul(i, 2).dtype, 'int64');
    assert.deepEqual(ops.mul(i, 2).toArray(), [2, 4, 6]);
    assert.equal(ops.mul(i, 0.5).dtype, 'float32');
    assert.equal(ops.div(i, 2).dtype, 'float32');
    assert.deepEqual(ops.div(i, 2).toArray(), [0.5, 1, 1.5]);
    assert.deepEqual(ops.mul(tensor([1, 2]), tensor([3, 4])).toArray(), [3, 8]);
    assert.deepEqual(ops.div(tensor([1, 3]), tensor([2, 4])).toArray(), [0.5, 0.75]);
    const n = tensor([-7, 7], [2], 'int64');
    assert.deepEqual(ops.div(n, 2, 'trunc').toArray(), [-3, 3]);
    assert.deepEqual(ops.div(n, 2, 'floor').toArray(), [-4, 3]);
    assert.deepEqual(ops.div(n, tensor([2, 2], [2], 'int64'), 'floor').toArray(), [-4, 3]);
    const r = ops.div(2, tensor([1, 4], [2], 'float64'));
    assert.equal(r.dtype, 'float64');
    assert.deepEqual(r.toArray(), [2, 0.5]);
    assert.equal(ops.div(2, i).dtype, 'float32');
  }));

test('neg, pow (either side a number), sqrt, rsqrt, exp, log, abs, sign, square', () =>
  scope(() => {
    const x = tensor([1, 4, 9]);
    assert.deepEqual(ops.neg(x).toArray(), [-1, -4, -9]);
    assert.deepEqual(ops.pow(x, 0.5).toArray(), [1, 2, 3]);
    assert.deepEqual(ops.pow(2, tensor([0, 1, 3])).toArray(), [1, 2, 8]);
    assert.deepEqual(ops.pow(x, tensor([2, 1, 0])).toArray(), [1, 4, 1]);
    assert.deepEqual(ops.sqrt(x).toArray(), [1, 2, 3]);
    close(ops.rsqrt(x).toArray(), [1, 0.5, 1 / 3]);
    close(ops.exp(tensor([0, 1])).toArray(), [1, Math.E]);
    close(ops.log(tensor([1, Math.E])).toArray(), [0, 1]);
    const s = tensor([-2, 0, 3]);
    assert.deepEqual(ops.abs(s).toArray(), [2, 0, 3]);
    assert.deepEqual(ops.sign(s).toArray(), [-1, 0, 1]);
    assert.deepEqual(ops.square(s).toArray(), [4, 0, 9]);
  }));

test('clamp: one or both bounds, numbers or tensors, mixed', () =>
  scope(() => {
    const x = tensor([-2, -0.5, 0.5, 2]);
    assert.deepEqual(ops.clamp(x, -1, 1).toArray(), [-1, -0.5, 0.5, 1]);
    assert.deepEqual(ops.clamp(x, 0).toArray(), [0, 0, 0.5, 2]);
    assert.deepEqual(ops.clamp(x, undefined, 0).toArray(), [-2, -0.5, 0, 0]);
    assert.deepEqual(ops.clamp(x, null, 0).toArray(), [-2, -0.5, 0, 0]);
    const hi = tensor([0, 0, 0, 1]);
    assert.deepEqual(ops.clamp(x, -1, hi).toArray(), [-1, -0.5, 0, 1]);
    assert.deepEqual(ops.clamp(x, tensor([-3, 0, 0, 0])).toArray(), [-2, 0, 0.5, 2]);
    assert.throws(() => ops.clamp(x), TypeError);
  }));

test('maximum, minimum, where (numbers allowed), lerp, addcmul, addcdiv', () =>
  scope(() => {
    const a = tensor([1, 5, 3]);
    const b = tensor([4, 2, 3]);
    assert.deepEqual(ops.maximum(a, b).toArray(), [4, 5, 3]);
    assert.deepEqual(ops.minimum(a, b).toArray(), [1, 2, 3]);
    const c = ops.gt(a, b);
    assert.deepEqual(ops.where(c, a, b).toArray(), [4, 5, 3]);
    assert.deepEqual(ops.where(c, a, 0).toArray(), [0, 5, 0]);
    assert.deepEqual(ops.where(c, -1, b).toArray(), [4, -1, 3]);
    assert.deepEqual(ops.where(c, 1, 0).toArray(), [0, 1, 0]);
    assert.deepEqual(ops.lerp(a, b, 0.5).toArray(), [2.5, 3.5, 3]);
    assert.deepEqual(ops.lerp(a, b, tensor([0, 1, 0.5])).toArray(), [1, 2, 3]);
    assert.deepEqual(ops.addcmul(a, a, b).toArray(), [5, 15, 12]);
    assert.deepEqual(ops.addcmul(a, a, b, -1).toArray(), [-3, -5, -6]);
    assert.deepEqual(ops.addcdiv(a, b, tensor([2, 2, 3]), 2).toArray(), [5, 7, 5]);
  }));

test('round (half to even, decimals) and floor', () =>
  scope(() => {
    assert.deepEqual(ops.round(tensor([0.5, 1.5, 2.5, -0.5, -1.7])).toArray(), [0, 2, 2, -0, -2]);
    close(ops.round(tensor([1.2345, -2.5678], [2], 'float64'), 2).toArray(), [1.23, -2.57], 1e-12);
    assert.deepEqual(ops.floor(tensor([1.5, -1.5])).toArray(), [1, -2]);
  }));

test('arithmetic is differentiable through the dispatcher', () =>
  scope(() => {
    const x = tensor([1, 2, 3]);
    x.requiresGrad = true;
    const y = ops.sum(ops.mul(ops.square(x), 2)); // d/dx 2x² = 4x
    y.backward();
    assert.deepEqual(x.grad?.toArray(), [4, 8, 12]);
  }));

test('arithmetic leaks no tensors', checkLeaks);
