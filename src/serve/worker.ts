// An inference worker of the service: holds every served model once, and per tier only what that
// tier changes: the kernels of the protected layers whose values differ from the published ones
// (a few percent of each layer), never a second copy of a layer or of any other tensor. The
// published values of those kernels are held once per layer for all tiers (the kernels any tier
// changes). A batch of tier m puts tier m's kernels into the model (after putting the published
// values back), only when the last batch was of another tier, then runs the forward pass.
// One batch at a time: the pool (pool.ts) sends the next when this one is done.
import { parentPort, workerData } from 'node:worker_threads';
import { type Tensor, fromBytes, keep, liveTensors, noGrad, scope, setNumThreads, tensor } from '../tensor/index.ts';
import { toDevice } from '../ops/convert.ts';
import { softmax } from '../ops/activation.ts';
import { clamp, sub } from '../ops/arithmetic.ts';
import { indexPutInPlace } from '../ops/indexing.ts';
import { view } from '../ops/shape.ts';
import type { Module } from '../nn/index.ts';
import { modelSpec } from '../models/registry.ts';
import { tensorsFromEntries } from '../io/tensor-file.ts';
import { type TensorEntry, toDType } from '../io/safetensors.ts';
import { buildErModel } from '../er/model-file.ts';
import type { FromWorker, LoadMessage, ModelMemory, RunMessage, TierLayer, ToWorker } from './worker-protocol.ts';

/** One layer's kernels that a tier changes: flat kernel indices, and their values at the tier. */
interface TierKernels {
  /** The layer's weight seen as [A·B, kh·kw] (a view of the model's own tensor). */
  target: Tensor;
  index: Tensor;
  restored: Tensor;
}

/**
 * One layer's published values of the kernels that any tier changes, shared by the tiers: putting
 * them back undoes whichever tier is in the model (the others' kernels are published already).
 */
interface PublishedKernels {
  target: Tensor;
  /** Kernel index → its published bytes (kh·kw values), kept to rebuild the tensors when a tier comes. */
  bytes: Map<number, Uint8Array>;
  dtype: TensorEntry['dtype'];
  index: Tensor;
  values: Tensor;
}

interface Held {
  model: Module;
  task: LoadMessage['task'];
  /** The model's own tensors by name. */
  own: Map<string, Tensor>;
  /** Per tier ≥ 1, the kernels it changes. Tier 0 is the published weights: nothing to store. */
  tiers: Map<number, TierKernels[]>;
  /** Per protected layer, the published values of every kernel a tier changes. */
  published: Map<string, PublishedKernels>;
  /** The tier whose kernels are in the model now. */
  current: number;
  /** Where the model runs (deviceOf its name). */
  device: string;
}

const port = parentPort!;
const models = new Map<string, Held>();
const settings = (workerData ?? {}) as { threads?: number; device?: string; modelDevices?: Record<string, string> };
if (settings.threads) setNumThreads(settings.threads);

/** Where a model runs in this worker: its own device (config models[].device), else the worker's (batching.devices), else the CPU. */
function deviceOf(name: string): string {
  return settings.modelDevices?.[name] ?? settings.device ?? 'cpu';
}

/** A tensor made from a message (on the CPU), on the device of the model it is for. */
function onModel(held: Held, t: Tensor): Tensor {
  return toDevice(t, held.device);
}

function bytesOf(t: Tensor): number {
  const perElement = { float64: 8, int64: 8, float32: 4, int32: 4, float16: 2, bfloat16: 2, int16: 2 } as Record<string, number>;
  return t.numel * (perElement[t.dtype] ?? 1);
}

function send(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function load(m: LoadMessage): void {
  models.get(m.name)?.model.dispose();
  const model = m.build.kind === 'er' ? buildErModel(m.build.spec) : modelSpec(m.build.architecture).create(m.build.numClasses);
  const loaded = tensorsFromEntries(new Map(m.tensors));
  try {
    model.loadStateDict(loaded);
    model.to(deviceOf(m.name));
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    for (const t of loaded.values()) t.dispose();
  }
  model.eval();
  models.set(m.name, { model, task: m.task, own: model.stateDict(), tiers: new Map(), published: new Map(), current: 0, device: model.device });
}

function entryTensor(e: TensorEntry): Tensor {
  return fromBytes(e.data, e.shape, toDType(e.dtype));
}

function tierKernels(held: Held, layers: TierLayer[]): TierKernels[] {
  return scope(() =>
    layers.map((l) => {
      const weight = held.own.get(l.name);
      if (!weight) throw new Error(`the model has no tensor ${l.name}`);
      const [a, b, kh, kw] = weight.shape;
      return keep({
        target: view(weight, [a * b, kh * kw]),
        index: onModel(held, tensor(BigInt64Array.from(l.kernels, BigInt), [l.kernels.length])),
        restored: onModel(held, entryTensor(l.restored)),
      });
    }),
  );
}

/** Adds a tier's kernels to the layers' shared published values (the tensors are rebuilt). */
function sharePublished(held: Held, layers: TierLayer[]): void {
  for (const l of layers) {
    const weight = held.own.get(l.name)!;
    const [a, b, kh, kw] = weight.shape;
    let p = held.published.get(l.name);
    const size = l.published.data.length / Math.max(1, l.kernels.length);
    const bytes = p?.bytes ?? new Map<number, Uint8Array>();
    l.kernels.forEach((k, i) => {
      if (!bytes.has(k)) bytes.set(k, l.published.data.slice(i * size, (i + 1) * size));
    });
    const kernels = [...bytes.keys()].sort((x, y) => x - y);
    const data = new Uint8Array(kernels.length * size);
    kernels.forEach((k, i) => data.set(bytes.get(k)!, i * size));
    if (p) for (const t of [p.target, p.index, p.values]) t.dispose();
    p = scope(() =>
      keep({
        target: view(weight, [a * b, kh * kw]),
        bytes,
        dtype: l.published.dtype,
        index: onModel(held, tensor(BigInt64Array.from(kernels, BigInt), [kernels.length])),
        values: onModel(held, entryTensor({ dtype: l.published.dtype, shape: [kernels.length, kh * kw], data })),
      }),
    );
    held.published.set(l.name, p);
  }
}

function disposeKernels(ks: TierKernels[]): void {
  for (const k of ks) for (const t of [k.target, k.index, k.restored]) t.dispose();
}

function select(held: Held, tier: number): void {
  if (held.current === tier) return;
  if (tier !== 0 && !held.tiers.has(tier)) throw new Error(`tier ${tier} is not loaded in this worker`);
  noGrad(() => {
    if (held.current !== 0) for (const p of held.published.values()) indexPutInPlace(p.target, [p.index], p.values);
    for (const k of held.tiers.get(tier) ?? []) indexPutInPlace(k.target, [k.index], k.restored);
  });
  held.current = tier;
}

function run(m: RunMessage): { shape: number[]; data: Float32Array } {
  const held = models.get(m.name);
  if (!held) throw new Error(`model ${m.name} is not loaded in this worker`);
  select(held, m.tier);
  return noGrad(() =>
    scope(() => {
      const x = onModel(held, tensor(m.data, m.shape));
      const y = held.task === 'classify' ? softmax(held.model.forward(x), 1) : clamp(sub(x, held.model.forward(x)), 0, 1);
      return { shape: y.shape, data: y.toTypedArray() as Float32Array };
    }),
  );
}

function memory(): Record<string, ModelMemory> {
  const out: Record<string, ModelMemory> = {};
  for (const [name, h] of models) {
    let tierBytes = 0;
    for (const ks of h.tiers.values()) for (const k of ks) tierBytes += bytesOf(k.index) + bytesOf(k.restored);
    for (const p of h.published.values()) tierBytes += bytesOf(p.index) + bytesOf(p.values);
    let modelBytes = 0;
    for (const t of h.own.values()) modelBytes += bytesOf(t);
    out[name] = { modelBytes, tierBytes, tiers: h.tiers.size + 1 };
  }
  return out;
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'load':
      try {
        load(m);
        send({ type: 'ack', name: m.name, what: 'load' });
      } catch (e) {
        send({ type: 'ack', name: m.name, what: 'load', error: (e as Error).message });
      }
      return;
    case 'tier': {
      const held = models.get(m.name);
      try {
        if (!held) throw new Error(`model ${m.name} is not loaded in this worker`);
        if (m.tier < 1) throw new Error('tier 0 is the published weights');
        const fresh = tierKernels(held, m.layers);
        // Back to the published weights first: the shared published values are rebuilt below.
        select(held, 0);
        sharePublished(held, m.layers);
        const old = held.tiers.get(m.tier);
        held.tiers.set(m.tier, fresh);
        if (old) disposeKernels(old);
        send({ type: 'ack', name: m.name, what: 'tier', tier: m.tier });
      } catch (e) {
        send({ type: 'ack', name: m.name, what: 'tier', tier: m.tier, error: (e as Error).message });
      }
      return;
    }
    case 'run':
      try {
        const r = run(m);
        send({ type: 'done', id: m.id, shape: r.shape, data: r.data }, [r.data.buffer as ArrayBuffer]);
      } catch (e) {
        send({ type: 'failed', id: m.id, message: (e as Error).message });
      }
      return;
    case 'memory':
      send({ type: 'memory', id: m.id, models: memory(), live: liveTensors() });
      return;
  }
});
