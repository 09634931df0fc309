// Files that are not what they claim: FIFOs, devices, folders, files larger than their header says,
// PyTorch checkpoints given as safetensors, and image decompression bombs. Each is refused with a
// clear error before it is read (and without blocking, or growing memory without bound).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { readSafetensors, serializeSafetensors } from '../../src/io/safetensors.ts';
import { readImage } from '../../src/io/image.ts';
import { readIdx } from '../../src/io/mnist.ts';
import { displayPath, readRegularFile } from '../../src/io/regular-file.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-untrusted-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Rejects when `p` does not settle within `ms` (a blocked read is a failure, not a hang). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A grayscale PNG of zeros, built chunk by chunk (never the whole image in memory). */
async function blackPng(width: number, height: number): Promise<Buffer> {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit grayscale, deflate, no filter, no interlace
  const deflate = zlib.createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  const row = Buffer.alloc(width + 1); // filter byte 0, then the row's pixels
  for (let y = 0; y < height; y++) if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  deflate.end();
  await done;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
}

function mkfifo(p: string): boolean {
  try {
    execFileSync('mkfifo', [p]);
    return true;
  } catch {
    return false;
  }
}

/** Unblocks a reader stuck on the FIFO (so a failing test still lets the process exit). */
function releaseFifo(p: string): void {
  try {
    fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch {
    /* no reader waiting */
  }
}

test('a FIFO given as a safetensors file or an image is refused at once, not read forever', async (t) => {
  const fifo = path.join(dir, 'weights.safetensors');
  if (!mkfifo(fifo)) return t.skip('mkfifo is not available');
  try {
    await assert.rejects(within(readSafetensors(fifo), 3000, 'readSafetensors(FIFO)'), /FIFO \(named pipe\), not a regular file/);
    await assert.rejects(within(readImage(fifo, { channels: 1 }), 3000, 'readImage(FIFO)'), /FIFO \(named pipe\), not a regular file/);
    await assert.rejects(within(readRegularFile(fifo, { what: 'key file' }), 3000, 'readRegularFile(FIFO)'), /key file .* is a FIFO/);
  } finally {
    releaseFifo(fifo);
  }
});

test('/dev/zero and a folder are refused before any byte is read', async (t) => {
  await assert.rejects(readSafetensors(dir), /is a folder, not a regular file/);
  await assert.rejects(readImage(dir, { channels: 3 }), /is a folder, not a regular file/);
  if (!fs.existsSync('/dev/zero')) return t.skip('no /dev/zero');
  await assert.rejects(within(readSafetensors('/dev/zero'), 3000, 'readSafetensors(/dev/zero)'), /\/dev\/zero is a character device, not a regular file/);
});

test('a file larger than its header describes is refused before its data is read', async () => {
  const good = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Uint8Array(8) } });
  const p = path.join(dir, 'padded.safetensors');
  const big = new Uint8Array(good.length + 1024 * 1024);
  big.set(good);
  fs.writeFileSync(p, big);
  await assert.rejects(readSafetensors(p), /is \d+ bytes, but its header describes only \d+/);
  fs.writeFileSync(p, good);
  assert.equal((await readSafetensors(p)).tensors.get('w')?.shape[0], 2);
});

test('a PyTorch checkpoint (zip or pickle) gets "not a safetensors file" and how to convert it', async () => {
  // What torch.save writes: a zip archive (PyTorch ≥ 1.6) ...
  const zip = path.join(dir, 'model.pt');
  fs.writeFileSync(zip, Buffer.concat([Buffer.from('PK\x03\x04\x00\x00\x08\x00', 'latin1'), Buffer.alloc(5787, 7)]));
  // ... or, before 1.6, a pickle stream (protocol 2: 0x80 0x02, then the pickled magic number).
  const pickle = path.join(dir, 'legacy.pth');
  fs.writeFileSync(pickle, Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]), Buffer.alloc(300, 1)]));
  for (const [p, kind] of [
    [zip, 'zip'],
    [pickle, 'pickle'],
  ] as const) {
    await assert.rejects(readSafetensors(p), (e: Error) => {
      assert.ok(e.message.includes(`${p} is a PyTorch ${kind} checkpoint, not a safetensors file`), e.message);
      assert.match(e.message, /safetensors\.torch\.save_file\(model\.state_dict\(\)/);
      assert.doesNotMatch(e.message, /header length/);
      return true;
    });
  }
});

test('a small PNG that decodes to gigabytes (a decompression bomb) is refused before decoding', async () => {
  // 10000×10000 grey pixels of 0 compress to about 100 KB but decode to 100 MB (300 MB as RGB).
  const bomb = path.join(dir, 'bomb.png');
  fs.writeFileSync(bomb, await blackPng(10000, 10000));
  const size = fs.statSync(bomb).size;
  assert.ok(size < 2_000_000, `the bomb is small on disk (${size} bytes)`);
  const rss = process.memoryUsage().rss;
  await assert.rejects(readImage(bomb, { channels: 3 }), /bomb\.png is 10000×10000 = 100\.0 megapixels, above the limit of 50\.0/);
  assert.ok(process.memoryUsage().rss - rss < 200 * 2 ** 20, 'refused without decoding the pixels');
  // A caller's own, lower limit applies the same way; a small image under it reads.
  const small = path.join(dir, 'small.png');
  await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 1, g: 2, b: 3 } } })
    .png()
    .toFile(small);
  await assert.rejects(readImage(small, { channels: 3, maxPixels: 1000 }), /40×30 = 0\.0 megapixels, above the limit/);
  assert.equal((await readImage(small, { channels: 3, maxPixels: 1200 })).width, 40);
});

test('MNIST idx files: a FIFO is refused at once, a gzip bomb is not inflated without bound', async (t) => {
  const bomb = path.join(dir, 'bomb-idx.gz');
  // 600 MB of zeros gzip to about 600 KB.
  const gz = zlib.createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gz.on('data', (b: Buffer) => parts.push(b));
  const done = new Promise((resolve) => gz.on('end', resolve));
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < 600; i++) if (!gz.write(block)) await new Promise((r) => gz.once('drain', r));
  gz.end();
  await done;
  fs.writeFileSync(bomb, Buffer.concat(parts));
  await assert.rejects(readIdx(bomb), /bomb-idx\.gz: inflates to more than 536870912 bytes, more than any idx file/);
  const fifo = path.join(dir, 'labels.idx');
  if (!mkfifo(fifo)) return t.skip('mkfifo is not available');
  try {
    await assert.rejects(within(readIdx(fifo), 3000, 'readIdx(FIFO)'), /is a FIFO \(named pipe\), not a regular file/);
  } finally {
    releaseFifo(fifo);
  }
});

test('a secret given where a path is expected is not echoed', async () => {
  const token = `nnlock1-t3-${'a'.repeat(40)}`;
  const hex = 'ab'.repeat(32);
  for (const secret of [token, hex]) {
    assert.ok(!displayPath(secret).includes(secret));
    await assert.rejects(readRegularFile(secret, { what: 'key file' }), (e: Error) => {
      assert.ok(!e.message.includes(secret), e.message);
      assert.match(e.message, /key token or secret given where a file path was expected/);
      return true;
    });
    await assert.rejects(readSafetensors(secret), (e: Error) => !e.message.includes(secret));
  }
});

test('leaks no tensors', checkLeaks);
