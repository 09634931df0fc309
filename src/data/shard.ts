// A rank's share of an epoch's order, as PyTorch's DistributedSampler (drop_last=False) makes it:
// the order padded with its own first items to a multiple of the rank count, then every count-th
// item from position rank. Batch k of every rank together are then exactly batch k of one process
// whose batch is count times larger: the same global batches, split across the ranks.

export interface Shard {
  /** This process's rank, from 0. */
  rank: number;
  /** How many ranks share the data. */
  count: number;
}

export function checkShard(s: Shard): void {
  if (!Number.isInteger(s.count) || s.count < 1) throw new RangeError(`shard: count must be a positive integer, got ${s.count}`);
  if (!Number.isInteger(s.rank) || s.rank < 0 || s.rank >= s.count) throw new RangeError(`shard: rank must be an integer from 0 to ${s.count - 1}, got ${s.rank}`);
}

/** Items per rank for `total` items. */
export function shardSize(total: number, s: Shard): number {
  return Math.ceil(total / s.count);
}

/** This rank's positions of `order`, in order. */
export function shardOrder(order: Int32Array, s: Shard): Int32Array {
  const per = shardSize(order.length, s);
  const out = new Int32Array(per);
  for (let i = 0; i < per; i++) out[i] = order[(i * s.count + s.rank) % order.length];
  return out;
}
