// Class subsets: only some labels kept, relabelled 0..n-1 in the order given (the disjoint-class
// experiments pretrain on some classes and train on the others), with their class names; the
// class lists users write; openDataset applies the subset before its limit.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryDataset, subset } from '../../src/data/dataset.ts';
import { parseClassList, selectClasses } from '../../src/data/class-subset.ts';
import { openDataset } from '../../src/data/open.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-class-subset-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** n one-pixel images; image i has label i % 4 and pixel value i. */
function tiny(n: number): InMemoryDataset {
  return new InMemoryDataset(
    Uint8Array.from({ length: n }, (_, i) => i),
    Uint8Array.from({ length: n }, (_, i) => i % 4),
    [1, 1, 1],
    ['a', 'b', 'c', 'd'],
  );
}

test('selectClasses keeps the listed labels in dataset order, relabelled in the order given', () => {
  const ds = selectClasses(tiny(12), [3, 1]);
  assert.equal(ds.length, 6);
  assert.deepEqual(
    Array.from({ length: ds.length }, (_, i) => [ds.get(i).image[0], ds.get(i).label]),
    [
      [1, 1],
      [3, 0],
      [5, 1],
      [7, 0],
      [9, 1],
      [11, 0],
    ],
  );
  assert.deepEqual(ds.classes, ['d', 'b']);
  // Storage on shared memory, so loader workers read it without a copy.
  assert.ok(ds.images.buffer instanceof SharedArrayBuffer);
});

test('selectClasses works through a subset view and refuses what it cannot keep', () => {
  const view = subset(tiny(12), [11, 10, 2, 6]);
  const ds = selectClasses(view, [2, 3]);
  assert.deepEqual(
    Array.from({ length: ds.length }, (_, i) => [ds.get(i).image[0], ds.get(i).label]),
    [
      [11, 1],
      [10, 0],
      [2, 0],
      [6, 0],
    ],
  );
  assert.throws(() => selectClasses(tiny(8), [4]), /classes 0\.\.3/);
  assert.throws(() => selectClasses(tiny(8), [1, 1]), /twice/);
  assert.throws(() => selectClasses(tiny(8), []), /at least one/);
  assert.throws(() => selectClasses(tiny(3), [3]), /no item/);
});

test('parseClassList reads labels and ranges in the order written', () => {
  assert.deepEqual(parseClassList('0-4'), [0, 1, 2, 3, 4]);
  assert.deepEqual(parseClassList('5, 7,9'), [5, 7, 9]);
  assert.deepEqual(parseClassList('8,0-2'), [8, 0, 1, 2]);
  assert.throws(() => parseClassList('4-2'), /backwards/);
  assert.throws(() => parseClassList('cat'), /not a label/);
  assert.throws(() => parseClassList('1,0-2'), /twice/);
});

test('openDataset applies the class subset before the limit; batches carry the new labels', async () => {
  const records = new Uint8Array(20 * 3073);
  for (let i = 0; i < 20; i++) {
    records[i * 3073] = i % 10;
    records[i * 3073 + 1] = i;
  }
  writeFileSync(join(dir, 'b.bin'), records);
  const ds = await openDataset(join(dir, 'b.bin'), { classSubset: [5, 6, 7, 8, 9], limit: 7 });
  assert.equal(ds.length, 7);
  assert.deepEqual(ds.classes, ['dog', 'frog', 'horse', 'ship', 'truck']);
  assert.deepEqual(
    Array.from({ length: 7 }, (_, i) => [ds.get(i).image[0], ds.get(i).label]),
    [
      [5, 0],
      [6, 1],
      [7, 2],
      [8, 3],
      [9, 4],
      [15, 0],
      [16, 1],
    ],
  );
  const loader = new DataLoader(ds, { batchSize: 7, shuffle: false, workers: 0 });
  for await (const { x, y } of loader.epoch(0)) {
    assert.deepEqual(Array.from(y.toArray()), [0, 1, 2, 3, 4, 0, 1]);
    x.dispose();
    y.dispose();
  }
});

test('leaks no tensors', checkLeaks);
