// Whitening initialisation of the adaptation network, estimated from ciphertexts alone.
//
// Why: the cipher mixes the k² pixels of each block, so a ciphertext block is dominated by the
// block's mean brightness times a fixed key-dependent pattern, and its covariance spans orders of
// magnitude (13.7 down to 1e-8 on the shared JPEG-decoded CIFAR-10: JPEG removes some
// frequencies altogether). Gradient descent on the adaptation network then learns the strong
// directions and barely moves the weak ones, which carry the image detail. Starting the
// convolution as the ZCA whitening of the windows it sees makes every direction equally strong,
// which preconditions that learning. It needs no key and no plaintext: the service computes it
// from the encrypted training images it is given, as it would compute input normalisation.
//
// Whitening with shrinkage: W = V·(Λ + ε)^(-1/2)·Vᵀ with ε = shrinkage × mean eigenvalue, so
// directions with (almost) no variance are amplified by at most 1/√ε instead of blowing up.
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import { add, mul, pow } from '../ops/arithmetic.ts';
import { toDtype } from '../ops/convert.ts';
import { linalgEigh } from '../ops/linalg.ts';
import { matmul } from '../ops/linear.ts';
import { sum } from '../ops/reduction.ts';
import { narrow, pad, permute, pixelUnshuffle, reshape, transpose } from '../ops/shape.ts';
import type { BatchSource } from '../data/batch-source.ts';
import type { AdaptationNetwork, AdaptationVariant } from './adaptation.ts';

/**
 * The windows the adaptation network's convolution reads, one row each: [N·gh·gw, C·k²], entry
 * c·k² + i·k + j = pixel (i, j) of channel c (the conv weight's own layout). Aligned: the cipher's
 * blocks. Padded (padding 1): windows one pixel up and left of the blocks, zeros outside the image.
 */
export function adaptationWindows(x: Tensor, k: number, variant: AdaptationVariant): Tensor {
  if (x.ndim !== 4) throw new RangeError(`adaptationWindows: expected images [N, C, H, W], got [${x.shape.join(', ')}]`);
  const [n, c, h, w] = x.shape;
  if (h % k || w % k) throw new RangeError(`adaptationWindows: image size ${h}×${w} is not a multiple of k=${k}`);
  return scope(() => {
    let z: Tensor;
    if (variant === 'aligned') {
      z = pixelUnshuffle(x, k);
    } else {
      // Pad 1 before and k − 1 after, so the grid starts at pixel −1; keep the h/k × w/k windows the conv uses.
      const grid = pixelUnshuffle(pad(x, [1, k - 1, 1, k - 1]), k);
      z = narrow(narrow(grid, 2, 0, h / k), 3, 0, w / k);
    }
    return reshape(permute(z, [0, 2, 3, 1]), [n * (h / k) * (w / k), c * k * k]);
  });
}

export interface WindowStatistics {
  /** Windows seen. */
  count: number;
  /** Images seen. */
  images: number;
  /** C·k². */
  dim: number;
  mean: Float64Array;
  /** [dim, dim] row-major (unbiased). */
  covariance: Float64Array;
}

/** Mean and covariance of the adaptation windows over the first `maxImages` images of a source (epoch 0). */
export async function windowStatistics(source: BatchSource, o: { k: number; variant: AdaptationVariant; maxImages?: number }): Promise<WindowStatistics> {
  const maxImages = o.maxImages ?? 10_000;
  let images = 0;
  let count = 0;
  let dim = 0;
  let s1: Float64Array | null = null;
  let s2: Float64Array | null = null;
  for await (const b of source.epoch(0)) {
    try {
      if (images >= maxImages) continue;
      const take = Math.min(b.x.shape[0], maxImages - images);
      const { first, second, rows } = noGrad(() =>
        scope(() => {
          const xs = take < b.x.shape[0] ? narrow(b.x, 0, 0, take) : b.x;
          const win = toDtype(adaptationWindows(xs, o.k, o.variant), 'float64');
          return {
            first: sum(win, [0]).toTypedArray() as Float64Array,
            second: matmul(transpose(win, 0, 1), win).toTypedArray() as Float64Array,
            rows: win.shape[0],
          };
        }),
      );
      dim = first.length;
      s1 ??= new Float64Array(dim);
      s2 ??= new Float64Array(dim * dim);
      for (let i = 0; i < dim; i++) s1[i] += first[i];
      for (let i = 0; i < dim * dim; i++) s2[i] += second[i];
      count += rows;
      images += take;
    } finally {
      b.x.dispose();
      b.y.dispose();
    }
  }
  if (!s1 || !s2 || count < 2) throw new Error('windowStatistics: the data source gave no images');
  const mean = s1.map((v) => v / count);
  const covariance = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < dim; j++) covariance[i * dim + j] = (s2[i * dim + j] - count * mean[i] * mean[j]) / (count - 1);
  }
  return { count, images, dim, mean, covariance };
}

export interface Whitening {
  /** [dim, dim] row-major: h = matrix·(w − mean). */
  matrix: Float64Array;
  /** −matrix·mean, the conv bias. */
  offset: Float64Array;
  /** Eigenvalues of the covariance, ascending. */
  eigenvalues: number[];
  /** ε added to every eigenvalue. */
  epsilon: number;
}

/** ZCA whitening with shrinkage (see the file comment). */
export function zcaWhitening(stats: WindowStatistics, shrinkage = 0.01): Whitening {
  if (!(shrinkage > 0)) throw new RangeError(`zcaWhitening: shrinkage must be positive, got ${shrinkage}`);
  const { dim } = stats;
  return noGrad(() =>
    scope(() => {
      const cov = tensor(stats.covariance, [dim, dim], 'float64');
      const { values, vectors } = linalgEigh(cov);
      const eigenvalues = values.toArray();
      const epsilon = shrinkage * Math.max(eigenvalues.reduce((a, v) => a + v, 0) / dim, Number.MIN_VALUE);
      const scaled = mul(vectors, pow(add(values, epsilon), -0.5));
      const w = matmul(scaled, transpose(vectors, 0, 1));
      const offset = matmul(w, tensor(stats.mean, [dim, 1], 'float64'));
      return {
        matrix: Float64Array.from(w.toTypedArray() as Float64Array),
        offset: Float64Array.from(offset.toTypedArray() as Float64Array, (v) => -v),
        eigenvalues,
        epsilon,
      };
    }),
  );
}

export interface WhiteningReport {
  images: number;
  windows: number;
  eigenvalueRange: [number, number];
  epsilon: number;
}

/** Sets the adaptation network's convolution to the whitening of `source`'s windows (its deconv to depth-to-space). */
export async function whitenAdaptation(net: AdaptationNetwork, source: BatchSource, o: { maxImages?: number; shrinkage?: number } = {}): Promise<WhiteningReport> {
  const stats = await windowStatistics(source, { k: net.k, variant: net.variant, maxImages: o.maxImages });
  if (stats.dim !== net.channels * net.k * net.k) throw new RangeError(`whitenAdaptation: the data has ${stats.dim / (net.k * net.k)} channels, the network ${net.channels}`);
  const w = zcaWhitening(stats, o.shrinkage);
  net.setWindowAffine(w.matrix, w.offset);
  return { images: stats.images, windows: stats.count, eigenvalueRange: [w.eigenvalues[0], w.eigenvalues[w.eigenvalues.length - 1]], epsilon: w.epsilon };
}
