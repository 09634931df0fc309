// The one interface every consumer of training or evaluation data takes: batches of inputs and
// targets, one pass per epoch, reproducible from the epoch number. DataLoader implements it; so
// do the encrypted sources of src/cipher and the few tensors a test makes.
import { type Tensor, keep } from '../tensor/index.ts';
import { toDevice } from '../ops/convert.ts';

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

/**
 * The batches of `source` on `device`: each is copied there and its CPU tensors disposed, the
 * one place where data meets a model on a GPU (training and evaluation call it with the model's
 * device). On the CPU it returns `source` itself: no copy, no cost.
 */
export function batchesOn(source: BatchSource, device: string): BatchSource {
  if (device === 'cpu') return source;
  return {
    batchCount: source.batchCount,
    async *epoch(epoch: number): AsyncIterable<Batch> {
      for await (const b of source.epoch(epoch)) yield moveBatch(b, device);
    },
  };
}

function moveBatch(b: Batch, device: string): Batch {
  try {
    const x = keep(toDevice(b.x, device));
    try {
      return { x, y: keep(toDevice(b.y, device)) };
    } catch (e) {
      x.dispose();
      throw e;
    }
  } finally {
    b.x.dispose();
    b.y.dispose();
  }
}
