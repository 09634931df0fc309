// DataLoader: seeded, resumable batches over an in-memory Dataset, as tensors.
//
// The JavaScript side of a batch (gather, augment, normalise into a Float32Array) runs in worker
// threads, a few batches ahead, while the main thread computes; the main thread only wraps the
// transferred buffers into tensors. Every random choice comes from (seed, epoch, batch), so epoch e
// is reproducible on its own (resuming) and the worker path gives exactly the in-thread batches.
import { Worker } from 'node:worker_threads';
import { type Tensor, tensor } from '../tensor/index.ts';
import { type Dataset, type Labels, type Pixels, storageOf } from './dataset.ts';
import type { AugmentOptions } from './augment.ts';
import { type BatchArrays, type BatchJob, type CollateSpec, type NoiseSpec, STREAM, collate } from './collate.ts';
import { Rng } from './rng.ts';
import { type Shard, checkShard, shardOrder, shardSize } from './shard.ts';

export interface ClassBatch extends Record<string, Tensor> {
  /** float32 [B, C, H, W], normalised. */
  x: Tensor;
  /** int64 [B]. */
  y: Tensor;
}

export interface DenoiseBatch extends Record<string, Tensor> {
  /** float32 [B, C, H, W]: clean + Gaussian noise (not clamped). */
  noisy: Tensor;
  /** float32 [B, C, H, W] in [0, 1]. */
  clean: Tensor;
}

export interface LoaderOptions {
  batchSize: number;
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of order, augmentation and noise (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Per-channel normalisation of pixels in [0, 1] (bytes are divided by 255 first). */
  mean?: number[];
  std?: number[];
  augment?: AugmentOptions;
  /** Worker threads building batches (default 1); 0 builds them in this thread. */
  workers?: number;
  /** Batches prepared ahead of the one being consumed (default 2 per worker). */
  prefetch?: number;
  /** Data-parallel training: this rank's share of every epoch (shard.ts, DistributedSampler's split). */
  shard?: Shard;
}

export interface DenoiseLoaderOptions extends Omit<LoaderOptions, 'mean' | 'std'> {
  /** σ on the [0, 255] scale: a number, or [min, max] to draw one per item (blind denoising). */
  sigma: number | [number, number];
}

let running = 0;

/** Loader worker threads alive in this process (tests check it returns to 0). */
export function runningLoaderWorkers(): number {
  return running;
}

export class DataLoader<B extends Record<string, Tensor> = ClassBatch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly workers: number;
  readonly prefetch: number;
  /** Items per epoch (this rank's share with `shard`). */
  readonly size: number;
  private readonly datasetSize: number;
  private readonly spec: CollateSpec;
  private readonly index: Int32Array | null;
  private readonly shard: Shard | null;
  private shared: CollateSpec | null = null;
  private cachedOrder: { epoch: number; order: Int32Array } | null = null;

  constructor(dataset: Dataset, options: LoaderOptions, kind: 'classify' | 'denoise' = 'classify', noise?: NoiseSpec) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.seed = options.seed ?? 0;
    if (!Number.isSafeInteger(this.seed)) throw new RangeError(`DataLoader: seed must be a safe integer, got ${this.seed}`);
    this.dropLast = options.dropLast ?? false;
    this.workers = options.workers ?? 1;
    if (!Number.isInteger(this.workers) || this.workers < 0) throw new RangeError(`DataLoader: workers must be an integer ≥ 0, got ${this.workers}`);
    this.prefetch = options.prefetch ?? 2 * Math.max(1, this.workers);
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1) throw new RangeError(`DataLoader: prefetch must be an integer ≥ 1, got ${this.prefetch}`);

    const { data, index } = storageOf(dataset);
    const channels = data.shape[0];
    for (const [name, v] of [
      ['mean', options.mean],
      ['std', options.std],
    ] as const) {
      if (v !== undefined && v.length !== channels) throw new RangeError(`DataLoader: ${name} has ${v.length} values for ${channels} channels`);
    }
    if (options.std?.some((s) => !(s > 0))) throw new RangeError(`DataLoader: std must be positive, got [${options.std.join(', ')}]`);
    this.index = index;
    if (options.shard) checkShard(options.shard);
    this.shard = options.shard && options.shard.count > 1 ? { ...options.shard } : null;
    this.datasetSize = index === null ? data.length : index.length;
    this.size = this.shard ? shardSize(this.datasetSize, this.shard) : this.datasetSize;
    this.spec = {
      kind,
      images: data.images,
      labels: data.labels,
      shape: [...data.shape],
      seed: this.seed,
      mean: options.mean,
      std: options.std,
      augment: options.augment,
      noise,
    };
    // Fail here, not in a worker: one trial batch checks the augmentation against the item shape.
    if (this.size > 0) collate(this.spec, { epoch: 0, batch: 0, indices: new Int32Array([this.storageIndex(0)]) });
  }

  /** A loader of (noisy, clean) pairs: the dataset's images (in [0, 1]) plus seeded Gaussian noise. */
  static denoise(dataset: Dataset, options: DenoiseLoaderOptions): DataLoader<DenoiseBatch> {
    const { sigma } = options;
    const ok = typeof sigma === 'number' ? sigma >= 0 : sigma.length === 2 && sigma[0] >= 0 && sigma[0] <= sigma[1];
    if (!ok) throw new RangeError(`DataLoader.denoise: sigma must be ≥ 0 or a range [min, max] with 0 ≤ min ≤ max, got ${JSON.stringify(sigma)}`);
    const noise: NoiseSpec = typeof sigma === 'number' ? { sigma } : { sigmaRange: [sigma[0], sigma[1]] };
    return new DataLoader<DenoiseBatch>(dataset, options, 'denoise', noise);
  }

  /** Batches in one pass (BatchSource). */
  get batchCount(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  /** Dataset positions in the order epoch `epoch` visits them. */
  order(epoch: number): Int32Array {
    if (this.cachedOrder?.epoch === epoch) return this.cachedOrder.order;
    let order: Int32Array;
    if (this.shuffle) order = new Rng(this.seed, STREAM.shuffle, epoch).permutation(this.datasetSize);
    else order = Int32Array.from({ length: this.datasetSize }, (_, i) => i);
    if (this.shard) order = shardOrder(order, this.shard);
    this.cachedOrder = { epoch, order };
    return order;
  }

  private storageIndex(position: number): number {
    return this.index === null ? position : this.index[position];
  }

  private job(epoch: number, batch: number): BatchJob {
    if (!Number.isInteger(batch) || batch < 0 || batch >= this.batchCount) throw new RangeError(`DataLoader: batch ${batch} out of range 0..${this.batchCount - 1}`);
    const order = this.order(epoch);
    const start = batch * this.batchSize;
    const end = Math.min(start + this.batchSize, this.size);
    const indices = new Int32Array(end - start);
    for (let i = start; i < end; i++) indices[i - start] = this.storageIndex(order[i]);
    return { epoch, batch, indices };
  }

  private wrap(arrays: BatchArrays): B {
    const out: Record<string, Tensor> = {};
    for (const [name, a] of Object.entries(arrays)) out[name] = tensor(a.data, a.shape);
    return out as B;
  }

  /** Batch `batch` of epoch `epoch`, built in this thread. */
  batch(epoch: number, batch: number): B {
    return this.wrap(collate(this.spec, this.job(epoch, batch)));
  }

  /** The batches of one epoch, built in this thread. */
  *epochSync(epoch: number, options: { startBatch?: number } = {}): Generator<B, void, undefined> {
    for (let k = options.startBatch ?? 0; k < this.batchCount; k++) yield this.batch(epoch, k);
  }

  /**
   * The batches of one epoch, prepared ahead by worker threads (in this thread when workers is 0).
   * startBatch resumes mid-epoch. Breaking out of for-await stops the workers; so does reaching the
   * end. The caller owns (disposes) each batch's tensors.
   */
  epoch(epoch: number, options: { startBatch?: number } = {}): AsyncIterableIterator<B> & AsyncDisposable {
    const start = options.startBatch ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > this.batchCount) throw new RangeError(`DataLoader: startBatch ${start} out of range 0..${this.batchCount}`);
    if (this.workers === 0) return inThread(this.epochSync(epoch, options));
    return new WorkerEpoch<B>(this, epoch, start);
  }

  /** @internal What WorkerEpoch needs; the storage moved to shared memory once, on first use. */
  workerParts(): { spec: CollateSpec; job: (e: number, k: number) => BatchJob; wrap: (a: BatchArrays) => B } {
    this.shared ??= { ...this.spec, images: toShared(this.spec.images), labels: toShared(this.spec.labels) };
    return { spec: this.shared, job: (e, k) => this.job(e, k), wrap: (a) => this.wrap(a) };
  }
}

/** The same array on a SharedArrayBuffer (a copy unless it already is), so workers share it. */
function toShared<T extends Pixels | Labels>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  (out as unknown as { set(x: ArrayLike<number>): void }).set(a);
  return out;
}

function inThread<B>(gen: Generator<B, void, undefined>): AsyncIterableIterator<B> & AsyncDisposable {
  return {
    next: async () => gen.next() as IteratorResult<B>,
    return: async () => {
      gen.return();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
    async [Symbol.asyncDispose]() {
      gen.return();
    },
  };
}

// A worker does not inherit tsx's loader from the main thread: under Node 20.20 both
// `new Worker(url)` and `new Worker(url, { execArgv: ['--import', 'tsx'] })` fail with "Unknown file
// extension .ts". So the .ts entry is started by a tiny CommonJS bootstrap that registers tsx in the
// worker first (tsx's API resolved here, so the worker does not depend on the current folder).
// The entry has this module's own extension: loader-worker.ts next to the sources, loader-worker.js
// in the compiled dist/ of the package (where there is no tsx and none is needed).
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './loader-worker.ts' : './loader-worker.js', import.meta.url).href;
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();
`;

function tsxApi(): string | null {
  if (!ENTRY.endsWith('.ts')) return null;
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    throw new Error('DataLoader: the worker entry is TypeScript and tsx is not installed; use workers: 0 or install tsx');
  }
}

interface Deferred {
  promise: Promise<BatchArrays>;
  resolve(a: BatchArrays): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  let resolve!: (a: BatchArrays) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<BatchArrays>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a batch prefetched but never awaited must not become an unhandled rejection
  return { promise, resolve, reject };
}

/** One epoch over a small worker pool: batch k goes to worker k mod N; results are yielded in order. */
class WorkerEpoch<B extends Record<string, Tensor>> implements AsyncIterableIterator<B>, AsyncDisposable {
  private readonly pool: { worker: Worker; inFlight: number }[] = [];
  private readonly pending = new Map<number, Deferred>();
  private readonly end: number;
  private nextToYield: number;
  private nextToSend: number;
  private failure: Error | null = null;
  private closed = false;
  private readonly parts: ReturnType<DataLoader<B>['workerParts']>;

  constructor(
    private readonly loader: DataLoader<B>,
    private readonly epochNumber: number,
    start: number,
  ) {
    this.parts = loader.workerParts();
    this.end = loader.batchCount;
    this.nextToYield = start;
    this.nextToSend = start;
    const n = Math.min(loader.workers, Math.max(1, this.end - start));
    if (start >= this.end) {
      this.closed = true;
      return;
    }
    const workerData = { spec: this.parts.spec, entry: ENTRY, tsx: tsxApi() };
    for (let i = 0; i < n; i++) {
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData });
      running++;
      const slot = { worker, inFlight: 0 };
      worker.unref(); // idle workers never keep the process alive; ref() while a batch is in flight
      worker.on('message', (m: { batch: number; arrays?: BatchArrays; error?: string }) => this.onMessage(slot, m));
      worker.on('error', (e) => this.fail(new Error(`DataLoader worker failed: ${e.message}`, { cause: e })));
      worker.on('exit', (code) => {
        running--;
        if (!this.closed) this.fail(new Error(`DataLoader worker exited unexpectedly (code ${code})`));
      });
      this.pool.push(slot);
    }
  }

  private onMessage(slot: { worker: Worker; inFlight: number }, m: { batch: number; arrays?: BatchArrays; error?: string }): void {
    if (--slot.inFlight === 0) slot.worker.unref();
    const d = this.pending.get(m.batch);
    if (!d) return;
    if (m.error !== undefined) d.reject(new Error(`DataLoader: building batch ${m.batch} of epoch ${this.epochNumber} failed: ${m.error}`));
    else d.resolve(m.arrays!);
  }

  private fail(e: Error): void {
    if (this.failure || this.closed) return;
    this.failure = e;
    for (const d of this.pending.values()) d.reject(e);
    void this.close();
  }

  private fill(): void {
    while (!this.failure && this.nextToSend < this.end && this.nextToSend < this.nextToYield + this.loader.prefetch) {
      const k = this.nextToSend++;
      const slot = this.pool[k % this.pool.length];
      const d = deferred();
      this.pending.set(k, d);
      if (slot.inFlight++ === 0) slot.worker.ref();
      slot.worker.postMessage(this.parts.job(this.epochNumber, k));
    }
  }

  async next(): Promise<IteratorResult<B>> {
    if (this.failure) throw this.failure;
    if (this.closed || this.nextToYield >= this.end) {
      await this.close();
      return { done: true, value: undefined };
    }
    const k = this.nextToYield++;
    this.fill();
    try {
      const arrays = await this.pending.get(k)!.promise;
      return { done: false, value: this.parts.wrap(arrays) };
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      this.pending.delete(k);
    }
  }

  /** Called by for-await on break or throw: stops the workers. */
  async return(): Promise<IteratorResult<B>> {
    await this.close();
    return { done: true, value: undefined };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private async close(): Promise<void> {
    if (this.closed && this.pool.length === 0) return;
    this.closed = true;
    const pool = this.pool.splice(0);
    this.pending.clear();
    // A worker being terminated does not keep the event loop alive (ref() or not, seen on Node 20),
    // so without a timer the loop could drain first and leave the caller's await pending forever.
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      await Promise.all(pool.map((s) => s.worker.terminate()));
    } finally {
      clearInterval(keepAlive);
    }
  }
}
