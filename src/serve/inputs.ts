// Request bodies to network input: an uploaded PNG or JPEG (checked for its format and size before
// it is decoded), or a raw tensor in JSON ({shape, dtype, data: base64 little-endian}). Every
// problem is a ServeError with a message a client can act on.
import sharp, { type OutputInfo } from 'sharp';
import type { Channels } from '../io/image.ts';
import { ServeError } from './errors.ts';
import { decodeSmallPng, isPng, pngSize } from './png.ts';

export interface DecodedImage {
  /** CHW bytes. */
  data: Uint8Array;
  channels: Channels;
  height: number;
  width: number;
}

export interface DecodeOptions {
  /** Channels wanted: 1 (grayscale) or 3 (RGB); the image is converted. 'own': 1 if it is grey, else 3. */
  channels: Channels | 'own';
  maxPixels: number;
  /** Resize to exactly this size; without it the image keeps its own. */
  resize?: { height: number; width: number };
  /** What to call the image in messages ("the image", "images[2]"). */
  what?: string;
}

const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

/** Decodes a PNG or JPEG upload to CHW bytes. */
export async function decodeImage(bytes: Uint8Array, o: DecodeOptions): Promise<DecodedImage> {
  const what = o.what ?? 'the image';
  const png = isPng(bytes);
  if (!png && !JPEG_SIGNATURE.every((b, i) => bytes[i] === b)) return refuseFormat(bytes, what);
  if (png && !o.resize) {
    const size = pngSize(bytes);
    if (size && size.width * size.height > o.maxPixels) throw tooLarge(what, size.width, size.height, o.maxPixels);
    let small: ReturnType<typeof decodeSmallPng>;
    try {
      small = decodeSmallPng(bytes);
    } catch (e) {
      throw new ServeError('bad-image', `${what} is not a readable PNG (${(e as Error).message})`);
    }
    // Grey to RGB is the grey plane three times, as sharp makes it; RGB to grey is sharp's.
    if (small && (o.channels === 'own' || o.channels === small.channels || o.channels === 3)) return ownChannels(widen(small, o.channels), o.channels);
  }
  // One sharp pipeline: it reads the header, refuses more than maxPixels before decoding, decodes.
  let pipeline = sharp(bytes, { limitInputPixels: o.maxPixels }).removeAlpha();
  if (o.resize) pipeline = pipeline.resize(o.resize.width, o.resize.height, { fit: 'fill', kernel: 'lanczos3' });
  pipeline = o.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    const message = (e as Error).message;
    if (/pixel limit/i.test(message)) {
      const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
      throw tooLarge(what, meta.width ?? 0, meta.height ?? 0, o.maxPixels);
    }
    throw new ServeError('bad-image', `${what} could not be decoded (${message})`);
  }
  const { width, height, channels } = raw.info;
  if (channels !== 1 && channels !== 3) throw new ServeError('bad-image', `${what} decoded to ${channels} channels`);
  return ownChannels({ data: hwcToChw(raw.data, channels, height, width), channels, height, width }, o.channels);
}

function tooLarge(what: string, width: number, height: number, maxPixels: number): ServeError {
  return new ServeError('too-large', `${what} is ${width}×${height}, more than the ${maxPixels} pixels this server decodes`);
}

/** Neither PNG nor JPEG: says what it is when sharp can tell. */
async function refuseFormat(bytes: Uint8Array, what: string): Promise<never> {
  let format: string | undefined;
  try {
    format = (await sharp(bytes, { limitInputPixels: false }).metadata()).format;
  } catch (e) {
    throw new ServeError('bad-image', `${what} is not a readable PNG or JPEG (${(e as Error).message})`);
  }
  throw new ServeError('bad-image', `${what} is ${format ?? 'of an unknown format'}: send a PNG or JPEG`);
}

/** A grey image as RGB (the plane three times) when RGB is asked for. */
function widen(img: DecodedImage, channels: Channels | 'own'): DecodedImage {
  if (channels !== 3 || img.channels === 3) return img;
  const plane = img.height * img.width;
  const data = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) data.set(img.data, c * plane);
  return { ...img, data, channels: 3 };
}

/** 'own': a grey image (a grayscale file, or grey stored as RGB) is one channel, as the CLI takes it. */
function ownChannels(img: DecodedImage, wanted: Channels | 'own'): DecodedImage {
  const { data, height, width } = img;
  const plane = height * width;
  if (wanted === 'own' && img.channels === 3 && data.subarray(0, plane).every((v, j) => v === data[j + plane] && v === data[j + 2 * plane])) {
    return { data: data.slice(0, plane), channels: 1, height, width };
  }
  return img;
}

function hwcToChw(src: Uint8Array, channels: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  if (channels === 1) return Uint8Array.from(src.subarray(0, plane));
  const out = new Uint8Array(channels * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) out[c * plane + p] = src[p * channels + c];
  return out;
}

/** CHW floats in [0, 1] to a PNG. */
export async function encodePng(data: Float32Array, channels: Channels, height: number, width: number): Promise<Buffer> {
  const plane = height * width;
  const hwc = new Uint8ClampedArray(channels * plane);
  for (let c = 0; c < channels; c++) for (let p = 0; p < plane; p++) hwc[p * channels + c] = data[c * plane + p] * 255;
  const image = sharp(new Uint8Array(hwc.buffer), { raw: { width, height, channels } });
  return (channels === 1 ? image.toColourspace('b-w') : image).png().toBuffer();
}

/** A tensor sent as JSON: {shape: [N, C, H, W], dtype: "float32" | "uint8", data: base64 of the little-endian values}. */
export interface TensorBody {
  shape: number[];
  dtype: 'float32' | 'uint8';
  data: Float32Array | Uint8Array;
}

export function parseTensorBody(raw: unknown, o: { maxImages: number; image: [number, number | null, number | null] }): TensorBody {
  if (typeof raw !== 'object' || raw === null) throw new ServeError('bad-request', '"tensor" must be an object {shape, dtype, data}');
  const t = raw as Record<string, unknown>;
  if (t.dtype !== 'float32' && t.dtype !== 'uint8') throw new ServeError('bad-request', `tensor.dtype must be "float32" or "uint8", got ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || t.shape.length !== 4 || !t.shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ServeError('bad-request', `tensor.shape must be [N, C, H, W] of positive integers, got ${JSON.stringify(t.shape)}`);
  }
  const shape = t.shape as number[];
  const [n, c, h, w] = shape;
  if (n > o.maxImages) throw new ServeError('too-large', `the tensor holds ${n} images, more than the ${o.maxImages} a request may send`);
  const [wc, wh, ww] = o.image;
  if (c !== wc || (wh !== null && h !== wh) || (ww !== null && w !== ww)) {
    throw new ServeError('bad-request', `tensor.shape ${JSON.stringify(shape)} does not fit this model's input [N, ${wc}, ${wh ?? 'H'}, ${ww ?? 'W'}]`);
  }
  if (typeof t.data !== 'string') throw new ServeError('bad-request', 'tensor.data must be a base64 string of the little-endian values');
  const bytes = Buffer.from(t.data, 'base64');
  const size = t.dtype === 'float32' ? 4 : 1;
  if (bytes.length !== n * c * h * w * size) throw new ServeError('bad-request', `tensor.data has ${bytes.length} bytes; ${t.dtype}${JSON.stringify(shape)} needs ${n * c * h * w * size}`);
  if (t.dtype === 'uint8') return { shape, dtype: 'uint8', data: new Uint8Array(bytes) };
  const data = new Float32Array(n * c * h * w);
  new Uint8Array(data.buffer).set(bytes); // copies: Buffer offsets need not be aligned, and the host is little-endian
  for (const v of data) if (!Number.isFinite(v)) throw new ServeError('bad-request', 'tensor.data holds NaN or infinite values');
  return { shape, dtype: 'float32', data };
}
