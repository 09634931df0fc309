import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { writePng } from '../../src/io/image.ts';
import { imageFolderSplits, loadImageFolder } from '../../src/data/image-folder.ts';
import { openDataset } from '../../src/data/open.ts';

let dir: string;
const solid = (v: number, c: 1 | 3, h: number, w: number) => new Uint8Array(c * h * w).fill(v);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-folder-'));
  for (const cls of ['dog', 'cat', 'bird']) fs.mkdirSync(path.join(dir, 'ok', cls), { recursive: true });
  await writePng(path.join(dir, 'ok', 'cat', 'b.png'), solid(20, 3, 6, 8), 3, 6, 8);
  await writePng(path.join(dir, 'ok', 'cat', 'a.png'), solid(10, 1, 6, 8), 1, 6, 8);
  await sharp(Buffer.from(solid(200, 3, 6, 8)), { raw: { width: 8, height: 6, channels: 3 } })
    .jpeg()
    .toFile(path.join(dir, 'ok', 'dog', 'x.JPG'));
  await writePng(path.join(dir, 'ok', 'bird', 'z.png'), solid(90, 1, 3, 4), 1, 3, 4); // smaller
  fs.writeFileSync(path.join(dir, 'ok', 'dog', 'readme.txt'), 'ignored');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('class index = sorted subfolder name; files in name order; resized to the size asked', async () => {
  const ds = await loadImageFolder(path.join(dir, 'ok'), { channels: 3, size: 4 });
  assert.deepEqual(ds.classes, ['bird', 'cat', 'dog']);
  assert.deepEqual(
    ds.files.map((f) => path.relative(path.join(dir, 'ok'), f)),
    ['bird/z.png', 'cat/a.png', 'cat/b.png', 'dog/x.JPG'],
  );
  assert.deepEqual([...ds.labels], [0, 1, 1, 2]);
  assert.deepEqual(ds.shape, [3, 4, 4]);
  assert.equal(ds.get(1).image[40], 10, 'grayscale file read as RGB');
  assert.ok(Math.abs(ds.get(3).image[0] - 200) <= 3, 'JPEG');
  const gray = await loadImageFolder(path.join(dir, 'ok'), { channels: 1, size: { height: 2, width: 3 } });
  assert.deepEqual(gray.shape, [1, 2, 3]);
  assert.equal(gray.get(0).image[0], 90);
});

test('mixed sizes without resizing, an unreadable file, a missing folder: clear errors', async () => {
  await assert.rejects(loadImageFolder(path.join(dir, 'ok'), { channels: 1 }), /cat\/a\.png is 6×8 but .*bird\/z\.png is 3×4; pass size/);
  fs.mkdirSync(path.join(dir, 'bad', 'only'), { recursive: true });
  const broken = path.join(dir, 'bad', 'only', 'broken.png');
  fs.writeFileSync(broken, 'garbage');
  await assert.rejects(loadImageFolder(path.join(dir, 'bad'), { channels: 1 }), (e: Error) => e.message.includes(broken) && /not a readable image/.test(e.message));
  await assert.rejects(loadImageFolder(path.join(dir, 'none'), { channels: 1 }), /none: no such folder/);
  fs.mkdirSync(path.join(dir, 'flat'));
  await assert.rejects(loadImageFolder(path.join(dir, 'flat'), { channels: 1 }), /no class subfolders/);
});

test('split folders are splits, not classes; labels follow the class list given', async () => {
  const root = path.join(dir, 'splits');
  for (const [split, cls] of [
    ['train', 'cat'],
    ['train', 'dog'],
    ['Val', 'dog'],
    ['pics', 'x'],
  ]) {
    fs.mkdirSync(path.join(root, split, cls), { recursive: true });
    await writePng(path.join(root, split, cls, 'a.png'), solid(cls === 'dog' ? 200 : 10, 3, 4, 4), 3, 4, 4);
  }
  assert.deepEqual(imageFolderSplits(root), { train: path.join(root, 'train'), val: path.join(root, 'Val') });
  assert.equal(imageFolderSplits(path.join(dir, 'ok')), null, 'class folders');
  const train = await openDataset(root, { split: 'train' });
  assert.deepEqual(train.classes, ['cat', 'dog']);
  // val/ has only dog: with the training classes it is label 1, as in training.
  const val = await openDataset(root, { split: 'test', classes: train.classes });
  assert.deepEqual(val.classes, ['cat', 'dog']);
  assert.equal(val.length, 1);
  assert.equal(val.get(0).label, 1);
  await assert.rejects(loadImageFolder(path.join(root, 'train'), { channels: 1, classes: ['cat', 'bird'] }), /'dog' is not among them/);
  fs.rmSync(path.join(root, 'train'), { recursive: true });
  await assert.rejects(openDataset(root, { split: 'train' }), /but no train\/ folder for the train split/);
});
