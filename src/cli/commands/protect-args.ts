// Shared by the protection commands (importance, protect, unlock, keys, protect-info): reading
// keys, checking the architecture, and the data access PSS, Taylor and calibration need. The data
// access is kept here, behind the small BatchSource / evaluate interfaces of src/protect, so the
// protection code never depends on how data is loaded.
import { basename } from 'node:path';
import type { Module } from '../../nn/index.ts';
import type { ModelSpec } from '../../models/index.ts';
import { sub } from '../../ops/arithmetic.ts';
import { noGrad } from '../../tensor/index.ts';
import { DataLoader } from '../../data/loader.ts';
import { subset } from '../../data/dataset.ts';
import { denoisePatches } from '../../data/denoise-patches.ts';
import { forEachImage, listImages } from '../../data/image-folder.ts';
import { type DenoiseImage, evaluateAccuracy, evaluateDenoiser, mean } from '../../train/evaluate.ts';
import { type DecodedKeyToken, decodeKeyToken } from '../../crypto/index.ts';
import { readKeyFile } from '../../protect/index.ts';
import type { BatchSource } from '../../data/batch-source.ts';
export { architectureOf, modelFromFile as modelFor, readModelFile, requireArchitecture } from '../../models/load.ts';
import { openDataset } from '../../data/open.ts';
import { normalisationFrom } from '../../data/normalisation.ts';

/** The key when one is given (--key, --key-file or $NNLOCK_KEY), else undefined. */
export async function optionalKey(o: { key?: string; keyFile?: string }): Promise<DecodedKeyToken | undefined> {
  return o.key !== undefined || o.keyFile !== undefined || process.env.NNLOCK_KEY ? keyFrom(o) : undefined;
}

/** The key from --key, --key-file or $NNLOCK_KEY (in that order); tokens on the command line are visible to other local users. */
export async function keyFrom(o: { key?: string; keyFile?: string }): Promise<DecodedKeyToken> {
  if (o.key !== undefined) return decodeKeyToken(o.key);
  if (o.keyFile !== undefined) return readKeyFile(o.keyFile);
  if (process.env.NNLOCK_KEY) return decodeKeyToken(process.env.NNLOCK_KEY);
  throw new Error('no key given: pass --key-file <file> (or --key <token>, or set NNLOCK_KEY)');
}

export function parseNumberList(text: string, name: string): number[] {
  const v = text.split(',').map((s) => Number(s.trim()));
  if (v.length === 0 || v.some((x) => !Number.isFinite(x))) throw new Error(`${name} must be comma-separated numbers, got '${text}'`);
  return v;
}

export function parseSeed(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`--seed must be an integer, got '${text}'`);
  return n;
}

export function parseRatio(text: string): number {
  const r = Number(text);
  if (!(r >= 0 && r < 1)) throw new Error(`--ratio must be a number in [0, 1), got '${text}'`);
  return r;
}

export function parseLayers(text: string | undefined): string[] | undefined {
  return text ? text.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

/** `--data cifar10:<dir>` is accepted as well as a plain path. */
function dataPath(spec: string): string {
  return spec.replace(/^(cifar10|images):/, '');
}

export interface TrainDataOptions {
  images: number;
  batch: number;
  seed: number;
  /** Noise σ (0..255 scale) for denoisers. */
  sigma: number;
}

/**
 * Training data for PSS and Taylor: the first `images` CIFAR-10 training images (the files are
 * already shuffled), normalised as the weights file says, for classifiers; for denoisers the
 * clean 40×40 patches of an image folder, evenly spread, with seeded Gaussian noise, the target
 * being the noise residual (DnCNN predicts it).
 */
export async function trainingData(spec: ModelSpec, data: string, metadata: Record<string, string>, o: TrainDataOptions): Promise<BatchSource> {
  const path = dataPath(data);
  if (spec.task === 'classification') {
    const ds = await openDataset(path, { split: 'train', limit: o.images });
    const loader = new DataLoader(ds, { batchSize: o.batch, shuffle: true, seed: o.seed, workers: 0, ...normalisationFrom(metadata) });
    return loader;
  }
  const patches = await denoisePatches(path);
  const step = Math.max(1, Math.floor(patches.length / o.images));
  const picked = subset(patches, Array.from({ length: Math.min(o.images, patches.length) }, (_, i) => i * step));
  const loader = DataLoader.denoise(picked, { batchSize: o.batch, shuffle: true, seed: o.seed, workers: 0, sigma: o.sigma });
  return {
    batchCount: loader.batchCount,
    async *epoch(e) {
      for await (const b of loader.epoch(e)) {
        const y = noGrad(() => sub(b.noisy, b.clean));
        b.clean.dispose();
        yield { x: b.noisy, y };
      }
    },
  };
}

export interface EvalOptions {
  images?: number;
  sigma: number;
  seed: number;
  quiet?: boolean;
}

/**
 * The owner's metric for calibration and reports: top-1 accuracy (a fraction) on CIFAR-10 test
 * images for classifiers; mean PSNR (dB) of clamp(noisy − net(noisy), 0, 1) over a folder of
 * grayscale images with Gaussian noise for denoisers.
 */
export async function evaluator(spec: ModelSpec, data: string, metadata: Record<string, string>, o: EvalOptions): Promise<{ evaluate: (m: Module) => Promise<number>; unit: string; count: number }> {
  const path = dataPath(data);
  if (spec.task === 'classification') {
    const ds = await openDataset(path, { split: 'test', limit: o.images });
    const loader = new DataLoader(ds, { batchSize: 500, shuffle: false, workers: 0, ...normalisationFrom(metadata) });
    return { evaluate: async (m) => (await evaluateAccuracy(m, loader)).accuracy, unit: 'accuracy', count: ds.length };
  }
  let files: string[];
  try {
    files = await listImages(path);
  } catch {
    throw new Error(`${path}: no such folder of images`);
  }
  if (o.images !== undefined) files = files.slice(0, o.images);
  if (files.length === 0) throw new Error(`${path}: no images`);
  const images: DenoiseImage[] = [];
  await forEachImage(files, { channels: 1 }, (img, i) => images.push({ name: basename(files[i]), data: img.data, channels: 1, height: img.height, width: img.width }));
  return { evaluate: async (m) => mean(evaluateDenoiser(m, images, o.sigma, o.seed).map((r) => r.psnr)), unit: 'PSNR dB', count: images.length };
}

export function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${value}'`);
  return n;
}
