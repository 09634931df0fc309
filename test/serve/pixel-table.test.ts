// The pixel table that turns a batch of 8-bit pixels into a classifier's input in its worker: the
// value of every pixel is the normalisation's (v/255 − mean)/std of its own channel (or v/255), in
// float32, image after image; wrong sizes are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPixelTable, pixelTable } from '../../src/serve/pixel-table.ts';

const normalisation = { mean: [0.1, 0.5, 0.9], std: [0.2, 0.3, 0.4] };

test('each pixel becomes its channel’s normalised value, for every image of the batch', () => {
  const [n, c, plane] = [3, 3, 5];
  const pixels = Uint8Array.from({ length: n * c * plane }, (_, i) => (i * 37 + 11) % 256);
  const x = applyPixelTable(pixelTable(normalisation, c), pixels, c, plane);
  assert.equal(x.length, pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const channel = Math.floor(i / plane) % c;
    assert.equal(x[i], Math.fround((pixels[i] / 255 - normalisation.mean[channel]) / normalisation.std[channel]), `element ${i}`);
  }
});

test('without a normalisation the input is v/255, the same float32 as Float32Array.from', () => {
  const pixels = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(
    applyPixelTable(pixelTable(null, 1), pixels, 1, 256),
    Float32Array.from(pixels, (v) => v / 255),
  );
});

test('a table of other channels, or bytes that are not whole images, are refused', () => {
  assert.throws(() => applyPixelTable(pixelTable(null, 1), new Uint8Array(12), 3, 4), /1 channels for 3-channel/);
  assert.throws(() => applyPixelTable(pixelTable(null, 3), new Uint8Array(13), 3, 4), /not whole 3×4 images/);
});
