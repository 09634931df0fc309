// The work of the two inference endpoints, between the parsed request and the response: turn the
// body into network input, run it in the pool (batched with other requests), shape the answer.
//
// Classify takes, by Content-Type:
//   image/png, image/jpeg    one image                          → {model, tier, top}
//   application/json {images: [base64 PNG/JPEG, ...]}           → {model, tier, results: [{top}]}
//   application/json {tensor: {shape: [N,C,H,W], dtype, data}}  → {model, tier, results: [{top}]}
// Images are pixels/255, normalised by the model's mean/std for a plaintext classifier (by the worker
// that runs the batch: src/serve/pixel-table.ts; the main thread sends the bytes). A tensor is
// taken as the network's input as it is: for a plaintext classifier, already normalised float32
// (uint8 pixels are normalised); for an encrypted classifier, the ciphertext (float32 as the
// network sees it, or hill256 bytes as uint8, divided by 255). hill256 ciphertext may also come
// as a PNG (it is a picture); real-valued ciphertexts only as tensors.
import { addGaussianNoise } from '../data/denoise-patches.ts';
import { psnrOfMse } from '../train/metrics.ts';
import type { Channels } from '../io/image.ts';
import type { ServedModel } from './catalog.ts';
import type { Limits } from './config.ts';
import type { CancelSignal, InferencePool } from './pool.ts';
import { ServeError } from './errors.ts';
import { decodeImage, encodePng, parseTensorBody } from './inputs.ts';

export interface TopClass {
  class: string;
  index: number;
  probability: number;
}

export type ClassifyResult = { model: string; tier: number; top: TopClass[] } | { model: string; tier: number; results: { top: TopClass[] }[] };

type Query = Record<string, string | undefined>;

function isImageType(type: string | undefined): boolean {
  const t = (type ?? '').split(';')[0].trim().toLowerCase();
  return t === 'image/png' || t === 'image/jpeg';
}

function topK(probabilities: Float32Array, classes: readonly string[], k: number): TopClass[] {
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, k).map((i) => ({ class: classes[i], index: i, probability: probabilities[i] }));
}

function parseTop(raw: string | undefined, classes: number): number {
  if (raw === undefined) return Math.min(5, classes);
  const n = Number(raw);
  if (raw === '' || !Number.isInteger(n) || n < 1) throw new ServeError('bad-request', `top must be a positive integer, got '${raw}'`);
  return Math.min(n, classes);
}

/** An uploaded image as a classifier's input pixels: CHW bytes at its size and channels (its worker normalises them). */
async function classifierImage(model: ServedModel, bytes: Uint8Array, limits: Limits, what: string): Promise<Uint8Array> {
  const { channels, height, width } = model.info.input;
  if (model.info.cipher && model.info.cipher.kind !== 'hill256') {
    throw new ServeError('bad-request', `model ${model.name} classifies ${model.info.cipher.kind} ciphertext, which is real-valued: send it as {"tensor": ...}, not as an image`);
  }
  const img = await decodeImage(bytes, { channels: channels as Channels, maxPixels: limits.imagePixels, resize: model.resize && height && width ? { height, width } : undefined, what });
  if (img.height !== height || img.width !== width) throw new ServeError('bad-image', `${what} is ${img.width}×${img.height}; model ${model.name} takes ${width}×${height} images`);
  return img.data;
}

export async function classify(
  model: ServedModel,
  tier: number,
  type: string | undefined,
  body: unknown,
  query: Query,
  pool: InferencePool,
  limits: Limits,
  signal?: CancelSignal,
): Promise<ClassifyResult> {
  const classes = model.info.classes!;
  const k = parseTop(query.top, classes.length);
  const { channels, height, width } = model.info.input;
  const image = [channels, height!, width!];
  const run = async (n: number, data: Float32Array | Uint8Array) => {
    const r = await pool.run(model.name, tier, image, n, data, limits.requestTimeoutMs, signal);
    const K = r.shape[1];
    return Array.from({ length: n }, (_, i) => ({ top: topK(r.data.subarray(i * K, (i + 1) * K), classes, k) }));
  };
  if (isImageType(type)) {
    const x = await classifierImage(model, body as Buffer, limits, 'the image');
    const [one] = await run(1, x);
    return { model: model.name, tier, top: one.top };
  }
  if (!/^application\/json\b/i.test(type ?? '')) throw new ServeError('unsupported-media-type', 'classify takes image/png, image/jpeg or application/json');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ServeError('bad-request', 'send an image (image/png, image/jpeg) or JSON {"images": [...]} or {"tensor": {...}}');
  const b = body as Record<string, unknown>;
  if ((b.images === undefined) === (b.tensor === undefined)) throw new ServeError('bad-request', 'the JSON body must have exactly one of "images" (base64 PNG/JPEG strings) and "tensor"');
  if (b.images !== undefined) {
    if (!Array.isArray(b.images) || b.images.length === 0 || !b.images.every((s) => typeof s === 'string'))
      throw new ServeError('bad-request', '"images" must be a non-empty list of base64 PNG/JPEG strings');
    if (b.images.length > limits.imagesPerRequest) throw new ServeError('too-large', `${b.images.length} images, more than the ${limits.imagesPerRequest} a request may send`);
    const inputs = await Promise.all((b.images as string[]).map((s, i) => classifierImage(model, Buffer.from(s, 'base64'), limits, `images[${i}]`)));
    const per = channels * height! * width!;
    const data = new Uint8Array(inputs.length * per);
    inputs.forEach((x, i) => data.set(x, i * per));
    return { model: model.name, tier, results: await run(inputs.length, data) };
  }
  const t = parseTensorBody(b.tensor, { maxImages: limits.imagesPerRequest, image: [channels, height, width] });
  // uint8: pixels, or hill256 ciphertext bytes (an encrypted classifier's pixel table is v/255).
  if (t.dtype !== 'float32' && model.info.cipher && model.info.cipher.kind !== 'hill256')
    throw new ServeError('bad-request', `${model.info.cipher.kind} ciphertext is real-valued: send dtype float32`);
  const data = t.dtype === 'float32' ? (t.data as Float32Array) : (t.data as Uint8Array);
  return { model: model.name, tier, results: await run(t.shape[0], data) };
}

export interface Denoised {
  png: Buffer;
  /** dB of the denoised image against the upload, when noise was added (?sigma=). */
  psnr?: number;
}

/**
 * Denoises one uploaded image (in its own channels: a grayscale network takes a colour image one
 * channel at a time). With ?sigma=s, Gaussian noise of σ = s (0..255 scale, seeded by ?seed=,
 * default 0) is added first and the PSNR of the result against the upload is measured.
 */
export async function denoise(model: ServedModel, tier: number, type: string | undefined, body: unknown, query: Query, pool: InferencePool, limits: Limits, signal?: CancelSignal): Promise<Denoised> {
  if (!isImageType(type)) throw new ServeError('unsupported-media-type', 'denoise takes one image: Content-Type image/png or image/jpeg');
  let sigma: number | undefined;
  if (query.sigma !== undefined) {
    sigma = Number(query.sigma);
    if (query.sigma === '' || !(sigma > 0) || sigma > 255) throw new ServeError('bad-request', `sigma must be a number in (0, 255], got '${query.sigma}'`);
  }
  const seed = query.seed === undefined ? 0 : Number(query.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new ServeError('bad-request', `seed must be an integer ≥ 0, got '${query.seed}'`);
  const net = model.info.input.channels;
  const img = await decodeImage(body as Buffer, { channels: net === 3 ? 3 : 'own', maxPixels: limits.imagePixels });
  const clean = Float32Array.from(img.data, (v) => v / 255);
  const noisy = sigma === undefined ? clean : addGaussianNoise(clean, sigma, seed);
  // A grayscale network takes the planes of a colour image as a batch of grayscale images.
  const [n, c] = net === 1 ? [img.channels, 1] : [1, 3];
  const r = await pool.run(model.name, tier, [c, img.height, img.width], n, noisy, limits.requestTimeoutMs, signal);
  const png = await encodePng(r.data, img.channels, img.height, img.width);
  if (sigma === undefined) return { png };
  let se = 0;
  for (let i = 0; i < clean.length; i++) se += (r.data[i] - clean[i]) ** 2;
  return { png, psnr: psnrOfMse(se / clean.length) };
}
