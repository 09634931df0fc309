// Denoising data as DnCNN trains on it: clean grayscale patches (e.g. 40×40, stride 10, at a few
// scales, optionally with the 8 flips/rotations) cut once from a folder of images, and Gaussian
// noise added per batch by the loader (DataLoader.denoise), seeded. Images are in [0, 1] and σ is
// on the [0, 255] scale, as in the paper (σ = 25 means 25/255).
import { DataLoader, type DenoiseBatch, type DenoiseLoaderOptions } from './loader.ts';
import { type Dataset, InMemoryDataset, sharedBytes } from './dataset.ts';
import sharp from 'sharp';
import type { Image } from '../io/image.ts';
import { forEachImage, listImages } from './image-folder.ts';
import { dihedral } from './augment.ts';
import { addNoise } from './collate.ts';
import { Rng } from './rng.ts';

export interface PatchOptions {
  /** Patch side (default 40). */
  patchSize?: number;
  /** Step between patches (default 10). */
  stride?: number;
  /** Image scales, each resized with a cubic kernel to floor(side × scale) (default [1]). */
  scales?: number[];
  /**
   * The 8 flips/rotations: 'none' (default), 'random' (each patch replaced by one of the 8,
   * drawn from `seed`), or 'all' (each patch in all 8 forms: 8× the patches).
   */
  flips?: 'none' | 'random' | 'all';
  /** Seed of the 'random' flips (default 0). */
  seed?: number;
}

/** Random stream of the 'random' flips (the loader's streams are 1..3). */
const STREAM_FLIPS = 4;

/** Patches along one side: top-left corners 0, stride, ... while a patch still fits. */
export function patchCount(side: number, patch: number, stride: number): number {
  return side < patch ? 0 : Math.floor((side - patch) / stride) + 1;
}

/** Resizes one decoded grayscale image (cubic, as DnCNN's cv2.INTER_CUBIC). */
async function resizeGray(img: Image, height: number, width: number): Promise<Uint8Array> {
  const raw = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .toColourspace('b-w')
    .raw()
    .toBuffer();
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
}

/**
 * Clean 1×P×P byte patches of every image in `dir` (files in name order, then scales, then
 * patches row by row), converted to grayscale, all with label 0.
 */
export async function denoisePatches(dir: string, options: PatchOptions = {}): Promise<InMemoryDataset> {
  const p = options.patchSize ?? 40;
  const stride = options.stride ?? 10;
  const scales = options.scales ?? [1];
  const flips = options.flips ?? 'none';
  if (!Number.isInteger(p) || p <= 0 || !Number.isInteger(stride) || stride <= 0) {
    throw new RangeError(`denoisePatches: patchSize and stride must be positive integers, got ${p} and ${stride}`);
  }
  if (scales.length === 0 || scales.some((s) => !(s > 0))) throw new RangeError(`denoisePatches: scales must be positive, got [${scales.join(', ')}]`);
  let files: string[];
  try {
    files = await listImages(dir);
  } catch {
    throw new Error(`denoisePatches: ${dir}: no such folder`);
  }
  if (files.length === 0) throw new Error(`denoisePatches: ${dir}: no images`);

  // Decode everything once, count, then allocate the storage (shared with loader workers) once.
  const images: Image[] = [];
  await forEachImage(files, { channels: 1 }, (img) => images.push(img));
  const sizeAt = (img: Image, s: number) => ({ height: Math.floor(img.height * s), width: Math.floor(img.width * s) });
  const copies = flips === 'all' ? 8 : 1;
  let count = 0;
  for (const img of images) {
    for (const s of scales) {
      const { height, width } = sizeAt(img, s);
      count += patchCount(height, p, stride) * patchCount(width, p, stride) * copies;
    }
  }
  if (count === 0) throw new Error(`denoisePatches: ${dir}: no image is large enough for a ${p}×${p} patch`);

  const size = p * p;
  const pixels = sharedBytes(count * size);
  const patch = new Uint8Array(size);
  const rng = new Rng(options.seed ?? 0, STREAM_FLIPS);
  let n = 0;
  for (const img of images) {
    for (const s of scales) {
      const { height, width } = sizeAt(img, s);
      const data = s === 1 ? img.data : await resizeGray(img, height, width);
      const rows = patchCount(height, p, stride);
      const cols = patchCount(width, p, stride);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          for (let y = 0; y < p; y++) {
            const at = (r * stride + y) * width + c * stride;
            patch.set(data.subarray(at, at + p), y * p);
          }
          const modes = flips === 'none' ? [0] : flips === 'random' ? [rng.int(8)] : [0, 1, 2, 3, 4, 5, 6, 7];
          for (const m of modes) {
            const out = pixels.subarray(n * size, ++n * size);
            if (m === 0) out.set(patch);
            else dihedral(patch, [1, p, p], m, out);
          }
        }
      }
    }
  }
  return new InMemoryDataset(pixels, new Uint8Array(count), [1, p, p]);
}

/** Adds Gaussian noise of σ (on the [0, 255] scale) to clean values in [0, 1]: a new array. */
export function addGaussianNoise(clean: Float32Array, sigma: number, seed: number | Rng): Float32Array {
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  return addNoise(clean, new Float32Array(clean.length), 1, { sigma }, rng);
}

/** (noisy, clean) batches over clean patches, noise seeded per (seed, epoch, batch): DataLoader.denoise. */
export function denoiseLoader(patches: Dataset, options: DenoiseLoaderOptions): DataLoader<DenoiseBatch> {
  return DataLoader.denoise(patches, options);
}
