// A fast path for the uploads a classifier gets most: small 8-bit PNGs (a 32×32 CIFAR image).
// sharp (libvips) spends about 0.6 ms of CPU on each image whatever its size (pipeline set-up,
// measured in bench/results/serve.md), as much as ResNet-20's forward pass of one image. Here the
// image data is inflated by Node's own zlib (native, synchronous: no thread-pool hop) and its
// rows unfiltered in a few lines (the five filters of the PNG specification, section 9). fast-png
// did the same in pure JS: its inflate (fflate) cost 150 µs per 32×32 CIFAR PNG against 28 µs for
// zlib.inflateSync (scratch measurement, 18:25 UTC 2026-12-01), a third of the main thread's CPU
// per served image. Only what gives the same bytes
// as sharp is decoded here: 8-bit grayscale, RGB, grayscale+alpha or RGBA (alpha dropped, as
// sharp's removeAlpha does), not interlaced, without colour-management chunks (iCCP, gAMA, cHRM,
// sRGB, sBIT, tRNS), of at most MAX_FAST_PIXELS pixels (the inflate is synchronous: it must stay
// short on the event loop). Anything else returns null and goes to sharp (src/serve/inputs.ts).
import { crc32, inflateSync } from 'node:zlib';

/** Largest image decoded here (256×256): larger ones go to sharp's thread pool. */
export const MAX_FAST_PIXELS = 256 * 256;

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Chunks that change how sharp renders the pixels: with one, sharp decodes. */
const COLOUR_CHUNKS = new Set(['iCCP', 'gAMA', 'cHRM', 'sRGB', 'sBIT', 'tRNS', 'PLTE']);

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

export interface PngPixels {
  /** CHW bytes, channels 1 (grayscale) or 3 (RGB). */
  data: Uint8Array;
  channels: 1 | 3;
  height: number;
  width: number;
}

/** The size a PNG's header gives, or null when the header is not a PNG's. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (!isPng(bytes) || bytes.length < 33) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(8) !== 13 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null;
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/**
 * Decodes a PNG to CHW bytes in the image's own channels (grayscale → 1, colour → 3), or returns
 * null when the fast path does not apply (sharp then decodes it). Throws on a damaged PNG.
 */
export function decodeSmallPng(bytes: Uint8Array): PngPixels | null {
  const size = pngSize(bytes);
  if (!size) return null;
  const { width, height } = size;
  const depth = bytes[24];
  const colour = bytes[25];
  const interlace = bytes[28];
  if (depth !== 8 || interlace !== 0 || width * height > MAX_FAST_PIXELS || width === 0 || height === 0) return null;
  const stored = { 0: 1, 2: 3, 4: 2, 6: 4 }[colour];
  if (stored === undefined) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  let at = 8;
  for (;;) {
    if (at + 12 > bytes.length) throw new Error('the PNG ends before its IEND chunk');
    const length = v.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (at + 12 + length > bytes.length) throw new Error(`the PNG's ${type} chunk runs past its end`);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== v.getUint32(at + 8 + length)) throw new Error(`the PNG's ${type} chunk fails its CRC`);
    if (COLOUR_CHUNKS.has(type)) return null;
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
    if (type === 'IEND') break;
  }
  if (idat.length === 0) throw new Error('the PNG has no image data');
  const row = width * stored;
  const expected = height * (1 + row);
  let filtered: Buffer;
  try {
    // maxOutputLength: a stream that inflates to more than the image is refused without growing.
    filtered = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    throw new Error(`the PNG's image data does not decode to its header's ${width}×${height} pixels (${(e as Error).message})`);
  }
  if (filtered.length !== expected) throw new Error(`the PNG's image data inflates to ${filtered.length} bytes, not the ${expected} of its header's ${width}×${height} pixels`);
  const pixels = unfilter(filtered, height, row, stored);
  const channels = stored <= 2 ? 1 : 3;
  const plane = width * height;
  const data = new Uint8Array(channels * plane);
  // HWC to CHW; a stored alpha channel (stored = channels + 1) is skipped.
  for (let c = 0; c < channels; c++) for (let p = 0, q = c; p < plane; p++, q += stored) data[c * plane + p] = pixels[q];
  return { data, channels, height, width };
}

/**
 * Undoes the PNG row filters (specification section 9.2: None, Sub, Up, Average, Paeth) of
 * `height` rows of `row` bytes, each after its filter byte, `bpp` bytes per pixel.
 */
function unfilter(filtered: Uint8Array, height: number, row: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * row);
  for (let y = 0; y < height; y++) {
    const src = y * (row + 1) + 1;
    const dst = y * row;
    const up = dst - row; // the previous row in `out` (none for the first: read as 0)
    const filter = filtered[src - 1];
    switch (filter) {
      case 0:
        out.set(filtered.subarray(src, src + row), dst);
        break;
      case 1:
        for (let i = 0; i < row; i++) out[dst + i] = filtered[src + i] + (i >= bpp ? out[dst + i - bpp] : 0);
        break;
      case 2:
        for (let i = 0; i < row; i++) out[dst + i] = filtered[src + i] + (y > 0 ? out[up + i] : 0);
        break;
      case 3:
        for (let i = 0; i < row; i++) out[dst + i] = filtered[src + i] + (((i >= bpp ? out[dst + i - bpp] : 0) + (y > 0 ? out[up + i] : 0)) >> 1);
        break;
      case 4:
        for (let i = 0; i < row; i++) {
          const a = i >= bpp ? out[dst + i - bpp] : 0;
          const b = y > 0 ? out[up + i] : 0;
          const c = i >= bpp && y > 0 ? out[up + i - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          out[dst + i] = filtered[src + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        throw new Error(`row ${y} of the PNG has an unknown filter type ${filter}`);
    }
  }
  return out;
}
