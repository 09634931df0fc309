import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Dataset, InMemoryDataset, labelCounts, materialise, storageOf, subset } from '../../src/data/dataset.ts';

const images = new Uint8Array(4 * 2 * 2 * 2).map((_, i) => i);
const labels = new Uint8Array([3, 1, 3, 0]);
const ds = new InMemoryDataset(images, labels, [2, 2, 2], ['a', 'b', 'c', 'd']);

test('InMemoryDataset gives views of CHW items', () => {
  assert.equal(ds.length, 4);
  assert.deepEqual(ds.shape, [2, 2, 2]);
  const { image, label } = ds.get(2);
  assert.deepEqual([...image], [16, 17, 18, 19, 20, 21, 22, 23]);
  assert.equal(label, 3);
  assert.throws(() => ds.get(4), /out of range/);
  assert.throws(() => new InMemoryDataset(images, labels, [2, 2, 3]), /do not hold 4 images/);
  assert.throws(() => new InMemoryDataset(images, labels, [8, 4]), /\[C, H, W\]/);
});

test('subset picks items in order, nests, and resolves to the base storage without a copy', () => {
  const s = subset(ds, [3, 1]);
  assert.equal(s.length, 2);
  assert.equal(s.get(0).label, 0);
  assert.deepEqual(s.classes, ds.classes);
  const ss = subset(s, [1, 1, 0]);
  assert.deepEqual(
    [0, 1, 2].map((i) => ss.get(i).label),
    [1, 1, 0],
  );
  const { data, index } = storageOf(ss);
  assert.equal(data, ds);
  assert.deepEqual([...index!], [1, 1, 3]);
  assert.throws(() => subset(ds, [4]), /out of range/);
});

test('labelCounts and materialise of any Dataset', () => {
  assert.deepEqual(labelCounts(ds), [1, 1, 0, 2]);
  assert.deepEqual(labelCounts(subset(ds, [0, 0])), [0, 0, 0, 2]);
  const custom: Dataset = {
    length: 3,
    shape: [1, 1, 2],
    get: (i) => ({ image: new Float32Array([i / 10, 1 - i / 10]), label: i }),
  };
  const m = materialise(custom);
  assert.ok(m.images instanceof Float32Array);
  assert.deepEqual(
    [...m.get(2).image].map((v) => +v.toFixed(3)),
    [0.2, 0.8],
  );
  assert.equal(storageOf(custom).data.length, 3);
});
