// The one interface every consumer of training or evaluation data takes: batches of inputs and
// targets, one pass per epoch, reproducible from the epoch number. DataLoader implements it; so
// do the encrypted sources of src/cipher and the few tensors a test makes.
import type { Tensor } from '../tensor/index.ts';

/** What a model is for: it decides the loss, the metric and the kind of targets. */
export type TaskKind = 'classification' | 'denoising';

export interface Batch {
  /** Model input [N, C, H, W]. */
  x: Tensor;
  /**
   * Target: int64 labels [N] for classification; for denoising the wanted output (for DnCNN the
   * noise residual noisy − clean, since the network predicts the residual).
   */
  y: Tensor;
}

export interface BatchSource {
  /** The batches of pass `epoch`. The consumer disposes each batch's tensors once used. */
  epoch(epoch: number): AsyncIterable<Batch> | Iterable<Batch>;
  /** Batches in one pass. */
  readonly batchCount: number;
}
