// ProcessGroup: a c10d process group (Gloo on CPU) and its collectives on tensors, in place. This
// is PyTorch's torch.distributed on libtorch's own engine: the same store rendezvous, the same
// Gloo algorithms; nothing here moves bytes itself.
import { native, type NativeGroup } from '../native/index.ts';
import type { Tensor } from '../tensor/index.ts';
import { type DistributedEnv, distributedEnv } from './env.ts';
import { Store } from './store.ts';
import { Work } from './work.ts';

export type Backend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'product' | 'min' | 'max';

/** PyTorch's default collective timeout (30 minutes). */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
/** DDP's buffer for broadcasting module states (torch.nn.parallel.distributed: 250 MiB). */
export const BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024;

export interface ProcessGroupOptions {
  store: Store;
  rank: number;
  worldSize: number;
  /** 'gloo' (CPU). 'nccl' only where the linked libtorch was built with CUDA. */
  backend?: Backend;
  /** Every collective (and joining) fails after this long without progress (default 30 min). */
  timeoutMs?: number;
  /**
   * The address this rank's Gloo device binds. Default: GLOO_SOCKET_IFNAME's interface when set,
   * else the address this machine's hostname resolves to (PyTorch's rule).
   */
  hostname?: string;
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: Backend;
  /** @internal */
  readonly native: NativeGroup;
  private ownedStore: Store | null = null;
  private destroyed = false;

  /** Joins the group: blocks until every rank has (or the timeout passes). */
  constructor(o: ProcessGroupOptions) {
    this.backend = o.backend ?? 'gloo';
    this.native = native.c10dProcessGroup(o.store.native, o.rank, o.worldSize, this.backend, o.timeoutMs ?? DEFAULT_TIMEOUT_MS, o.hostname ?? '');
    this.rank = o.rank;
    this.worldSize = o.worldSize;
  }

  /**
   * torch.distributed.init_process_group(init_method='env://'): the store at MASTER_ADDR:MASTER_PORT
   * (served by rank 0) and the group of WORLD_SIZE ranks. With MASTER_ADDR on this machine's
   * loopback, Gloo binds the loopback too.
   */
  static fromEnv(env: DistributedEnv, options: { backend?: Backend; timeoutMs?: number } = {}): ProcessGroup {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const store = new Store({ host: env.masterAddr, port: env.masterPort, worldSize: env.worldSize, isServer: env.rank === 0, timeoutMs });
    try {
      const loopback = /^(127\.|localhost$|::1$)/.test(env.masterAddr);
      const group = new ProcessGroup({ store, rank: env.rank, worldSize: env.worldSize, backend: options.backend, timeoutMs, hostname: loopback ? '127.0.0.1' : undefined });
      group.ownedStore = store;
      return group;
    } catch (e) {
      store.destroy();
      throw e;
    }
  }

  /** The group of the job described by `env` (the launcher's variables), or null outside one. */
  static fromProcessEnv(env: Record<string, string | undefined> = process.env, options: { backend?: Backend; timeoutMs?: number } = {}): ProcessGroup | null {
    const d = distributedEnv(env);
    return d === null ? null : ProcessGroup.fromEnv(d, options);
  }

  get isLeader(): boolean {
    return this.rank === 0;
  }

  /** Reduces every tensor in place across the ranks (asynchronous: wait on the Work). */
  allReduce(tensors: Tensor[], op: ReduceOp = 'sum'): Work {
    return new Work(
      native.c10dAllReduce(
        this.native,
        tensors.map((t) => t.handle),
        op,
      ),
    );
  }

  /** Many small tensors in one flattened all-reduce. */
  allReduceCoalesced(tensors: Tensor[], op: ReduceOp = 'sum'): Work {
    return new Work(
      native.c10dAllReduceCoalesced(
        this.native,
        tensors.map((t) => t.handle),
        op,
      ),
    );
  }

  /** Copies root's tensor into every rank's, in place (asynchronous). */
  broadcast(tensor: Tensor, root = 0): Work {
    return new Work(native.c10dBroadcast(this.native, [tensor.handle], root));
  }

  /** Root's tensors into everyone's, flattened in buffers of bufferBytes (DDP's module-state sync). Synchronous. */
  broadcastCoalesced(tensors: Tensor[], root = 0, bufferBytes = BROADCAST_BUCKET_BYTES): void {
    if (tensors.length === 0) return;
    native.c10dBroadcastCoalesced(
      this.native,
      tensors.map((t) => t.handle),
      bufferBytes,
      root,
    );
  }

  /** Returns when every rank has reached it. */
  barrier(): void {
    new Work(native.c10dBarrier(this.native)).wait();
  }

  /** Leaves the group (and closes the store it opened). Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    native.c10dDestroyGroup(this.native);
    this.ownedStore?.destroy();
  }
}
