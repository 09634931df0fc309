// A fast path for the uploads a classifier gets most: small 8-bit PNGs (a 32×32 CIFAR image).
// sharp (libvips) spends about 0.6 ms of CPU on each image whatever its size (pipeline set-up,
// measured in bench/results/serve.md), as much as ResNet-20's forward pass of one image; inflating
// a 32×32 PNG and undoing its filters takes a few microseconds in fast-png (image-js's maintained
// pure-JS decoder, run synchronously: no thread-pool hop). Only what gives the same bytes
// as sharp is decoded here: 8-bit grayscale, RGB, grayscale+alpha or RGBA (alpha dropped, as
// sharp's removeAlpha does), not interlaced, without colour-management chunks (iCCP, gAMA, cHRM,
// sRGB, sBIT, tRNS), of at most MAX_FAST_PIXELS pixels (the inflate is synchronous: it must stay
// short on the event loop). Anything else returns null and goes to sharp (src/serve/inputs.ts).
import { crc32 } from 'node:zlib';
import { decode } from 'fast-png';

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
  let idat = 0;
  let at = 8;
  for (;;) {
    if (at + 12 > bytes.length) throw new Error('the PNG ends before its IEND chunk');
    const length = v.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (at + 12 + length > bytes.length) throw new Error(`the PNG's ${type} chunk runs past its end`);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== v.getUint32(at + 8 + length)) throw new Error(`the PNG's ${type} chunk fails its CRC`);
    if (COLOUR_CHUNKS.has(type)) return null;
    if (type === 'IDAT') idat++;
    at += 12 + length;
    if (type === 'IEND') break;
  }
  if (idat === 0) throw new Error('the PNG has no image data');
  let decoded: ReturnType<typeof decode>;
  try {
    decoded = decode(bytes); // every chunk's CRC was checked above
  } catch (e) {
    throw new Error(`the PNG's image data does not decode to its header's ${width}×${height} pixels (${(e as Error).message})`);
  }
  const expected = width * height * stored;
  if (decoded.data.length !== expected) throw new Error(`the PNG's image data inflates to ${decoded.data.length} bytes of pixels, not ${expected}`);
  const pixels = decoded.data as Uint8Array;
  const channels = stored <= 2 ? 1 : 3;
  const plane = width * height;
  const data = new Uint8Array(channels * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) data[c * plane + p] = pixels[p * stored + c];
  return { data, channels, height, width };
}
