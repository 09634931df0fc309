import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx, readMnist, readMnistImages, readMnistLabels } from '../../src/io/mnist.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-mnist-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An idx file by hand: magic (big-endian), dims (big-endian uint32), data. */
function idx(magic: number, dims: number[], data: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

const pixels = Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);
const write = (name: string, bytes: Uint8Array) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
};

test('parses a tiny images file (magic 2051) and labels file (magic 2049)', async () => {
  const images = write('img-idx3-ubyte', idx(2051, [2, 3, 4], pixels));
  const labels = write('lab-idx1-ubyte', idx(2049, [2], [7, 3]));
  const m = await readMnist(images, labels);
  assert.equal(m.count, 2);
  assert.equal(m.height, 3);
  assert.equal(m.width, 4);
  assert.deepEqual([...m.images], pixels);
  assert.deepEqual([...m.labels], [7, 3]);
  assert.deepEqual((await readIdx(images)).dims, [2, 3, 4]);
});

test('reads gzip-compressed files (detected by content, not name)', async () => {
  const images = write('img.gz', gzipSync(idx(2051, [2, 3, 4], pixels)));
  const labels = write('lab-renamed', gzipSync(idx(2049, [2], [1, 9])));
  const m = await readMnist(images, labels);
  assert.deepEqual([...m.images], pixels);
  assert.deepEqual([...m.labels], [1, 9]);
});

test('a bad magic number is a clear error', async () => {
  const labelsAsImages = write('swapped', idx(2049, [2], [1, 2]));
  await assert.rejects(readMnistImages(labelsAsImages), /swapped: bad magic number 2049 .*expected 2051/);
  const junk = write('junk', Buffer.from('hello world, not idx'));
  await assert.rejects(readMnistLabels(junk), /junk: bad magic number/);
  await assert.rejects(readIdx(junk), /not an idx file/);
});

test('truncated data, a truncated header and trailing bytes are clear errors', async () => {
  const short = write('short', idx(2051, [2, 3, 4], pixels.slice(0, 20)));
  await assert.rejects(readMnistImages(short), /short: truncated data: 20 bytes .* need 24/);
  const header = write('header', idx(2051, [2, 3, 4], []).subarray(0, 9));
  await assert.rejects(readMnistImages(header), /header: truncated header/);
  const long = write('long', idx(2049, [2], [1, 2, 3]));
  await assert.rejects(readMnistLabels(long), /long: 1 unexpected bytes/);
  const tiny = write('tiny', Buffer.from([0, 0]));
  await assert.rejects(readIdx(tiny), /tiny: truncated/);
});

test('a truncated gzip stream, a missing file, mismatched counts and labels > 9 are clear errors', async () => {
  const gz = gzipSync(idx(2051, [2, 3, 4], pixels));
  const cut = write('cut.gz', gz.subarray(0, gz.length - 10));
  await assert.rejects(readMnistImages(cut), /cut\.gz: corrupt gzip data/);
  await assert.rejects(readMnistImages(path.join(dir, 'missing')), /missing: no such file/);
  const images = write('i2', idx(2051, [2, 3, 4], pixels));
  const labels3 = write('l3', idx(2049, [3], [1, 2, 3]));
  await assert.rejects(readMnist(images, labels3), /holds 2 images but .* holds 3 labels/);
  const bad = write('l-bad', idx(2049, [2], [1, 12]));
  await assert.rejects(readMnistLabels(bad), /label 1 is 12/);
});
