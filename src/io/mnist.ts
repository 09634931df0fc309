// MNIST idx files (also gzip-compressed). Header: two zero bytes, a type byte (0x08 = unsigned
// byte, the only type MNIST uses), a dimension count, then each dimension as a big-endian uint32,
// then the data row-major. Images: magic 2051 (0x0803, dims N×H×W); labels: 2049 (0x0801, dims N).
import { FileInputError, readRegularFile } from './regular-file.ts';
import { gunzipSync } from 'node:zlib';

const MNIST_IMAGES_MAGIC = 2051;
const MNIST_LABELS_MAGIC = 2049;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** The largest idx file, compressed or not (MNIST's largest, train-images, is 47 MB unpacked). */
const MAX_IDX_BYTES = 512 * 1024 * 1024;

async function readMaybeGzip(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    // Only a regular file (a FIFO would block, /dev/zero never end), of bounded size.
    bytes = await readRegularFile(path, { what: 'idx file', maxBytes: MAX_IDX_BYTES });
  } catch (e) {
    if (e instanceof FileInputError && e.code === 'ENOENT') throw new Error(`mnist: ${path}: no such file`);
    if (e instanceof FileInputError) throw new Error(`mnist: ${e.message}`);
    throw e;
  }
  // Detect gzip by its magic bytes, not the name: a renamed file still reads.
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      // Bounded: a small gzip bomb must not inflate to gigabytes.
      return gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`mnist: ${path}: inflates to more than ${MAX_IDX_BYTES} bytes, more than any idx file: refusing it`);
      throw new Error(`mnist: ${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return bytes;
}

/** Parses an unsigned-byte idx file held in memory; `name` is used in error messages. */
export function parseIdx(bytes: Uint8Array, name: string, expectedMagic?: number): IdxArray {
  if (bytes.length < 4) throw new Error(`mnist: ${name}: truncated: ${bytes.length} bytes, an idx header needs at least 4`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (expectedMagic !== undefined && magic !== expectedMagic) {
    throw new Error(`mnist: ${name}: bad magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}), expected ${expectedMagic}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`mnist: ${name}: bad magic number ${magic}: not an idx file`);
  if (bytes[2] !== 0x08) throw new Error(`mnist: ${name}: idx element type 0x${bytes[2].toString(16)} is not supported (only 0x08, unsigned byte)`);
  const ndims = bytes[3];
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) throw new Error(`mnist: ${name}: truncated header: ${bytes.length} bytes, ${ndims} dimensions need ${headerBytes}`);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual < expected) throw new Error(`mnist: ${name}: truncated data: ${actual} bytes after the header, dims [${dims.join(', ')}] need ${expected}`);
  if (actual > expected) throw new Error(`mnist: ${name}: ${actual - expected} unexpected bytes after the data of dims [${dims.join(', ')}]`);
  // Copy out so the (possibly large) file buffer is not kept alive by a view.
  return { dims, data: bytes.slice(headerBytes) };
}

export async function readIdx(path: string, expectedMagic?: number): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(path), path, expectedMagic);
}

/** Images as N×1×H×W bytes (CHW with one channel). */
export async function readMnistImages(path: string): Promise<{ images: Uint8Array; count: number; height: number; width: number }> {
  const { dims, data } = await readIdx(path, MNIST_IMAGES_MAGIC);
  const [count, height, width] = dims;
  return { images: data, count, height, width };
}

export async function readMnistLabels(path: string): Promise<Uint8Array> {
  const { data } = await readIdx(path, MNIST_LABELS_MAGIC);
  for (let i = 0; i < data.length; i++) {
    if (data[i] > 9) throw new Error(`mnist: ${path}: label ${i} is ${data[i]}, MNIST labels are 0..9`);
  }
  return data;
}

/** An images file and its labels file, checked to hold the same number of items. */
export async function readMnist(imagesPath: string, labelsPath: string): Promise<{ images: Uint8Array; labels: Uint8Array; count: number; height: number; width: number }> {
  const [img, labels] = await Promise.all([readMnistImages(imagesPath), readMnistLabels(labelsPath)]);
  if (labels.length !== img.count) {
    throw new Error(`mnist: ${imagesPath} holds ${img.count} images but ${labelsPath} holds ${labels.length} labels`);
  }
  return { ...img, labels };
}
