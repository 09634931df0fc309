// A classifier's input from 8-bit pixels: (v/255 − mean_c)/std_c, or v/255 without a normalisation
// (hill256 ciphertext, an Encryption-Robust model), looked up in a table of the 256 values per
// channel. The main thread sends the pixels to the inference workers as they are (a quarter of the
// bytes of float32 input, and no float array per image on the main thread's heap); the worker that
// holds the model turns a batch into network input with its table. One table, built here, for both.
import type { Normalisation } from '../data/normalisation.ts';

/** The 256 input values of each of `channels` channels, channel after channel. */
export function pixelTable(normalisation: Normalisation | null, channels: number): Float32Array {
  const table = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) for (let v = 0; v < 256; v++) table[c * 256 + v] = normalisation ? (v / 255 - normalisation.mean[c]) / normalisation.std[c] : v / 255;
  return table;
}

/** Network input of CHW pixels ([N, C, H, W] bytes, `plane` = H·W) through a channel's table. */
export function applyPixelTable(table: Float32Array, pixels: Uint8Array, channels: number, plane: number): Float32Array {
  if (table.length !== 256 * channels) throw new RangeError(`a pixel table of ${table.length / 256} channels for ${channels}-channel input`);
  if (pixels.length % (channels * plane) !== 0) throw new RangeError(`${pixels.length} bytes are not whole ${channels}×${plane} images`);
  // One look-up per pixel (Float32Array.from with a map function costs ~20× more).
  const out = new Float32Array(pixels.length);
  for (let at = 0; at < pixels.length; at += channels * plane)
    for (let c = 0; c < channels; c++) {
      const base = c * 256;
      const from = at + c * plane;
      for (let p = from; p < from + plane; p++) out[p] = table[base + pixels[p]];
    }
  return out;
}
