// The service's fast PNG path (src/serve/png.ts) against sharp, which decodes every other upload:
// the same bytes for every colour type, size and filter sharp writes; null (sharp's turn) for what
// it does not decode; an error for a damaged file. And decodeImage, which picks between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { crc32 } from 'node:zlib';
import { trackLeaks } from '../helpers/leaks.ts';
import { MAX_FAST_PIXELS, decodeSmallPng } from '../../src/serve/png.ts';
import { decodeImage } from '../../src/serve/inputs.ts';
import { ServeError } from '../../src/serve/errors.ts';
import { encodePng } from '../../src/web/browser/png.ts';

const checkLeaks = trackLeaks();

/** Pixels with smooth parts and noise, so that sharp's adaptive filtering uses every filter type. */
function pixels(width: number, height: number, channels: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const p = Math.floor(i / channels);
    const smooth = ((p % width) * 3 + Math.floor(p / width) * 5 + (i % channels) * 40) & 0xff;
    out[i] = (p % 7 === 0 ? s >>> 24 : smooth) & 0xff;
  }
  return out;
}

/** What sharp decodes (HWC, its own channels, alpha dropped) as CHW. */
async function sharpChw(png: Buffer): Promise<{ data: Uint8Array; channels: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const plane = info.width * info.height;
  const chw = new Uint8Array(info.channels * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < info.channels; c++) chw[c * plane + p] = data[p * info.channels + c];
  return { data: chw, channels: info.channels };
}

test('decodes what sharp writes to the same bytes: grey, grey+alpha, RGB, RGBA, several sizes, every filter', async () => {
  let checked = 0;
  for (const channels of [1, 2, 3, 4] as const)
    for (const [width, height] of [
      [32, 32],
      [1, 1],
      [7, 3],
      [64, 48],
    ]) {
      // Adaptive filtering uses filters 1-4 (Sub, Up, Average, Paeth) on these pixels; without it every row is filter 0.
      for (const [compression, adaptiveFiltering] of [
        [0, true],
        [6, true],
        [9, true],
        [6, false],
      ] as const) {
        const png = await sharp(pixels(width, height, channels, width * 31 + channels), { raw: { width, height, channels } })
          .png({ compressionLevel: compression, adaptiveFiltering })
          .toBuffer();
        const fast = decodeSmallPng(png);
        assert.ok(fast, `${channels} channels ${width}×${height} takes the fast path`);
        const ref = await sharpChw(png);
        assert.equal(fast.channels, ref.channels);
        assert.deepEqual(fast.data, ref.data, `${channels} channels ${width}×${height}, compression ${compression}`);
        checked++;
      }
    }
  assert.equal(checked, 64);
});

test("decodes the page's own PNGs (stored deflate blocks) exactly", () => {
  const chw = pixels(32, 32, 3, 5);
  const fast = decodeSmallPng(Buffer.from(encodePng(chw, 3, 32, 32)));
  assert.ok(fast);
  assert.deepEqual(fast.data, chw);
});

test('leaves to sharp what it does not decode: 16-bit, palette, interlaced, large, colour-managed', async () => {
  const rgb = pixels(16, 16, 3, 1);
  const raw = { raw: { width: 16, height: 16, channels: 3 as const } };
  assert.equal(decodeSmallPng(await sharp(rgb, raw).png({ palette: true }).toBuffer()), null);
  assert.equal(decodeSmallPng(await sharp(rgb, raw).png({ progressive: true }).toBuffer()), null);
  assert.equal(decodeSmallPng(await sharp(rgb, raw).toColourspace('rgb16').png().toBuffer()), null);
  assert.equal(decodeSmallPng(await sharp(rgb, raw).withIccProfile('p3').png().toBuffer()), null);
  const side = Math.ceil(Math.sqrt(MAX_FAST_PIXELS)) + 1;
  assert.equal(
    decodeSmallPng(
      await sharp(pixels(side, side, 1, 2), { raw: { width: side, height: side, channels: 1 } })
        .png()
        .toBuffer(),
    ),
    null,
  );
  assert.equal(decodeSmallPng(Buffer.from('not a png at all')), null);
});

test('a damaged PNG is an error, not pixels: a flipped byte, a truncated file, a short image', async () => {
  const png = await sharp(pixels(32, 32, 3, 9), { raw: { width: 32, height: 32, channels: 3 } })
    .png()
    .toBuffer();
  const flipped = Buffer.from(png);
  flipped[60] ^= 0xff;
  assert.throws(() => decodeSmallPng(flipped), /CRC/);
  assert.throws(() => decodeSmallPng(png.subarray(0, png.length - 20)), /runs past|ends before/);
  // A valid file whose IDAT holds fewer rows than IHDR says.
  const short = Buffer.from(encodePng(pixels(32, 16, 3, 3), 3, 16, 32));
  short.writeUInt32BE(32, 20); // height 32 in IHDR (its CRC now wrong: fix it)
  short.writeUInt32BE(crc32(short.subarray(12, 29)), 29);
  assert.throws(() => decodeSmallPng(short), /does not decode to its header's 32×32 pixels|inflates to/);
});

test('decodeImage gives what sharp gives, fast path or not, in the channels asked for', async () => {
  const grey = await sharp(pixels(32, 32, 1, 4), { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toBuffer();
  const rgb = await sharp(pixels(32, 32, 3, 6), { raw: { width: 32, height: 32, channels: 3 } })
    .png()
    .toBuffer();
  const palette = await sharp(pixels(32, 32, 3, 6), { raw: { width: 32, height: 32, channels: 3 } })
    .png({ palette: true })
    .toBuffer();
  for (const png of [grey, rgb, palette])
    for (const channels of [1, 3, 'own'] as const) {
      const got = await decodeImage(png, { channels, maxPixels: 4_000_000 });
      // The reference: sharp alone, as the service decoded every image before the fast path.
      const pipeline = sharp(png).removeAlpha();
      const { data, info } = await (channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb')).raw().toBuffer({ resolveWithObject: true });
      const plane = 32 * 32;
      let ref = new Uint8Array(info.channels * plane);
      for (let p = 0; p < plane; p++) for (let c = 0; c < info.channels; c++) ref[c * plane + p] = data[p * info.channels + c];
      if (channels === 'own' && ref.subarray(0, plane).every((v, j) => v === ref[j + plane] && v === ref[j + 2 * plane])) ref = ref.slice(0, plane);
      assert.deepEqual(got.data, ref, `channels ${channels}`);
    }
  await assert.rejects(decodeImage(rgb, { channels: 3, maxPixels: 1000 }), (e: unknown) => e instanceof ServeError && e.code === 'too-large' && /32×32/.test(e.message));
  const flipped = Buffer.from(rgb);
  flipped[60] ^= 0xff;
  await assert.rejects(decodeImage(flipped, { channels: 3, maxPixels: 4_000_000 }), (e: unknown) => e instanceof ServeError && e.code === 'bad-image');
  const webp = await sharp(pixels(8, 8, 3, 1), { raw: { width: 8, height: 8, channels: 3 } })
    .webp()
    .toBuffer();
  await assert.rejects(decodeImage(webp, { channels: 3, maxPixels: 4_000_000 }), (e: unknown) => e instanceof ServeError && e.code === 'bad-image' && /webp/.test(e.message));
});

test('leaks no tensors', checkLeaks);
