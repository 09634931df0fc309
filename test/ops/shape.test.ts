import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const iota = (...shape: number[]) =>
  ops.reshape(
    ops.arange(
      shape.reduce((a, b) => a * b, 1),
      { dtype: 'float32' },
    ),
    shape,
  );

test('reshape and view (with -1); view refuses non-contiguous layouts, contiguous fixes that', () =>
  scope(() => {
    const x = iota(2, 3, 4);
    assert.deepEqual(ops.reshape(x, [4, -1]).shape, [4, 6]);
    assert.deepEqual(ops.view(x, [-1]).shape, [24]);
    const t = ops.transpose(x, 0, 2);
    assert.deepEqual(t.shape, [4, 3, 2]);
    assert.throws(() => ops.view(t, [24]), /aten::view/);
    assert.deepEqual(ops.view(ops.contiguous(t), [24]).toArray().slice(0, 4), [0, 12, 4, 16]);
    assert.deepEqual(ops.reshape(t, [24]).toArray().slice(0, 4), [0, 12, 4, 16]);
  }));

test('permute, transpose, flatten (defaults 0..-1), unsqueeze, squeeze', () =>
  scope(() => {
    const x = iota(2, 3, 4);
    assert.deepEqual(ops.permute(x, [2, 0, 1]).shape, [4, 2, 3]);
    assert.deepEqual(ops.permute(x, [2, 0, 1]).toArray().slice(0, 3), [0, 4, 8]);
    assert.deepEqual(ops.flatten(x).shape, [24]);
    assert.deepEqual(ops.flatten(x, 1).shape, [2, 12]);
    assert.deepEqual(ops.flatten(x, 0, 1).shape, [6, 4]);
    assert.deepEqual(ops.unsqueeze(x, -1).shape, [2, 3, 4, 1]);
    const y = ops.reshape(x, [1, 2, 1, 12, 1]);
    assert.deepEqual(ops.squeeze(y).shape, [2, 12]);
    assert.deepEqual(ops.squeeze(y, 2).shape, [1, 2, 12, 1]);
    assert.deepEqual(ops.squeeze(y, 1).shape, [1, 2, 1, 12, 1]); // size 2: untouched, as PyTorch
    assert.deepEqual(ops.squeeze(y, [0, -1]).shape, [2, 1, 12]);
    assert.deepEqual(ops.squeeze(y, []).shape, [1, 2, 1, 12, 1]);
  }));

test('cat and stack', () =>
  scope(() => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const b = tensor([5, 6], [1, 2]);
    assert.deepEqual(ops.cat([a, b]).toArray(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ops.cat([a, ops.transpose(b, 0, 1)], 1).toArray(), [1, 2, 5, 3, 4, 6]);
    const s = ops.stack([a, a], 1);
    assert.deepEqual(s.shape, [2, 2, 2]);
    assert.deepEqual(s.toArray(), [1, 2, 1, 2, 3, 4, 3, 4]);
  }));

test('narrow, slice (Python slicing), select, indexSelect', () =>
  scope(() => {
    const x = iota(3, 5);
    assert.deepEqual(ops.narrow(x, 1, 1, 2).toArray(), [1, 2, 6, 7, 11, 12]);
    assert.deepEqual(ops.slice(x, 1, 1, undefined, 2).toArray(), [1, 3, 6, 8, 11, 13]);
    assert.deepEqual(ops.slice(x, 0, -1).toArray(), [10, 11, 12, 13, 14]);
    assert.deepEqual(ops.slice(x).shape, [3, 5]);
    assert.deepEqual(ops.slice(x, 1, undefined, 2).shape, [3, 2]);
    assert.deepEqual(ops.select(x, 1, -1).toArray(), [4, 9, 14]);
    assert.deepEqual(ops.select(x, 0, 1).shape, [5]);
    assert.deepEqual(ops.indexSelect(x, 0, tensor([2, 0], [2], 'int64')).toArray(), [10, 11, 12, 13, 14, 0, 1, 2, 3, 4]);
  }));

test('views share storage with their input', () =>
  scope(() => {
    const x = iota(2, 3);
    const row = ops.select(x, 0, 1);
    ops.fillInPlace(row, -1);
    assert.deepEqual(x.toArray(), [0, 1, 2, -1, -1, -1]);
  }));

test('chunk and split (by size, by sizes)', () =>
  scope(() => {
    const x = ops.arange(7);
    assert.deepEqual(
      ops.chunk(x, 3).map((t) => t.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    assert.deepEqual(
      ops.split(x, 3).map((t) => t.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    assert.deepEqual(
      ops.split(x, [2, 5]).map((t) => t.toArray()),
      [
        [0, 1],
        [2, 3, 4, 5, 6],
      ],
    );
    assert.deepEqual(
      ops.split(iota(2, 4), [1, 3], 1).map((t) => t.shape),
      [
        [2, 1],
        [2, 3],
      ],
    );
  }));

test('expand (with -1) and repeat', () =>
  scope(() => {
    const c = tensor([1, 2], [2, 1]);
    const e = ops.expand(c, [-1, 3]);
    assert.deepEqual(e.shape, [2, 3]);
    assert.deepEqual(e.toArray(), [1, 1, 1, 2, 2, 2]);
    assert.deepEqual(ops.repeat(tensor([1, 2]), [2, 2]).toArray(), [1, 2, 1, 2, 1, 2, 1, 2]);
  }));

test('pad: PyTorch pad-list order (last dim first), modes, value', () =>
  scope(() => {
    const x = tensor([1, 2, 3], [1, 1, 3]);
    assert.deepEqual(ops.pad(x, [1, 2]).toArray(), [0, 1, 2, 3, 0, 0]);
    assert.deepEqual(ops.pad(x, [1, 0], { value: 9 }).toArray(), [9, 1, 2, 3]);
    assert.deepEqual(ops.pad(x, [2, 1], { mode: 'reflect' }).toArray(), [3, 2, 1, 2, 3, 2]);
    assert.deepEqual(ops.pad(x, [2, 1], { mode: 'replicate' }).toArray(), [1, 1, 1, 2, 3, 3]);
    assert.deepEqual(ops.pad(x, [1, 1], { mode: 'circular' }).toArray(), [3, 1, 2, 3, 1]);
    const img = iota(1, 1, 2, 2);
    assert.deepEqual(ops.pad(img, [0, 0, 1, 0]).shape, [1, 1, 3, 2]); // [left, right, top, bottom]
    assert.throws(() => ops.pad(x, [1]), RangeError);
    assert.throws(() => ops.pad(x, [1, 1], { mode: 'reflect', value: 2 }), RangeError);
  }));

test('pixelShuffle and pixelUnshuffle are inverses', () =>
  scope(() => {
    const x = iota(1, 8, 2, 3);
    const up = ops.pixelShuffle(x, 2);
    assert.deepEqual(up.shape, [1, 2, 4, 6]);
    assert.deepEqual(up.toArray().slice(0, 4), [0, 6, 1, 7]);
    assert.ok(ops.equal(ops.pixelUnshuffle(up, 2), x));
  }));

test('flip one dim or several', () =>
  scope(() => {
    const x = iota(2, 3);
    assert.deepEqual(ops.flip(x, 1).toArray(), [2, 1, 0, 5, 4, 3]);
    assert.deepEqual(ops.flip(x, [0, 1]).toArray(), [5, 4, 3, 2, 1, 0]);
  }));

test('shape ops leak no tensors', checkLeaks);
