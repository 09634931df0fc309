// Encrypted images and datasets on disk, and encrypted batches for training.
//
// Conventions. Plaintext pixels are bytes 0..255 on disk and values in [0, 1] in float tensors.
//   hill256     ciphertext = bytes (x·K mod 256 on byte values). Files keep their plaintext format:
//               a PNG becomes a PNG, a CIFAR-10 binary file a CIFAR-10 binary file (same layout and
//               labels), so every reader of those formats reads the ciphertext. Networks see
//               ciphertext/255, exactly what the data loader makes of bytes.
//   uniform,    ciphertext = (pixels/255)·K: real values, not images. Stored as safetensors:
//   orthogonal    one image:  tensor "image"  float32 [C, H, W]
//                 a dataset:  tensor "images" float32 [N, C, H, W] and "labels" uint8 [N]
//               with metadata format = nnlock-encrypted-image | nnlock-encrypted-dataset, version 1,
//               kind, k, channels, shuffle, keyId (first 16 hex digits of the key's fingerprint:
//               decrypting with another key is refused), plaintext = "pixels/255". Networks see the
//               stored values as they are (the loader normalises float pixels by nothing).
import { extname } from 'node:path';
import { open } from 'node:fs/promises';
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import { div, mul, round, clamp } from '../ops/arithmetic.ts';
import { clone, toDtype } from '../ops/convert.ts';
import { narrow } from '../ops/shape.ts';
import { readCifar10, writeCifar10, CIFAR_IMAGE_BYTES } from '../io/cifar.ts';
import { readImage, writePng, type Channels } from '../io/image.ts';
import { readSafetensors, writeSafetensors } from '../io/safetensors.ts';
import { InMemoryDataset } from '../data/dataset.ts';
import { CIFAR10_CLASSES as CIFAR_CLASSES } from '../data/cifar10.ts';
import type { DataLoader } from '../data/loader.ts';
import type { Batch, BatchSource } from '../data/batch-source.ts';
import { type CipherKey, CipherKeyError, keyId } from './key.ts';
import { BlockCipher } from './hill.ts';

export const ENCRYPTED_IMAGE_FORMAT = 'nnlock-encrypted-image';
export const ENCRYPTED_DATASET_FORMAT = 'nnlock-encrypted-dataset';

function metadataOf(key: CipherKey, format: string): Record<string, string> {
  return {
    format,
    version: '1',
    kind: key.kind,
    k: String(key.k),
    channels: String(key.channels),
    shuffle: String(key.shuffle),
    keyId: keyId(key),
    plaintext: 'pixels/255',
  };
}

function checkMetadata(meta: Record<string, string>, key: CipherKey, format: string, path: string): void {
  if (meta.format !== format) throw new Error(`${path}: not an ${format} file (format is ${JSON.stringify(meta.format ?? null)})`);
  if (meta.kind !== key.kind) throw new CipherKeyError(`${path} was encrypted with a ${meta.kind} key, not with this ${key.kind} key`);
  if (meta.keyId !== keyId(key)) throw new CipherKeyError(`${path} was encrypted with key ${meta.keyId}, not with this key (${keyId(key)})`);
}

/**
 * Network input for plaintext pixels in [0, 1]: the ciphertext as the model sees it (hill256:
 * encrypt the bytes round(255·x), then divide by 255; real kinds: encrypt x). Float32 in, float32 out.
 */
export function encryptPixels(x: Tensor, cipher: BlockCipher): Tensor {
  if (cipher.key.kind !== 'hill256') return cipher.encrypt(x);
  return noGrad(() => scope(() => div(toDtype(cipher.encrypt(toBytes(x)), 'float32'), 255)));
}

/** The inverse of encryptPixels: plaintext pixels in [0, 1] from network-input ciphertext. */
export function decryptPixels(y: Tensor, cipher: BlockCipher): Tensor {
  if (cipher.key.kind !== 'hill256') return cipher.decrypt(y);
  return noGrad(() => scope(() => div(toDtype(cipher.decrypt(toBytes(y)), 'float32'), 255)));
}

/** Pixels in [0, 1] to uint8 bytes round(255·x) (clamped first). */
function toBytes(x: Tensor): Tensor {
  return toDtype(round(mul(clamp(x, 0, 1), 255)), 'uint8');
}

/**
 * A training batch source over a plaintext loader (pixels in [0, 1]: no mean/std) that encrypts
 * each batch on the fly, after the loader's augmentation. With a null cipher it passes batches
 * through (the plaintext baseline).
 */
export function encryptedSource(loader: DataLoader, cipher: BlockCipher | null): BatchSource {
  return {
    batchCount: loader.batchCount,
    async *epoch(e: number): AsyncIterable<Batch> {
      for await (const b of loader.epoch(e)) {
        if (!cipher) {
          yield { x: b.x, y: b.y };
          continue;
        }
        const x = encryptPixels(b.x, cipher);
        b.x.dispose();
        yield { x, y: b.y };
      }
    },
  };
}

/**
 * A batch source over images already in memory [N, C, H, W]: batches are fresh copies (the
 * consumer disposes them, as it would a loader's), labels are zeros. For statistics, not training.
 */
export function tensorSource(images: Tensor, batchSize = 500): BatchSource {
  const n = images.shape[0];
  return {
    batchCount: Math.ceil(n / batchSize),
    async *epoch(): AsyncIterable<Batch> {
      for (let i = 0; i < n; i += batchSize) {
        const m = Math.min(batchSize, n - i);
        yield noGrad(() => scope(() => ({ x: clone(narrow(images, 0, i, m)), y: tensor(new BigInt64Array(m), [m]) })));
      }
    },
  };
}

// ---- single images ----

function isPng(path: string): boolean {
  return extname(path).toLowerCase() === '.png';
}

function isSafetensors(path: string): boolean {
  return extname(path).toLowerCase() === '.safetensors';
}

function imageChannels(key: CipherKey): Channels {
  if (key.channels !== 1 && key.channels !== 3) throw new CipherKeyError(`image files have 1 or 3 channels; this key has ${key.channels}`);
  return key.channels;
}

/**
 * Encrypts an image file (PNG, JPEG, anything sharp reads). hill256 writes a PNG; real kinds write
 * a safetensors file (see the file comment). Returns the image size.
 */
export async function encryptImageFile(inPath: string, outPath: string, key: CipherKey): Promise<{ height: number; width: number }> {
  const hill = key.kind === 'hill256';
  if (hill && !isPng(outPath)) throw new Error(`a hill256 ciphertext is an 8-bit image: write it to a .png file, not ${outPath}`);
  if (!hill && !isSafetensors(outPath)) throw new Error(`a ${key.kind} ciphertext is real-valued, not an image: write it to a .safetensors file, not ${outPath}`);
  const img = await readImage(inPath, { channels: imageChannels(key) });
  if (img.height % key.k || img.width % key.k) {
    throw new CipherKeyError(`${inPath}: image size ${img.height}×${img.width} is not a multiple of the block size k=${key.k} (crop or resize it first)`);
  }
  const cipher = new BlockCipher(key);
  try {
    const shape = [1, img.channels, img.height, img.width];
    if (hill) {
      const bytes = scope(() => cipher.encrypt(tensor(img.data, shape)).toTypedArray() as Uint8Array);
      await writePng(outPath, bytes, img.channels, img.height, img.width);
    } else {
      const data = scope(() => {
        const x = div(toDtype(tensor(img.data, shape), 'float32'), 255);
        return new Uint8Array(cipher.encrypt(x).toTypedArray().buffer);
      });
      await writeSafetensors(outPath, { image: { dtype: 'F32', shape: shape.slice(1), data } }, metadataOf(key, ENCRYPTED_IMAGE_FORMAT));
    }
  } finally {
    cipher.dispose();
  }
  return { height: img.height, width: img.width };
}

/**
 * Decrypts what encryptImageFile wrote. Output .png (pixels rounded to bytes; exact for hill256) or,
 * for real kinds, .safetensors (the float plaintext in [0, 1], unrounded).
 */
export async function decryptImageFile(inPath: string, outPath: string, key: CipherKey): Promise<{ height: number; width: number }> {
  const cipher = new BlockCipher(key);
  try {
    if (key.kind === 'hill256') {
      if (!isPng(outPath)) throw new Error(`hill256 decrypts to an 8-bit image: write it to a .png file, not ${outPath}`);
      const img = await readImage(inPath, { channels: imageChannels(key) });
      const bytes = scope(() => cipher.decrypt(tensor(img.data, [1, img.channels, img.height, img.width])).toTypedArray() as Uint8Array);
      await writePng(outPath, bytes, img.channels, img.height, img.width);
      return { height: img.height, width: img.width };
    }
    if (!isSafetensors(inPath)) throw new Error(`a ${key.kind} ciphertext is a .safetensors file written by \`nnlock cipher encrypt\`, not ${inPath}`);
    const { tensors, metadata } = await readSafetensors(inPath);
    checkMetadata(metadata, key, ENCRYPTED_IMAGE_FORMAT, inPath);
    const e = tensors.get('image');
    if (!e || e.dtype !== 'F32' || e.shape.length !== 3) throw new Error(`${inPath}: expected a float32 tensor "image" [C, H, W]`);
    const [c, h, w] = e.shape;
    const plain = scope(() => {
      const y = tensor(new Float32Array(copyBytes(e.data)), [1, c, h, w]);
      return cipher.decrypt(y).toTypedArray() as Float32Array;
    });
    if (isPng(outPath)) await writePng(outPath, plain, c as Channels, h, w);
    else if (isSafetensors(outPath))
      await writeSafetensors(outPath, { image: { dtype: 'F32', shape: [c, h, w], data: new Uint8Array(plain.buffer) } }, { format: 'nnlock-image', plaintext: 'pixels/255' });
    else throw new Error(`write the decrypted image to a .png or .safetensors file, not ${outPath}`);
    return { height: h, width: w };
  } finally {
    cipher.dispose();
  }
}

// ---- datasets ----

const CHUNK = 1000;

/**
 * Encrypts CIFAR-10 binary files into one encrypted dataset file: hill256 → CIFAR-10 binary layout
 * (outPath any name, e.g. .bin); real kinds → safetensors (outPath ending in .safetensors).
 */
export async function encryptCifarFiles(inPaths: string[], outPath: string, key: CipherKey): Promise<{ count: number }> {
  const hill = key.kind === 'hill256';
  if (!hill && !isSafetensors(outPath)) throw new Error(`a ${key.kind} ciphertext is real-valued: write the dataset to a .safetensors file, not ${outPath}`);
  if (hill && isSafetensors(outPath)) throw new Error('a hill256 dataset keeps the CIFAR-10 binary layout: write it to a .bin file');
  const { images, labels, count } = await readCifar10(inPaths);
  const cipher = new BlockCipher(key);
  try {
    const out = hill ? new Uint8Array(count * CIFAR_IMAGE_BYTES) : new Float32Array(count * CIFAR_IMAGE_BYTES);
    for (let s = 0; s < count; s += CHUNK) {
      const n = Math.min(CHUNK, count - s);
      scope(() => {
        const x = tensor(images.slice(s * CIFAR_IMAGE_BYTES, (s + n) * CIFAR_IMAGE_BYTES), [n, 3, 32, 32]);
        const y = hill ? cipher.encrypt(x) : cipher.encrypt(div(toDtype(x, 'float32'), 255));
        out.set(y.toTypedArray() as Uint8Array & Float32Array, s * CIFAR_IMAGE_BYTES);
      });
    }
    if (hill) await writeCifar10(outPath, out as Uint8Array, labels);
    else {
      await writeSafetensors(
        outPath,
        {
          images: { dtype: 'F32', shape: [count, 3, 32, 32], data: new Uint8Array(out.buffer) },
          labels: { dtype: 'U8', shape: [count], data: Uint8Array.from(labels) },
        },
        { ...metadataOf(key, ENCRYPTED_DATASET_FORMAT), source: 'cifar10' },
      );
    }
  } finally {
    cipher.dispose();
  }
  return { count };
}

export interface EncryptedDataset {
  /** Ciphertext as stored: bytes (hill256) or float32 values (real kinds). */
  dataset: InMemoryDataset;
  metadata: Record<string, string>;
}

/**
 * Reads an encrypted dataset: a CIFAR-10 binary file (hill256, or any plaintext CIFAR file) or a
 * safetensors file from encryptCifarFiles. With a key, a safetensors file must carry that key's id.
 */
export async function readEncryptedDataset(paths: string[], key?: CipherKey): Promise<EncryptedDataset> {
  if (paths.length === 0) throw new Error('readEncryptedDataset: no files given');
  if (!paths.some(isSafetensors)) {
    const { images, labels } = await readCifar10(paths);
    return { dataset: new InMemoryDataset(images, labels, [3, 32, 32], CIFAR_CLASSES), metadata: { format: 'cifar10-binary' } };
  }
  if (paths.length !== 1) throw new Error('readEncryptedDataset: give one .safetensors dataset file (or CIFAR-10 .bin files)');
  const path = paths[0];
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== ENCRYPTED_DATASET_FORMAT) throw new Error(`${path}: not an encrypted dataset (format is ${JSON.stringify(metadata.format ?? null)})`);
  if (key) checkMetadata(metadata, key, ENCRYPTED_DATASET_FORMAT, path);
  const im = tensors.get('images');
  const lb = tensors.get('labels');
  if (!im || im.dtype !== 'F32' || im.shape.length !== 4) throw new Error(`${path}: expected a float32 tensor "images" [N, C, H, W]`);
  if (!lb || lb.shape.length !== 1 || lb.shape[0] !== im.shape[0]) throw new Error(`${path}: expected a tensor "labels" [N] matching "images"`);
  let labels: Uint8Array | Int32Array;
  if (lb.dtype === 'U8') labels = Uint8Array.from(lb.data);
  else if (lb.dtype === 'I32') labels = new Int32Array(copyBytes(lb.data));
  else if (lb.dtype === 'I64') labels = Int32Array.from(new BigInt64Array(copyBytes(lb.data)), Number);
  else throw new Error(`${path}: labels must be uint8, int32 or int64, got ${lb.dtype}`);
  const images = new Float32Array(copyBytes(im.data));
  return { dataset: new InMemoryDataset(images, labels, im.shape.slice(1), metadata.source === 'cifar10' ? CIFAR_CLASSES : undefined), metadata };
}

/**
 * Decrypts an encrypted dataset back to a CIFAR-10 binary file of bytes (real kinds: pixels rounded
 * from 255·x, so exact up to the float round trip).
 */
export async function decryptDatasetFiles(inPaths: string[], outPath: string, key: CipherKey): Promise<{ count: number; maxPixelError: number }> {
  const { dataset } = await readEncryptedDataset(inPaths, key.kind === 'hill256' ? undefined : key);
  const hill = key.kind === 'hill256';
  if (hill !== dataset.images instanceof Uint8Array) {
    throw new CipherKeyError(
      `this is a ${hill ? 'hill256' : key.kind} key but the dataset holds ${dataset.images instanceof Uint8Array ? 'bytes (a hill256 ciphertext)' : 'floats (a uniform/orthogonal ciphertext)'}`,
    );
  }
  const [c, h, w] = dataset.shape;
  if (c !== 3 || h !== 32 || w !== 32) throw new Error(`decryptDatasetFiles writes CIFAR-10 binary files (3×32×32 images); this dataset holds ${c}×${h}×${w}`);
  const size = c * h * w;
  const count = dataset.length;
  const out = new Uint8Array(count * size);
  let maxPixelError = 0;
  const cipher = new BlockCipher(key);
  try {
    for (let s = 0; s < count; s += CHUNK) {
      const n = Math.min(CHUNK, count - s);
      scope(() => {
        const y = tensor(dataset.images.slice(s * size, (s + n) * size), [n, c, h, w]);
        if (hill) {
          out.set(cipher.decrypt(y).toTypedArray() as Uint8Array, s * size);
          return;
        }
        const scaled = mul(cipher.decrypt(y), 255);
        const rounded = clamp(round(scaled), 0, 255);
        const vals = scaled.toTypedArray() as Float32Array;
        const bytes = rounded.toTypedArray() as Float32Array;
        for (let i = 0; i < bytes.length; i++) maxPixelError = Math.max(maxPixelError, Math.abs(vals[i] - bytes[i]));
        out.set(bytes, s * size);
      });
    }
  } finally {
    cipher.dispose();
  }
  await writeCifar10(outPath, out, Array.from(dataset.labels));
  return { count, maxPixelError };
}

// ---- images as tensors, for attacks and pictures ----

/** The "format" metadata of a safetensors file, reading only its header. */
export async function safetensorsFormat(path: string): Promise<string | null> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    if (!(n > 0 && n < 100_000_000)) return null;
    const json = Buffer.alloc(n);
    await fh.read(json, 0, n, 8);
    const meta = (JSON.parse(json.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__;
    return meta?.format ?? null;
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}

/**
 * Images from a file as one tensor [N, C, H, W]: CIFAR-10 .bin files and PNG/JPEG give uint8 bytes;
 * safetensors files from this module give their float32 values. `limit` keeps the first N.
 */
export async function readImagesTensor(path: string, o: { limit?: number; channels?: Channels } = {}): Promise<{ x: Tensor; labels: Int32Array | null }> {
  const ext = extname(path).toLowerCase();
  if (ext === '.bin' || ext === '.safetensors') {
    const { dataset } = await readEncryptedDataset([path]).catch(async (e) => {
      if (ext === '.safetensors' && (await safetensorsFormat(path)) === ENCRYPTED_IMAGE_FORMAT) {
        const { tensors } = await readSafetensors(path);
        const t = tensors.get('image')!;
        const [c, h, w] = t.shape;
        return { dataset: new InMemoryDataset(new Float32Array(copyBytes(t.data)), new Uint8Array(1), [c, h, w]), metadata: {} };
      }
      throw e;
    });
    const n = Math.min(o.limit ?? dataset.length, dataset.length);
    const size = dataset.itemSize;
    const data = dataset.images.slice(0, n * size);
    return { x: tensor(data, [n, ...dataset.shape]), labels: Int32Array.from(dataset.labels.slice(0, n)) };
  }
  const img = await readImage(path, { channels: o.channels ?? 3 });
  return { x: tensor(img.data, [1, img.channels, img.height, img.width]), labels: null };
}

/**
 * Images from a file as pixels for the real-valued side of the cipher: bytes (CIFAR-10, PNG, JPEG)
 * become float32 values in [0, 1]; real-valued ciphertexts (safetensors) stay as they are.
 */
export async function readPixels(path: string, o: { limit?: number; channels?: Channels } = {}): Promise<Tensor> {
  const { x } = await readImagesTensor(path, o);
  if (x.dtype !== 'uint8') return x;
  try {
    return noGrad(() => scope(() => div(toDtype(x, 'float32'), 255)));
  } finally {
    x.dispose();
  }
}

/**
 * An aligned copy of bytes that may be a view into a bigger buffer. (Not `bytes.slice()`: on a
 * Node Buffer, what readFile returns, slice() is a view of the whole file's memory, not a copy.)
 */
function copyBytes(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}
