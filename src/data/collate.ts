// Batch assembly, pure JavaScript: gather items, augment, normalise into float32, and for denoising
// add seeded Gaussian noise. The loader runs it in a worker thread (or in-thread with workers: 0);
// both paths call this same function, so they give identical batches. It must never import the
// tensor layer: workers do not load the native addon.
import type { Labels, Pixels } from './dataset.ts';
import { type AugmentOptions, augmentInto, augmentedShape } from './augment.ts';
import { Rng } from './rng.ts';

/** Independent random streams derived from one seed. */
export const STREAM = { shuffle: 1, augment: 2, noise: 3 } as const;

/** Gaussian noise, σ on the [0, 255] scale: fixed, or drawn uniformly from [min, max] per item. */
export type NoiseSpec = { sigma: number } | { sigmaRange: [number, number] };

export interface CollateSpec {
  /** classify → { x, y }; denoise → { noisy, clean }. */
  kind: 'classify' | 'denoise';
  images: Pixels;
  labels: Labels;
  /** Item shape in storage, CHW. */
  shape: number[];
  seed: number;
  mean?: number[];
  std?: number[];
  augment?: AugmentOptions;
  noise?: NoiseSpec;
}

export interface BatchJob {
  epoch: number;
  batch: number;
  /** Indices into the storage arrays. */
  indices: Int32Array;
}

export interface ArrayOut {
  data: Float32Array | BigInt64Array;
  shape: number[];
}

export type BatchArrays = Record<string, ArrayOut>;

/** Builds one batch. Everything random comes from (seed, stream, epoch, batch): reproducible alone. */
export function collate(spec: CollateSpec, job: BatchJob): BatchArrays {
  const { images, shape, augment } = spec;
  const [c, h, w] = shape;
  const inSize = c * h * w;
  const outShape = augment ? augmentedShape(shape, augment) : [c, h, w];
  const outSize = outShape[0] * outShape[1] * outShape[2];
  const plane = outShape[1] * outShape[2];
  const b = job.indices.length;
  const out = new Float32Array(b * outSize);
  // Per channel: x * scale + shift = (x / 255 − mean) / std for bytes, (x − mean) / std for floats.
  const range = images instanceof Uint8Array ? 255 : 1;
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const std = spec.std?.[ch] ?? 1;
    scale[ch] = 1 / (range * std);
    shift[ch] = -(spec.mean?.[ch] ?? 0) / std;
  }
  const rng = augment ? new Rng(spec.seed, STREAM.augment, job.epoch, job.batch) : null;
  const scratch = augment ? new (images.constructor as new (n: number) => Pixels)(outSize) : null;
  for (let i = 0; i < b; i++) {
    const at = job.indices[i] * inSize;
    let item = images.subarray(at, at + inSize);
    if (augment) item = augmentInto(item, shape, augment, rng!, scratch!);
    const base = i * outSize;
    for (let ch = 0; ch < c; ch++) {
      const s = scale[ch];
      const t = shift[ch];
      const o = ch * plane;
      for (let p = 0; p < plane; p++) out[base + o + p] = item[o + p] * s + t;
    }
  }
  const x: ArrayOut = { data: out, shape: [b, ...outShape] };

  if (spec.kind === 'denoise') {
    if (!spec.noise) throw new Error('collate: denoise batches need a noise spec');
    const noisy = new Float32Array(out.length);
    addNoise(out, noisy, b, spec.noise, new Rng(spec.seed, STREAM.noise, job.epoch, job.batch));
    return { noisy: { data: noisy, shape: x.shape }, clean: x };
  }
  const y = new BigInt64Array(b);
  for (let i = 0; i < b; i++) y[i] = BigInt(spec.labels[job.indices[i]]);
  return { x, y: { data: y, shape: [b] } };
}

/**
 * noisy = clean + σ/255 · N(0, 1), for `items` equal-sized items. σ is drawn per item first (when a
 * range is given), then the item's normals; no clamping (DnCNN trains on unclamped noisy inputs).
 */
export function addNoise(clean: Float32Array, noisy: Float32Array, items: number, noise: NoiseSpec, rng: Rng): Float32Array {
  const size = clean.length / items;
  for (let i = 0; i < items; i++) {
    const sigma = 'sigma' in noise ? noise.sigma : rng.uniform(noise.sigmaRange[0], noise.sigmaRange[1]);
    const s = sigma / 255;
    for (let p = i * size, end = p + size; p < end; p++) noisy[p] = clean[p] + s * rng.normal();
  }
  return noisy;
}
