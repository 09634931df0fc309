// Evaluation of trained models: accuracy of a classifier over a loader, and PSNR/SSIM of a
// denoiser over whole images with seeded Gaussian noise.
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import { clamp, sub } from '../ops/arithmetic.ts';
import { toDevice } from '../ops/convert.ts';
import type { Module } from '../nn/index.ts';
import { type BatchSource, batchesOn } from '../data/batch-source.ts';
import { addGaussianNoise } from '../data/denoise-patches.ts';
import { correctCount, psnrPerImage, ssimPerImage } from './metrics.ts';
import type { Image } from '../io/image.ts';

export interface Forward {
  forward(x: Tensor): Tensor;
}

/**
 * Top-1 accuracy of a classifier over one pass (epoch 0's order) of a batch source. The model is
 * put in eval mode and given back in the mode it had. `onBatch` reports progress.
 */
export async function evaluateAccuracy(
  model: Module | Forward,
  data: BatchSource,
  o: { onBatch?: (done: number, total: number, accuracy: number) => void } = {},
): Promise<{ accuracy: number; count: number }> {
  const wasTraining = 'eval' in model ? model.training : false;
  if ('eval' in model) model.eval();
  let correct = 0;
  let count = 0;
  let step = 0;
  const onDevice = batchesOn(data, 'device' in model ? model.device : 'cpu');
  try {
    for await (const b of onDevice.epoch(0)) {
      correct += noGrad(() => scope(() => correctCount(model.forward(b.x), b.y)));
      count += b.x.shape[0];
      b.x.dispose();
      b.y.dispose();
      o.onBatch?.(++step, data.batchCount, correct / count);
    }
  } finally {
    if ('eval' in model) model.train(wasTraining);
  }
  return { accuracy: count ? correct / count : 0, count };
}

/** A clean image to denoise (CHW bytes, as src/io/image.ts reads it), and its name in reports. */
export interface DenoiseImage extends Image {
  name: string;
}

export interface DenoiseResult {
  name: string;
  psnrNoisy: number;
  psnr: number;
  ssim: number;
  /** Denoised image in [0, 1], C×H×W. */
  output: Float32Array;
  noisy: Float32Array;
}

/**
 * Adds Gaussian noise of σ (on the [0, 255] scale) to each image, seeded per image, denoises it
 * as clamp(noisy − net(noisy), 0, 1) and scores it against the clean image.
 */
export function evaluateDenoiser(model: Module, images: DenoiseImage[], sigma: number, seed: number): DenoiseResult[] {
  model.eval();
  return images.map((img, i) =>
    noGrad(() =>
      scope(() => {
        const shape = [1, img.channels, img.height, img.width];
        const cleanF = Float32Array.from(img.data, (v) => v / 255);
        const noisyF = addGaussianNoise(cleanF, sigma, seed + i);
        const clean = toDevice(tensor(cleanF, shape), model.device);
        const noisy = toDevice(tensor(noisyF, shape), model.device);
        const residual = model.forward(noisy);
        const out = clamp(sub(noisy, residual), 0, 1);
        return {
          name: img.name,
          psnrNoisy: psnrPerImage(clamp(noisy, 0, 1), clean)[0],
          psnr: psnrPerImage(out, clean)[0],
          ssim: ssimPerImage(out, clean)[0],
          output: out.toTypedArray() as Float32Array,
          noisy: noisyF,
        };
      }),
    ),
  );
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}
