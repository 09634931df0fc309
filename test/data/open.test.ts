// Opening datasets from path specs, and the input normalisation a weights file records.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCifar10Folder, openDataset } from '../../src/data/open.ts';
import { CIFAR10_NORMALISATION, normalisationFrom, normalisationMetadata } from '../../src/data/normalisation.ts';
import { writePng } from '../../src/io/image.ts';

const dir = mkdtempSync(join(tmpdir(), 'nnlock-open-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `count` CIFAR-10 records whose label and first pixel are `first + i`. */
function records(count: number, first: number): Uint8Array {
  const out = new Uint8Array(count * 3073);
  for (let i = 0; i < count; i++) {
    out[i * 3073] = (first + i) % 10;
    out[i * 3073 + 1] = first + i;
  }
  return out;
}

test('a CIFAR-10 folder opens its split; .bin files and a limit are honoured', async () => {
  const cifar = join(dir, 'cifar');
  mkdirSync(cifar);
  writeFileSync(join(cifar, 'data_batch_2.bin'), records(3, 10));
  writeFileSync(join(cifar, 'data_batch_1.bin'), records(4, 0));
  writeFileSync(join(cifar, 'test_batch.bin'), records(5, 50));
  assert.ok(isCifar10Folder(cifar));
  const train = await openDataset(cifar);
  assert.equal(train.length, 7);
  assert.deepEqual([train.get(0).image[0], train.get(4).image[0]], [0, 10]);
  assert.equal(train.classes?.[0], 'airplane');
  assert.equal((await openDataset(cifar, { split: 'test' })).get(0).image[0], 50);
  const two = await openDataset(`${join(cifar, 'test_batch.bin')},${join(cifar, 'data_batch_2.bin')}`, { limit: 6 });
  assert.equal(two.length, 6);
  assert.equal(two.get(5).image[0], 10);
});

test('an image folder opens with its class names, resized to 32×32 RGB', async () => {
  const root = join(dir, 'folder');
  for (const cls of ['dog', 'cat']) {
    mkdirSync(join(root, cls), { recursive: true });
    await writePng(join(root, cls, 'x.png'), new Uint8Array(3 * 8 * 8).fill(cls === 'cat' ? 200 : 10), 3, 8, 8);
  }
  assert.equal(isCifar10Folder(root), false);
  const ds = await openDataset(root);
  assert.deepEqual(ds.classes, ['cat', 'dog']);
  assert.deepEqual(ds.shape, [3, 32, 32]);
  assert.deepEqual([ds.get(0).label, ds.get(0).image[0]], [0, 200]);
});

test('what cannot be opened says why', async () => {
  await assert.rejects(openDataset(join(dir, 'nothing')), /nothing: no such file or folder/);
  writeFileSync(join(dir, 'notes.txt'), 'x');
  await assert.rejects(openDataset(join(dir, 'notes.txt')), /expected CIFAR-10 \.bin file\(s\)/);
});

test('normalisation: the override, else the file, else CIFAR-10; it round-trips through metadata', () => {
  const n = { mean: [0.1, 0.2, 0.3], std: [1, 2, 3] };
  assert.deepEqual(normalisationFrom(normalisationMetadata(n)), n);
  assert.deepEqual(normalisationFrom({}), CIFAR10_NORMALISATION);
  assert.deepEqual(normalisationFrom(normalisationMetadata(n), { std: [4, 5, 6] }), { mean: n.mean, std: [4, 5, 6] });
  assert.throws(() => normalisationFrom({ input_mean: '1,2' }), /input_mean in the weights file must be three/);
});
