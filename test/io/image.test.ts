import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { imageGridPng, readImage, writePng } from '../../src/io/image.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-image-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const H = 5;
const W = 7;
const gray = new Uint8Array(H * W).map((_, i) => (i * 37) % 256);
const rgb = new Uint8Array(3 * H * W).map((_, i) => (i * 53 + 11) % 256); // CHW

test('grayscale PNG round trip is exact', async () => {
  const p = path.join(dir, 'gray.png');
  await writePng(p, gray, 1, H, W);
  const img = await readImage(p, { channels: 1 });
  assert.deepEqual({ c: img.channels, h: img.height, w: img.width }, { c: 1, h: H, w: W });
  assert.deepEqual(img.data, gray);
});

test('RGB PNG round trip is exact and CHW (planes, not interleaved)', async () => {
  const p = path.join(dir, 'rgb.png');
  await writePng(p, rgb, 3, H, W);
  const img = await readImage(p, { channels: 3 });
  assert.deepEqual(img.data, rgb);
  // sharp's own HWC view of pixel (y=1, x=2) must match our planes.
  const hwc = await sharp(p).raw().toBuffer();
  const at = (1 * W + 2) * 3;
  for (let c = 0; c < 3; c++) assert.equal(hwc[at + c], rgb[c * H * W + 1 * W + 2]);
});

test('Float32 data in [0, 1] is scaled, rounded and clamped', async () => {
  const p = path.join(dir, 'float.png');
  await writePng(p, new Float32Array([0, 0.5, 1, -0.2, 1.7, 0.1]), 1, 2, 3);
  const img = await readImage(p, { channels: 1 });
  assert.deepEqual([...img.data], [0, 128, 255, 0, 255, 26]);
});

test('channel conversion: grayscale read as RGB repeats the plane; RGB read as grayscale gives one channel', async () => {
  const g = path.join(dir, 'g.png');
  await writePng(g, gray, 1, H, W);
  const asRgb = await readImage(g, { channels: 3 });
  assert.equal(asRgb.channels, 3);
  for (let c = 0; c < 3; c++) assert.deepEqual(asRgb.data.subarray(c * H * W, (c + 1) * H * W), gray);
  const equalRgb = path.join(dir, 'equal-rgb.png');
  await writePng(equalRgb, new Uint8Array([...gray, ...gray, ...gray]), 3, H, W);
  const asGray = await readImage(equalRgb, { channels: 1 });
  assert.equal(asGray.channels, 1);
  assert.ok(
    asGray.data.every((v, i) => Math.abs(v - gray[i]) <= 1),
    'a grey RGB image stays its grey level',
  );
});

test('alpha is stripped', async () => {
  const p = path.join(dir, 'rgba.png');
  const hwca = new Uint8Array(2 * 2 * 4).map((_, i) => (i % 4 === 3 ? 128 : i * 10));
  await sharp(hwca, { raw: { width: 2, height: 2, channels: 4 } })
    .png()
    .toFile(p);
  const img = await readImage(p, { channels: 3 });
  assert.equal(img.channels, 3);
  assert.equal(img.data.length, 12);
  assert.deepEqual([img.data[0], img.data[4], img.data[8]], [0, 10, 20]);
});

test('JPEG files read (lossy: values close), and resize gives the size asked', async () => {
  const p = path.join(dir, 'flat.jpg');
  const hwc = new Uint8Array(16 * 16 * 3).map((_, i) => [200, 100, 50][i % 3]);
  await sharp(hwc, { raw: { width: 16, height: 16, channels: 3 } })
    .jpeg({ quality: 95 })
    .toFile(p);
  const img = await readImage(p, { channels: 3 });
  assert.deepEqual([img.channels, img.height, img.width], [3, 16, 16]);
  const mean = (c: number) => img.data.subarray(c * 256, (c + 1) * 256).reduce((a, b) => a + b, 0) / 256;
  assert.ok(Math.abs(mean(0) - 200) < 4 && Math.abs(mean(1) - 100) < 4 && Math.abs(mean(2) - 50) < 4);
  const small = await readImage(p, { channels: 1, resize: { height: 4, width: 8 } });
  assert.deepEqual([small.channels, small.height, small.width, small.data.length], [1, 4, 8, 32]);
});

test('a file sharp cannot read is an error naming the path', async () => {
  const p = path.join(dir, 'corrupt.png');
  fs.writeFileSync(p, Buffer.from('\x89PNG\r\n\x1a\n this is not really a png'));
  await assert.rejects(readImage(p, { channels: 1 }), (e: Error) => e.message.includes(p) && /not a readable image/.test(e.message));
  await assert.rejects(readImage(path.join(dir, 'absent.png'), { channels: 1 }), /absent\.png: no such file/);
});

test('imageGridPng lays tiles out with gaps; labels add a strip above each tile', async () => {
  const p = path.join(dir, 'grid.png');
  const black = new Uint8Array(4 * 6); // 1×4×6
  const red = new Uint8Array(3 * 4 * 6);
  red.fill(255, 0, 24);
  await imageGridPng(
    p,
    [
      { data: black, channels: 1, height: 4, width: 6 },
      { data: red, channels: 3, height: 4, width: 6 },
      { data: new Float32Array(2 * 3).fill(1), channels: 1, height: 2, width: 3 }, // scaled up to 4×6
    ],
    { columns: 2, gap: 2 },
  );
  const { data, info } = await sharp(p).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [2 + 2 * 8, 2 + 2 * 6, 3]);
  const px = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  assert.deepEqual(px(0, 0), [255, 255, 255], 'gap is background');
  assert.deepEqual(px(2, 2), [0, 0, 0], 'tile 0');
  assert.deepEqual(px(10, 2), [255, 0, 0], 'tile 1 (red)');
  assert.deepEqual(px(2, 8), [255, 255, 255], 'tile 2 (white, scaled)');
  assert.deepEqual(px(7, 5), [0, 0, 0], 'tile 0 bottom-right corner');

  // A grayscale tile scaled up keeps its pixels where they were (sharp once made it three bytes a
  // pixel, which drew a grey image as stripes).
  const ramp = path.join(dir, 'ramp.png');
  await imageGridPng(ramp, [{ data: Uint8Array.from({ length: 2 * 3 }, (_, i) => 40 * i), channels: 1, height: 2, width: 3 }], { gap: 0, tileHeight: 4, tileWidth: 6 });
  const r = await sharp(ramp).raw().toBuffer({ resolveWithObject: true });
  const gray = (x: number, y: number) => r.data[(y * r.info.width + x) * r.info.channels];
  assert.deepEqual([r.info.width, r.info.height], [6, 4]);
  assert.deepEqual(
    [0, 1, 2, 3].map((y) => [0, 1, 2, 3, 4, 5].map((x) => gray(x, y))),
    [
      [0, 0, 40, 40, 80, 80],
      [0, 0, 40, 40, 80, 80],
      [120, 120, 160, 160, 200, 200],
      [120, 120, 160, 160, 200, 200],
    ],
  );

  const labelled = path.join(dir, 'labelled.png');
  await imageGridPng(labelled, [
    { data: black, channels: 1, height: 4, width: 6, label: 'A' },
    { data: black, channels: 1, height: 4, width: 6, label: 'B<&>' },
  ]);
  const meta = await sharp(labelled).metadata();
  assert.equal(meta.width, 4 + 2 * 10);
  assert.equal(meta.height, 4 + 16 + 4 + 4);
});
