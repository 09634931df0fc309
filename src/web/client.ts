// `nnlock client`'s library side: calls to a running `nnlock serve` from node, through the same
// typed API as the page (./browser/api.ts). With a cipher key, images are encrypted here with
// src/cipher and only the ciphertext is sent (a PNG per image for hill256, one float32 tensor
// otherwise), as the page does in the browser. Images are centre-cropped and resized to the
// model's input when their size differs, as the page does.
//
// Credentials go only into the Authorization header; an error message that would contain one
// (a server echoing it back) has it replaced by "[credential]".
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { noGrad, scope, tensor } from '../tensor/index.ts';
import { div } from '../ops/arithmetic.ts';
import { toDtype } from '../ops/convert.ts';
import { type Image, readImage } from '../io/image.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { type CipherKey, keyId } from '../cipher/key.ts';
import { BlockCipher } from '../cipher/hill.ts';
import { encryptPixels } from '../cipher/data.ts';
import { type Classification, type ModelInfo, ServiceClient, ServiceError, type TopClass, tensorBody } from './browser/api.ts';
import { encodePng } from './browser/png.ts';

export { ServiceError } from './browser/api.ts';
export type { ModelInfo, TopClass } from './browser/api.ts';

export interface Connection {
  /** Base URL of the server, e.g. http://127.0.0.1:8080. */
  server: string;
  /** A tier token or an API key; none: anonymous. */
  credential?: string;
}

/** Runs a call, replacing the credential in any error message that would show it. */
async function guarded<T>(c: Connection, call: (client: ServiceClient) => Promise<T>): Promise<T> {
  try {
    return await call(new ServiceClient({ server: c.server, credential: c.credential }));
  } catch (e) {
    if (c.credential && e instanceof Error && e.message.includes(c.credential)) e.message = e.message.split(c.credential).join('[credential]');
    throw e;
  }
}

export function listModels(c: Connection): Promise<ModelInfo[]> {
  return guarded(c, (client) => client.models());
}

async function findModel(client: ServiceClient, name: string): Promise<ModelInfo> {
  const models = await client.models();
  const m = models.find((x) => x.name === name);
  if (!m) throw new ServiceError(404, 'unknown-model', `the server has no model "${name}" (it has: ${models.map((x) => x.name).join(', ') || 'none'})`);
  return m;
}

/** An image file as the model's input: its channels, and its size (centre crop + resize) when the model fixes one. */
async function inputImage(path: string, m: ModelInfo, channels: 1 | 3): Promise<Image> {
  const img = await readImage(path, { channels });
  const { height, width } = m.input;
  if (!height || !width || (img.height === height && img.width === width)) return img;
  const hwc = new Uint8Array(img.data.length);
  const n = img.height * img.width;
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) hwc[i * channels + c] = img.data[c * n + i];
  const out = await sharp(hwc, { raw: { width: img.width, height: img.height, channels } })
    .resize({ width, height, fit: 'cover' })
    .raw()
    .toBuffer();
  const chw = new Uint8Array(channels * height * width);
  for (let i = 0; i < height * width; i++) for (let c = 0; c < channels; c++) chw[c * height * width + i] = out[i * channels + c];
  return { data: chw, channels, height, width };
}

export interface ClassifyOptions extends Connection {
  model: string;
  /** PNG/JPEG files, sent in one request. */
  images: readonly string[];
  /** Encrypt locally with this key and send only the ciphertext (encrypted-classifier models). */
  key?: CipherKey;
  top?: number;
  tier?: number;
}

export interface ClassifyResult {
  model: string;
  tier: number;
  /** The key the images were encrypted with (its public id), or null when they went as they are. */
  encrypted: { kind: string; keyId: string } | null;
  results: { image: string; top: TopClass[] }[];
}

/** Classifies image files on the server, encrypting them first when a key is given. */
export function classifyFiles(o: ClassifyOptions): Promise<ClassifyResult> {
  if (o.images.length === 0) throw new Error('no images given');
  return guarded(o, async (client) => {
    const m = await findModel(client, o.model);
    const q = { top: o.top, tier: o.tier };
    let answer: Classification;
    if (o.key) {
      answer = await classifyEncrypted(client, m, o.images, o.key, q);
    } else {
      if (m.kind === 'encrypted-classifier') throw new Error(`${m.name} classifies ciphertext: pass the cipher key with -K (the images are encrypted here, the key is never sent)`);
      if (m.kind !== 'classifier') throw new Error(`${m.name} is a ${m.kind}, not a classifier: use \`nnlock client denoise\``);
      const channels = m.input.channels === 1 ? 1 : 3;
      const pngs = await Promise.all(o.images.map(async (p) => pngOf(await inputImage(p, m, channels))));
      answer = await client.classifyImages(m.name, pngs, q);
    }
    return {
      model: answer.model,
      tier: answer.tier,
      encrypted: o.key ? { kind: o.key.kind, keyId: keyId(o.key) } : null,
      results: answer.results.map((r, i) => ({ image: o.images[i], top: r.top })),
    };
  });
}

const pngOf = (img: Image) => encodePng(img.data, img.channels, img.height, img.width);

async function classifyEncrypted(client: ServiceClient, m: ModelInfo, paths: readonly string[], key: CipherKey, q: { top?: number; tier?: number }): Promise<Classification> {
  if (m.kind !== 'encrypted-classifier') throw new Error(`${m.name} is a ${m.kind}: it takes plain images, not ciphertext (drop -K)`);
  if (m.cipher && (m.cipher.kind !== key.kind || m.cipher.block !== key.k || m.cipher.channels !== key.channels)) {
    throw new Error(`${m.name} takes ${m.cipher.kind} ciphertext with k=${m.cipher.block} and ${m.cipher.channels} channel(s); this key is ${key.kind}, k=${key.k}, ${key.channels} channel(s)`);
  }
  if (key.channels !== 1 && key.channels !== 3) throw new Error(`image files have 1 or 3 channels; this key has ${key.channels}`);
  const images = await Promise.all(paths.map((p) => inputImage(p, m, key.channels as 1 | 3)));
  const { channels, height, width } = images[0];
  if (images.some((i) => i.height !== height || i.width !== width)) throw new Error('the images differ in size and the model does not fix one: send them one at a time');
  const cipher = new BlockCipher(key);
  try {
    const plain = new Uint8Array(images.length * channels * height * width);
    images.forEach((img, i) => plain.set(img.data, i * img.data.length));
    const shape = [images.length, channels, height, width];
    if (key.kind === 'hill256') {
      const bytes = noGrad(() => scope(() => cipher.encrypt(tensor(plain, shape)).toTypedArray() as Uint8Array));
      const size = channels * height * width;
      const pngs = images.map((_, i) => encodePng(bytes.subarray(i * size, (i + 1) * size), channels as 1 | 3, height, width));
      return await client.classifyImages(m.name, pngs, q);
    }
    const values = noGrad(() => scope(() => encryptPixels(div(toDtype(tensor(plain, shape), 'float32'), 255), cipher).toTypedArray() as Float32Array));
    return await client.classifyTensor(m.name, tensorBody(values, shape), q);
  } finally {
    cipher.dispose();
  }
}

export interface DenoiseOptions extends Connection {
  model: string;
  input: string;
  /** Where the denoised PNG goes (never replaced unless force). */
  out: string;
  /** Add Gaussian noise of σ (0..255 scale) on the server first; it then reports PSNR. */
  sigma?: number;
  tier?: number;
  force?: boolean;
}

export interface DenoiseResult {
  model: string;
  input: string;
  output: string;
  tier: number | null;
  sigma: number | null;
  psnr: number | null;
}

/** Denoises an image file on the server and writes the PNG it answers. */
export function denoiseFile(o: DenoiseOptions): Promise<DenoiseResult> {
  return guarded(o, async (client) => {
    const m = await findModel(client, o.model);
    if (m.kind !== 'denoiser') throw new Error(`${m.name} is a ${m.kind}, not a denoiser: use \`nnlock client classify\``);
    const bytes = new Uint8Array(await readFile(o.input));
    const type = bytes[0] === 0xff && bytes[1] === 0xd8 ? 'image/jpeg' : 'image/png';
    const r = await client.denoise(m.name, bytes, type, { sigma: o.sigma, tier: o.tier });
    await writeFileAtomic(o.out, r.png, { exclusive: !o.force }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') throw new Error(`${o.out} exists; pass --force to overwrite it`);
      throw e;
    });
    return { model: m.name, input: o.input, output: o.out, tier: r.tier, sigma: o.sigma ?? null, psnr: r.psnr };
  });
}
