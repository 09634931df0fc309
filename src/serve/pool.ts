// Inference off the event loop, with dynamic batching. Requests for the same model, tier and input
// shape wait in one queue; a queue is sent to a worker as one batch when it holds `maxBatch`
// images or its oldest request has waited `maxWaitMs`. While every worker is busy the queues keep
// filling, so under load batches grow by themselves (up to maxBatch). Every worker holds every
// model (src/serve/worker.ts).
//
// A worker may hold a second batch behind the one it runs (options.pipeline, default 2): it starts
// that one the moment the first is done, instead of waiting for its answer to reach this thread
// (busy with HTTP under load) and the next batch to come back. A ready queue goes to a worker with
// nothing to run first. A busy worker is sent its second batch only shortly before it is expected
// to finish the first (LEAD_MS; the estimate comes from the time its batches took so far, as the
// worker measures them): until then the queues keep filling. Sent as soon as a queue was ready, the
// second batch cut the batches from 19 to 13 images with one PNG per request. On two cores the
// pipeline measured neither better nor worse than one batch at a time (bench/results/serve.md,
// "Pipelined dispatch"): the machine was already 89-95 % busy; it is for machines where this
// thread's latency, not the CPU, leaves workers waiting.
import { Worker } from 'node:worker_threads';
import type { FromWorker, LoadMessage, ModelMemory, TierLayer, ToWorker } from './worker-protocol.ts';
import { ServeError } from './errors.ts';

export interface PoolOptions {
  /** Worker threads (default 1). Each holds every model. */
  workers?: number;
  /** Most images in one batch (default 64). */
  maxBatch?: number;
  /** Longest a request waits for others to join its batch, in ms (default 5). */
  maxWaitMs?: number;
  /** libtorch intra-op threads, set by every worker (OpenMP keeps the count per calling thread; a worker that started its first op before another set it would keep the old count); default: leave as is. */
  threads?: number;
  /** Devices of the workers: worker i runs on devices[i % n] (default: every worker on the CPU). */
  devices?: readonly string[];
  /** Devices of single models, by name, in every worker (before `devices`). */
  modelDevices?: Readonly<Record<string, string>>;
  /** Batches a worker holds at once, the one it runs included (default PIPELINE_DEPTH; 1: none sent ahead). */
  pipeline?: number;
  /** After every batch: its model, tier and size (for metrics). */
  onBatch?: (model: string, tier: number, size: number) => void;
}

/**
 * What tells run() that the client went away: an AbortSignal, or anything with the one method run()
 * uses (the server passes a listener on the connection's close, cheaper per request than an
 * AbortController).
 */
export interface CancelSignal {
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
}

/** One batch's result: softmax probabilities [N, K] or denoised images [N, C, H, W]. */
export interface RunResult {
  shape: number[];
  data: Float32Array;
}

interface Pending {
  images: number;
  data: Float32Array | Uint8Array;
  since: number;
  deadline: number;
  resolve(r: RunResult): void;
  reject(e: Error): void;
  settled: boolean;
}

interface Queue {
  key: string;
  model: string;
  tier: number;
  /** [C, H, W] of one image. */
  image: number[];
  /** Whether the items are 8-bit pixels (else float32 input). */
  pixels: boolean;
  items: Pending[];
  /** Images of the items (kept as they come and go: schedule() runs on every request). */
  images: number;
}

interface Slot {
  worker: Worker;
  /** Batches sent to this worker and not answered yet (at most the pool's pipeline depth). */
  inflight: number;
  /** When (Date.now() ms) the worker is expected to have run every batch it holds. */
  freeAt: number;
  alive: boolean;
}

/** Batches a worker holds at once by default: the one it runs and the next (see the header). */
const PIPELINE_DEPTH = 2;
/** How long before a busy worker's expected finish it is sent its next batch, ms: about the time this thread takes to hear that a batch is done and answer, under load. */
const LEAD_MS = 2;
/** Weight of the newest batch in the pool's running estimate of a model's ms per input value. */
const RATE_WEIGHT = 0.2;

// Worker entry as in src/data/loader.ts: a .ts entry needs tsx registered inside the worker first
// (Node 20 does not pass the main thread's loader on), a compiled .js entry needs nothing.
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();
`;

const MAX_RESTARTS = 8;

function tsxApi(): string | null {
  if (!ENTRY.endsWith('.ts')) return null;
  return import.meta.resolve('tsx/esm/api');
}

export class InferencePool {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly pipeline: number;
  private readonly slots: Slot[] = [];
  private readonly queues = new Map<string, Queue>();
  private readonly calls = new Map<number, { resolve(m: FromWorker): void; reject(e: Error): void }>();
  private readonly acks = new Map<string, { resolve(): void; reject(e: Error): void; left: number }>();
  /** The load and tier messages sent so far, by key: what a replacement worker is given first. */
  private readonly history = new Map<string, ToWorker>();
  /** Workers started again after one stopped (a crash, an out-of-memory kill). */
  restarts = 0;
  /** Per model, the workers' running estimate of ms per input value (images of a denoiser differ in size). */
  private readonly msPerValue = new Map<string, number>();
  private nextId = 1;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: PoolOptions = {}) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxWaitMs = options.maxWaitMs ?? 5;
    this.pipeline = options.pipeline ?? PIPELINE_DEPTH;
    if (!(this.pipeline >= 1) || !Number.isInteger(this.pipeline)) throw new RangeError(`pipeline must be a positive integer, got ${this.pipeline}`);
    if (!(this.maxBatch >= 1) || !Number.isInteger(this.maxBatch)) throw new RangeError(`maxBatch must be a positive integer, got ${this.maxBatch}`);
    if (!(this.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be ≥ 0, got ${this.maxWaitMs}`);
    const n = options.workers ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`workers must be a positive integer, got ${n}`);
    const devices = options.devices?.length ? options.devices : undefined;
    for (let i = 0; i < n; i++) this.slots.push(this.spawn(options.threads, devices?.[i % devices.length]));
  }

  private spawn(threads?: number, device?: string): Slot {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { entry: ENTRY, tsx: tsxApi(), threads, device, modelDevices: this.options.modelDevices } });
    const slot: Slot = { worker, inflight: 0, freeAt: 0, alive: true };
    // A replacement learns the models and tiers first: a worker handles its messages in order.
    for (const m of this.history.values()) worker.postMessage(m);
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    const fail = (why: string) => {
      if (!slot.alive) return;
      slot.alive = false;
      // A worker that dies takes its batch with it; the others go on.
      for (const [id, c] of this.calls)
        if ((c as { slot?: Slot }).slot === slot) {
          this.calls.delete(id);
          c.reject(new Error(`the inference worker stopped: ${why}`));
        }
      for (const [, a] of this.acks) a.reject(new Error(`an inference worker stopped while loading: ${why}`));
      this.acks.clear();
      // Started again, a few times at most (a worker that keeps dying is a bug to see, not to hide).
      if (!this.closed && this.restarts < MAX_RESTARTS) {
        this.restarts++;
        this.slots[this.slots.indexOf(slot)] = this.spawn(threads, device);
      }
      this.schedule();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    return slot;
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ack') {
      const key = `${m.what}:${m.name}:${m.tier ?? ''}`;
      const a = this.acks.get(key);
      if (!a) return;
      if (m.error) {
        this.acks.delete(key);
        a.reject(new Error(m.error));
      } else if (--a.left === 0) {
        this.acks.delete(key);
        a.resolve();
      }
      return;
    }
    const c = this.calls.get(m.id);
    if (!c) return;
    this.calls.delete(m.id);
    c.resolve(m);
  }

  private live(): Slot[] {
    return this.slots.filter((s) => s.alive);
  }

  /** Sends a message to every worker and resolves when each has acknowledged it. */
  private broadcast(key: string, message: ToWorker): Promise<void> {
    const slots = this.live();
    if (slots.length === 0) return Promise.reject(new Error('no inference worker is running'));
    return new Promise<void>((resolve, reject) => {
      this.acks.set(key, { resolve, reject, left: slots.length });
      this.history.set(key, message);
      for (const s of slots) s.worker.postMessage(message);
    });
  }

  /** Loads a model into every worker: its published weights. */
  load(message: Omit<LoadMessage, 'type'>): Promise<void> {
    return this.broadcast(`load:${message.name}:`, { type: 'load', ...message });
  }

  /** Gives every worker the kernels one tier changes. */
  addTier(name: string, tier: number, layers: TierLayer[]): Promise<void> {
    return this.broadcast(`tier:${name}:${tier}`, { type: 'tier', name, tier, layers });
  }

  /** Tensor bytes the first worker holds per model (every worker holds the same). */
  async memory(): Promise<{ models: Record<string, ModelMemory>; live: number }> {
    const slot = this.live()[0];
    if (!slot) throw new Error('no inference worker is running');
    const m = await this.call(slot, (id) => ({ type: 'memory', id }));
    if (m.type !== 'memory') throw new Error('unexpected worker reply');
    return { models: m.models, live: m.live };
  }

  private call(slot: Slot, make: (id: number) => ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    const id = this.nextId++;
    return new Promise<FromWorker>((resolve, reject) => {
      this.calls.set(id, Object.assign({ resolve, reject }, { slot }));
      slot.worker.postMessage(make(id), transfer);
    });
  }

  /**
   * Runs `images` images ([images, ...image], `data`: the network's input, or 8-bit pixels of a
   * classifier, which its worker turns into input) of a model at a tier, batched with other
   * requests of the same model, tier, image shape and kind of data. Rejects with a ServeError 'timeout' after timeoutMs. When `signal` aborts (the
   * client went away) while the images still wait, they leave the queue: no worker runs them.
   */
  run(model: string, tier: number, image: number[], images: number, data: Float32Array | Uint8Array, timeoutMs = 30_000, signal?: CancelSignal): Promise<RunResult> {
    if (this.closed) return Promise.reject(new ServeError('unavailable', 'the server is shutting down'));
    const pixels = data instanceof Uint8Array;
    const key = `${model}\u0000${tier}\u0000${image.join('x')}\u0000${pixels ? 'u8' : 'f32'}`;
    let q = this.queues.get(key);
    if (!q) {
      q = { key, model, tier, image, pixels, items: [], images: 0 };
      this.queues.set(key, q);
    }
    const now = Date.now();
    return new Promise<RunResult>((resolve, reject) => {
      const item: Pending = { images, data, since: now, deadline: now + timeoutMs, settled: false, resolve, reject };
      const drop = (e: ServeError) => {
        if (item.settled) return;
        item.settled = true;
        clearTimeout(timer);
        const i = q.items.indexOf(item);
        if (i >= 0) {
          q.items.splice(i, 1);
          q.images -= item.images;
        }
        reject(e);
      };
      const timer = setTimeout(() => drop(new ServeError('timeout', `inference took longer than ${timeoutMs} ms`)), timeoutMs);
      signal?.addEventListener('abort', () => drop(new ServeError('unavailable', 'the client closed the connection')), { once: true });
      item.resolve = (r) => {
        clearTimeout(timer);
        if (item.settled) return;
        item.settled = true;
        resolve(r);
      };
      item.reject = (e) => {
        clearTimeout(timer);
        if (item.settled) return;
        item.settled = true;
        reject(e);
      };
      q.items.push(item);
      q.images += item.images;
      this.schedule();
    });
  }

  /** Images waiting, over all queues. */
  get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.images;
    return n;
  }

  private schedule(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const live = this.live();
    if (live.length === 0) {
      for (const q of this.queues.values()) {
        q.images = 0;
        for (const i of q.items.splice(0)) i.reject(new ServeError('unavailable', 'no inference worker is running'));
      }
      return;
    }
    const now = Date.now();
    for (;;) {
      // The ready queue whose oldest request has waited longest: full, or waited maxWaitMs.
      let best: Queue | null = null;
      let nextDue = Number.POSITIVE_INFINITY;
      for (const q of this.queues.values()) {
        if (q.items.length === 0) continue;
        const due = q.items[0].since + this.maxWaitMs;
        if (q.images >= this.maxBatch || due <= now || this.closed) {
          if (!best || q.items[0].since < best.items[0].since) best = q;
        } else nextDue = Math.min(nextDue, due);
      }
      // A worker with nothing to run, else one with room that is about to finish what it holds.
      const idle = live.find((s) => s.inflight === 0) ?? live.find((s) => s.inflight < this.pipeline && s.freeAt - now <= LEAD_MS);
      if (!best || !idle) {
        // Wake for the next queue to become ready, or (a queue is ready) for the next worker to near its finish.
        let wake = best ? Number.POSITIVE_INFINITY : nextDue;
        if (best) for (const s of live) if (s.inflight < this.pipeline) wake = Math.min(wake, s.freeAt - LEAD_MS);
        if (wake < Number.POSITIVE_INFINITY) this.timer = setTimeout(() => this.schedule(), Math.max(0, wake - now));
        return;
      }
      this.dispatch(idle, best, now);
    }
  }

  private dispatch(slot: Slot, q: Queue, now: number): void {
    const batch: Pending[] = [];
    let images = 0;
    while (q.items.length > 0 && (batch.length === 0 || images + q.items[0].images <= this.maxBatch)) {
      const item = q.items.shift()!;
      batch.push(item);
      images += item.images;
    }
    q.images -= images;
    if (q.items.length === 0) this.queues.delete(q.key);
    const per = q.image.reduce((a, b) => a * b, 1);
    const data = q.pixels ? new Uint8Array(images * per) : new Float32Array(images * per);
    let offset = 0;
    for (const item of batch) {
      data.set(item.data, offset);
      offset += item.data.length;
    }
    // After what the worker holds already, or from now when it holds nothing (freeAt is read only while it holds something).
    slot.freeAt = (slot.inflight > 0 ? Math.max(now, slot.freeAt) : now) + (this.msPerValue.get(q.model) ?? 0) * data.length;
    slot.inflight++;
    this.options.onBatch?.(q.model, q.tier, images);
    this.call(slot, (id) => ({ type: 'run', id, name: q.model, tier: q.tier, shape: [images, ...q.image], data }), [data.buffer as ArrayBuffer])
      .then((m) => {
        if (m.type === 'failed') throw new Error(m.message);
        if (m.type !== 'done') throw new Error('unexpected worker reply');
        const rate = m.ms / (images * per);
        const old = this.msPerValue.get(q.model);
        this.msPerValue.set(q.model, old === undefined ? rate : old + RATE_WEIGHT * (rate - old));
        const rest = m.shape.slice(1);
        const size = rest.reduce((a, b) => a * b, 1);
        let at = 0;
        for (const item of batch) {
          item.resolve({ shape: [item.images, ...rest], data: m.data.slice(at * size, (at + item.images) * size) });
          at += item.images;
        }
      })
      .catch((e: Error) => {
        for (const item of batch) item.reject(e);
      })
      .finally(() => {
        slot.inflight--;
        this.schedule();
      });
  }

  /** Runs what is queued at once (no more waiting for batches), then stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    this.schedule();
    while (this.queued > 0 || this.slots.some((s) => s.alive && s.inflight > 0)) await new Promise((r) => setTimeout(r, 5));
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(
      this.slots.map((s) => {
        s.alive = false;
        return s.worker.terminate();
      }),
    );
  }
}
