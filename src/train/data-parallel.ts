// Data-parallel training over c10d, as PyTorch's DistributedDataParallel does it:
//  - at the start, every parameter and buffer is broadcast from rank 0 (all replicas equal);
//  - gradients are averaged by c10d's Reducer, bucket by bucket, each bucket's all-reduce started
//    from an autograd hook while backward still runs (communication overlaps computation);
//  - batch norm: each rank normalises with the statistics of its own shard of the batch, and the
//    running statistics (buffers) are broadcast from rank 0 before every forward pass — DDP's
//    default, broadcast_buffers=True (not SyncBatchNorm). So a model with batch norm is not
//    bit-for-bit the single-process one; a model without is, to float tolerance;
//  - each rank sees its shard of every global batch (DataLoader's `shard`, DistributedSampler's
//    split); checkpoints and outputs are written by rank 0 and read back by every rank.
import type { Module } from '../nn/index.ts';
import { Reducer, type ProcessGroup } from '../distributed/index.ts';
import { type Tensor, tensor } from '../tensor/index.ts';

/**
 * One rank's share of a global batch. nnlock's --batch means the global batch whatever the number
 * of processes (so the learning rate that goes with it stays right); it must split evenly.
 */
export function perRankBatch(globalBatch: number, group?: { worldSize: number }): number {
  const n = group?.worldSize ?? 1;
  if (globalBatch % n !== 0) throw new Error(`the batch of ${globalBatch} does not split evenly over ${n} processes: pass a multiple of ${n}`);
  return globalBatch / n;
}

export interface DataParallelOptions {
  /** Gradient bucket size (DDP's bucket_cap_mb, default 25 MiB). */
  bucketBytes?: number;
  /** The first (last layers') bucket, small so that communication starts early (default 1 MiB). */
  firstBucketBytes?: number;
  /** Broadcast rank 0's buffers (batch-norm running statistics) before every forward (default true). */
  broadcastBuffers?: boolean;
}

export class DataParallel {
  private readonly reducer: Reducer;
  private readonly broadcastBuffers: boolean;

  /** Wraps `model`; the constructor copies rank 0's parameters and buffers into every rank's. */
  constructor(
    readonly model: Module,
    readonly group: ProcessGroup,
    options: DataParallelOptions = {},
  ) {
    this.broadcastBuffers = options.broadcastBuffers ?? true;
    this.syncState();
    this.reducer = new Reducer(group, model.parameters(), options);
  }

  get rank(): number {
    return this.group.rank;
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  /** Rank 0 writes checkpoints, logs and outputs. */
  get isLeader(): boolean {
    return this.group.isLeader;
  }

  get bucketCount(): number {
    return this.reducer.bucketCount;
  }

  /** Rank 0's parameters and buffers into every rank's (after building or loading the model). */
  syncState(): void {
    this.group.broadcastCoalesced([...this.model.parameters(), ...this.model.namedBuffers().map(([, b]) => b)]);
  }

  /** Before every training forward pass (its backward is then reduced). */
  beforeForward(): void {
    if (this.broadcastBuffers && this.worldSize > 1) {
      const buffers = this.model.namedBuffers().map(([, b]) => b);
      if (buffers.length) this.group.broadcastCoalesced(buffers);
    }
    this.reducer.prepare();
  }

  /**
   * loss.backward(), its gradients averaged across the ranks as it runs. A peer that died or went
   * silent past the group's timeout is an Error that says so (and what Gloo saw), never a hang.
   */
  backward(loss: Tensor): void {
    try {
      loss.backward();
    } catch (e) {
      const why = (e as Error).message.replace(/^backward: /, '');
      throw new Error(`data-parallel training, rank ${this.rank} of ${this.worldSize}: the gradient all-reduce failed (a peer died or timed out): ${why}`, { cause: e });
    }
  }

  /** The sums over all ranks of a few numbers (epoch statistics), in float64. */
  sum(values: number[]): number[] {
    const t = tensor(Float64Array.from(values), [values.length], 'float64');
    try {
      this.group.allReduce([t]).wait();
      return Array.from(t.toTypedArray() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /**
   * Where training starts: every rank must have found the same checkpoint epoch (a checkpoint on
   * storage some rank cannot see would let the replicas drift apart).
   */
  agreeOnStart(epoch: number): void {
    const t = tensor(Float64Array.from([epoch, -epoch]), [2], 'float64');
    try {
      this.group.allReduce([t], 'max').wait();
      const [max, negMin] = Array.from(t.toTypedArray() as Float64Array);
      if (max !== -negMin) {
        throw new Error(
          `rank ${this.rank} resumes after epoch ${epoch} but the ranks disagree (epochs ${-negMin} to ${max}): ` + 'the checkpoint must be on storage every rank reads (rank 0 writes it)',
        );
      }
    } finally {
      t.dispose();
    }
  }

  barrier(): void {
    this.group.barrier();
  }

  /** Unhooks the Reducer (the group stays the caller's). */
  dispose(): void {
    this.reducer.destroy();
  }
}
