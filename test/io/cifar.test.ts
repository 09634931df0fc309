import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CIFAR_RECORD_BYTES, readCifar10, writeCifar10 } from '../../src/io/cifar.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-cifar-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function synthetic(n: number, salt: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * 3072).map((_, i) => (i * 7 + salt) % 256);
  const labels = new Uint8Array(n).map((_, i) => (i + salt) % 10);
  return { images, labels };
}

test('write then read round-trips images and labels; several files concatenate in order', async () => {
  const a = synthetic(5, 1);
  const b = synthetic(3, 2);
  await writeCifar10(path.join(dir, 'a.bin'), a.images, a.labels);
  await writeCifar10(path.join(dir, 'b.bin'), b.images, b.labels);
  assert.equal(fs.statSync(path.join(dir, 'a.bin')).size, 5 * CIFAR_RECORD_BYTES);
  const one = await readCifar10([path.join(dir, 'a.bin')]);
  assert.equal(one.count, 5);
  assert.deepEqual(one.images, a.images);
  assert.deepEqual(one.labels, a.labels);
  const both = await readCifar10([path.join(dir, 'a.bin'), path.join(dir, 'b.bin')]);
  assert.equal(both.count, 8);
  assert.deepEqual([...both.labels], [...a.labels, ...b.labels]);
  assert.deepEqual(both.images.subarray(5 * 3072), b.images);
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0, 'no temp file left');
});

test('record layout: label byte, then R, G, B planes row-major', async () => {
  const images = new Uint8Array(3072);
  images[0] = 11; // R(0,0)
  images[1024 + 33] = 22; // G(1,1)
  images[2048 + 1023] = 33; // B(31,31)
  await writeCifar10(path.join(dir, 'layout.bin'), images, [7]);
  const raw = fs.readFileSync(path.join(dir, 'layout.bin'));
  assert.equal(raw[0], 7);
  assert.equal(raw[1], 11);
  assert.equal(raw[1 + 1024 + 33], 22);
  assert.equal(raw[3072], 33);
});

test('a missing file is a clear error', async () => {
  await assert.rejects(readCifar10([path.join(dir, 'nope.bin')]), /nope\.bin: no such file/);
});

test('a size that is not a multiple of 3073 is a clear error', async () => {
  fs.writeFileSync(path.join(dir, 'short.bin'), new Uint8Array(3073 * 2 - 1));
  await assert.rejects(readCifar10([path.join(dir, 'short.bin')]), /short\.bin: size 6145 bytes is not a positive multiple of the 3073-byte/);
  fs.writeFileSync(path.join(dir, 'empty.bin'), new Uint8Array(0));
  await assert.rejects(readCifar10([path.join(dir, 'empty.bin')]), /empty\.bin: size 0/);
});

test('a label above 9 is a clear error naming the record', async () => {
  const bytes = new Uint8Array(3073 * 2);
  bytes[3073] = 10;
  fs.writeFileSync(path.join(dir, 'badlabel.bin'), bytes);
  await assert.rejects(readCifar10([path.join(dir, 'badlabel.bin')]), /badlabel\.bin: record 1 has label 10/);
});

test('write rejects bad labels and mismatched sizes', async () => {
  await assert.rejects(writeCifar10(path.join(dir, 'x.bin'), new Uint8Array(3072), [10]), /label 0 is 10/);
  await assert.rejects(writeCifar10(path.join(dir, 'x.bin'), new Uint8Array(3071), [1]), /do not hold 1 images/);
  assert.equal(fs.existsSync(path.join(dir, 'x.bin')), false);
});
