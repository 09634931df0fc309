// The training data PSS and Taylor score kernels on, as one BatchSource whatever the task. For a
// classifier that is a DataLoader as it is; a denoiser (DnCNN) predicts the noise residual, so its
// batches become (noisy, noisy − clean).
import { noGrad } from '../../tensor/index.ts';
import { sub } from '../../ops/arithmetic.ts';
import type { BatchSource } from '../../data/batch-source.ts';
import { type Dataset, subset } from '../../data/dataset.ts';
import { DataLoader, type DenoiseBatch } from '../../data/loader.ts';
import type { Shard } from '../../data/shard.ts';

/** Batches of (noisy, clean) pairs, as DataLoader.denoise gives them. */
export interface DenoisePairs {
  readonly batchCount: number;
  epoch(epoch: number): AsyncIterable<DenoiseBatch> | Iterable<DenoiseBatch>;
}

/** (noisy, clean) pairs as {x: noisy, y: noisy − clean}, the target of a residual denoiser. */
export function residualSource(pairs: DenoisePairs): BatchSource {
  return {
    batchCount: pairs.batchCount,
    async *epoch(e) {
      for await (const b of pairs.epoch(e)) {
        const y = noGrad(() => sub(b.noisy, b.clean));
        b.clean.dispose();
        yield { x: b.noisy, y };
      }
    },
  };
}

export interface DenoiserDataOptions {
  /** Patches used, evenly spread over the set (at most all of them). */
  images: number;
  batch: number;
  /** Seed of the order and the noise. */
  seed: number;
  /** Noise σ on the 0..255 scale. */
  sigma: number;
  /** Data-parallel: this rank's share of every epoch. */
  shard?: Shard;
}

/**
 * Importance data for a residual denoiser: `images` clean patches evenly spread over `patches`
 * (e.g. denoisePatches of an image folder), seeded Gaussian noise, target = the noise residual.
 */
export function denoiserTrainingData(patches: Dataset, o: DenoiserDataOptions): BatchSource {
  const step = Math.max(1, Math.floor(patches.length / o.images));
  const picked = subset(
    patches,
    Array.from({ length: Math.min(o.images, patches.length) }, (_, i) => i * step),
  );
  return residualSource(DataLoader.denoise(picked, { batchSize: o.batch, shuffle: true, seed: o.seed, workers: 0, sigma: o.sigma, shard: o.shard }));
}
