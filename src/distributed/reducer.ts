// Reducer: c10d's own gradient reducer, the engine of PyTorch's DistributedDataParallel. It hooks
// every parameter's gradient accumulator; as backward fills a bucket of gradients (about
// bucketBytes, the first one smaller so communication starts early), it launches that bucket's
// all-reduce on Gloo's threads while backward goes on with the layers before; at the end of
// backward it waits for every bucket and writes the averages (sum / world size) into .grad.
import { native, type NativeReducer } from '../native/index.ts';
import type { Tensor } from '../tensor/index.ts';
import type { ProcessGroup } from './process-group.ts';

/** DDP's defaults: bucket_cap_mb=25 and the 1 MiB first bucket. */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;
export const DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024;

export class Reducer {
  private readonly reducer: NativeReducer;
  private destroyed = false;

  /** params: every trainable tensor of the model, in the model's order (all ranks the same). */
  constructor(group: ProcessGroup, params: Tensor[], options: { bucketBytes?: number; firstBucketBytes?: number } = {}) {
    this.reducer = native.c10dReducer(
      group.native,
      params.map((p) => p.handle),
      options.bucketBytes ?? DEFAULT_BUCKET_BYTES,
      options.firstBucketBytes ?? DEFAULT_FIRST_BUCKET_BYTES,
    );
  }

  /**
   * Call before each forward pass whose backward must be reduced (as DDP's forward does). The
   * first call after one iteration rebuilds the buckets in the order gradients became ready.
   */
  prepare(): void {
    native.c10dReducerPrepare(this.reducer);
  }

  /** How many buckets the gradients travel in. */
  get bucketCount(): number {
    return native.c10dReducerBuckets(this.reducer);
  }

  /** Unhooks the gradient accumulators. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    native.c10dDestroyReducer(this.reducer);
  }
}
