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

// [[1, 2, 3], [4, 5, 6]]
const m = () => tensor([1, 2, 3, 4, 5, 6], [2, 3]);

test('sum and mean: everything, one dim, several dims, keepdim; integer sums are int64', () =>
  scope(() => {
    const x = m();
    assert.deepEqual(ops.sum(x).shape, []);
    assert.equal(ops.sum(x).item(), 21);
    assert.deepEqual(ops.sum(x, 0).toArray(), [5, 7, 9]);
    assert.deepEqual(ops.sum(x, 1, true).shape, [2, 1]);
    assert.equal(ops.sum(x, [0, 1]).item(), 21);
    assert.equal(ops.sum(tensor([1, 2], [2], 'int32')).dtype, 'int64');
    assert.equal(ops.sum(ops.gt(x, 2)).item(), 4);
    assert.equal(ops.mean(x).item(), 3.5);
    assert.deepEqual(ops.mean(x, -1).toArray(), [2, 5]);
    assert.deepEqual(ops.mean(x, [0], true).shape, [1, 3]);
  }));

test('max and min: whole tensor, or {values, indices} along a dim', () =>
  scope(() => {
    const x = tensor([3, 9, 1, 7, 2, 8], [2, 3]);
    assert.equal(ops.max(x).item(), 9);
    assert.equal(ops.min(x).item(), 1);
    const mx = ops.max(x, 1);
    assert.deepEqual(mx.values.toArray(), [9, 8]);
    assert.deepEqual(mx.indices.toArray(), [1, 2]);
    assert.equal(mx.indices.dtype, 'int64');
    const mn = ops.min(x, 0, true);
    assert.deepEqual(mn.values.shape, [1, 3]);
    assert.deepEqual(mn.values.toArray(), [3, 2, 1]);
    assert.deepEqual(mn.indices.toArray(), [0, 1, 0]);
    assert.equal(ops.argmax(x).item(), 1);
    assert.equal(ops.argmin(x).item(), 2);
    assert.deepEqual(ops.argmax(x, 0).toArray(), [1, 0, 1]);
    assert.deepEqual(ops.argmin(x, 1, true).shape, [2, 1]);
  }));

test('std and var: unbiased by default (n − 1), biased on request', () =>
  scope(() => {
    const x = tensor([1, 2, 3, 4]);
    close([ops.var(x).item()], [5 / 3]);
    close([ops.var(x, null, false).item()], [1.25]);
    close([ops.std(x).item()], [Math.sqrt(5 / 3)]);
    close([ops.std(x, 0, false).item()], [Math.sqrt(1.25)]);
    close(ops.variance(m(), 1).toArray(), [1, 1]);
    assert.deepEqual(ops.std(m(), 1, true, true).shape, [2, 1]);
    close(ops.std(m(), [0, 1]).toArray(), [Math.sqrt(3.5)]);
  }));

test('norm: 2-norm by default, 1-norm, max norm, over dims', () =>
  scope(() => {
    const x = tensor([3, -4, 0, 12], [2, 2]);
    close([ops.norm(x).item()], [13]);
    close([ops.norm(x, 1).item()], [19]);
    close([ops.norm(x, Infinity).item()], [12]);
    close(ops.norm(x, 2, 1).toArray(), [5, 12]);
    assert.deepEqual(ops.norm(x, 2, [1], true).shape, [2, 1]);
  }));

test('logsumexp, cumsum, prod', () =>
  scope(() => {
    const x = m();
    close(ops.logsumexp(x, 1).toArray(), [Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)), Math.log(Math.exp(4) + Math.exp(5) + Math.exp(6))]);
    close([ops.logsumexp(tensor([1000, 1000]), 0).item()], [1000 + Math.log(2)]); // stable
    assert.deepEqual(ops.cumsum(x, 1).toArray(), [1, 3, 6, 4, 9, 15]);
    assert.equal(ops.prod(x).item(), 720);
    assert.deepEqual(ops.prod(x, 0).toArray(), [4, 10, 18]);
  }));

test('all, any, countNonzero', () =>
  scope(() => {
    const b = tensor([1, 0, 1, 1], [2, 2], 'bool');
    assert.equal(ops.all(b).item(), 0);
    assert.equal(ops.any(b).item(), 1);
    assert.equal(ops.all(b).dtype, 'bool');
    assert.deepEqual(ops.all(b, 1).toArray(), [0, 1]);
    assert.deepEqual(ops.any(b, 0, true).shape, [1, 2]);
    const x = tensor([0, 2, 0, 3, 4, 0], [2, 3]);
    assert.equal(ops.countNonzero(x).item(), 3);
    assert.deepEqual(ops.countNonzero(x, 0).toArray(), [1, 2, 0]);
    assert.deepEqual(ops.countNonzero(x, [1]).toArray(), [1, 2]);
  }));

test('reductions leak no tensors', checkLeaks);
