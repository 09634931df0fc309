import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { CIFAR10_CLASSES, cifar10Files, loadCifar10 } from '../../src/data/cifar10.ts';
import { labelCounts } from '../../src/data/dataset.ts';

let dir: string;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-cifar10-'));
  for (const [name, n] of [
    ['data_batch_10.bin', 2],
    ['data_batch_2.bin', 3],
    ['test_batch.bin', 4],
  ] as const) {
    const labels = Array.from({ length: n }, (_, i) => (i + n) % 10);
    await writeCifar10(path.join(dir, name), new Uint8Array(n * 3072).fill(n), labels);
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('cifar10Files finds a split in numeric order; loadCifar10 gives a 3×32×32 dataset with class names', async () => {
  assert.deepEqual(
    cifar10Files(dir, 'train').map((f) => path.basename(f)),
    ['data_batch_2.bin', 'data_batch_10.bin'],
  );
  const train = await loadCifar10(cifar10Files(dir, 'train'));
  assert.equal(train.length, 5);
  assert.deepEqual(train.shape, [3, 32, 32]);
  assert.equal(train.classes, CIFAR10_CLASSES);
  assert.equal(CIFAR10_CLASSES[9], 'truck');
  assert.equal(train.get(0).image[0], 3);
  assert.equal(train.get(4).image[3071], 2);
  assert.deepEqual([...train.labels], [3, 4, 5, 2, 3]);
  const testSet = await loadCifar10(cifar10Files(dir, 'test'));
  assert.deepEqual(labelCounts(testSet), [0, 0, 0, 0, 1, 1, 1, 1]);
  assert.throws(() => cifar10Files(path.join(dir, 'nope'), 'test'), /no such folder/);
});
