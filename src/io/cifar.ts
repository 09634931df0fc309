// CIFAR-10 binary files: records of 3073 bytes, one label byte (0..9) then the 32×32 image as
// 1024 red, 1024 green and 1024 blue bytes, row-major. The planes are already CHW, so each record
// copies straight into the output.
import { stat } from 'node:fs/promises';
import { readRegularFile } from './regular-file.ts';
import { writeFileAtomic } from './atomic.ts';

export const CIFAR_IMAGE_BYTES = 3 * 32 * 32;
export const CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;

export interface CifarData {
  /** N×3×32×32 bytes, CHW (on a SharedArrayBuffer, so loader workers read it without a copy). */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`readCifar10: ${path}: no such file`);
    throw e;
  }
}

/** Reads and concatenates CIFAR-10 binary files, in the order given. */
export async function readCifar10(paths: string[]): Promise<CifarData> {
  if (paths.length === 0) throw new Error('readCifar10: no files given');
  // Sizes first: every file is checked before any big allocation, and the output is sized once.
  let count = 0;
  for (const path of paths) {
    const size = await fileSize(path);
    if (size === 0 || size % CIFAR_RECORD_BYTES !== 0) {
      throw new Error(`readCifar10: ${path}: size ${size} bytes is not a positive multiple of the ${CIFAR_RECORD_BYTES}-byte CIFAR-10 record`);
    }
    count += size / CIFAR_RECORD_BYTES;
  }
  const images = new Uint8Array(new SharedArrayBuffer(count * CIFAR_IMAGE_BYTES));
  const labels = new Uint8Array(count);
  let n = 0;
  for (const path of paths) {
    const bytes = await readRegularFile(path, { what: 'CIFAR-10 file' }); // a regular file, never a FIFO or device
    const records = bytes.length / CIFAR_RECORD_BYTES;
    if (!Number.isInteger(records)) throw new Error(`readCifar10: ${path} changed size while being read`);
    for (let r = 0; r < records; r++, n++) {
      const at = r * CIFAR_RECORD_BYTES;
      const label = bytes[at];
      if (label > 9) throw new Error(`readCifar10: ${path}: record ${r} has label ${label}, CIFAR-10 labels are 0..9`);
      labels[n] = label;
      images.set(bytes.subarray(at + 1, at + CIFAR_RECORD_BYTES), n * CIFAR_IMAGE_BYTES);
    }
  }
  if (n !== count) throw new Error('readCifar10: files changed size while being read');
  return { images, labels, count };
}

/** Writes images (N×3×32×32 CHW bytes) and labels as one CIFAR-10 binary file, atomically. */
export async function writeCifar10(path: string, images: Uint8Array, labels: ArrayLike<number>): Promise<void> {
  const count = labels.length;
  if (images.length !== count * CIFAR_IMAGE_BYTES) {
    throw new RangeError(`writeCifar10: ${images.length} image bytes do not hold ${count} images of 3×32×32 (${count * CIFAR_IMAGE_BYTES} expected)`);
  }
  const out = new Uint8Array(count * CIFAR_RECORD_BYTES);
  for (let i = 0; i < count; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label > 9) throw new RangeError(`writeCifar10: label ${i} is ${label}, CIFAR-10 labels are 0..9`);
    out[i * CIFAR_RECORD_BYTES] = label;
    out.set(images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), i * CIFAR_RECORD_BYTES + 1);
  }
  await writeFileAtomic(path, out);
}
