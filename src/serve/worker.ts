// An inference worker of the service: holds every served model once, and per protected layer only
// the kernels that some tier changes (a few percent of each layer), never a second copy of a layer
// or of any other tensor. Per such layer it keeps the union U of the kernels the tiers change, and
// for tier 0 (the published weights) and each tier m the values of those kernels at that tier
// ([|U|, kh·kw]: m's own where m changes a kernel, the published ones elsewhere). Going to tier m
// is then one index_put per layer, whichever tier was in the model before (restoring the published
// values first and then writing m's was two: a tier switch before nearly every batch, as under
// mixed load, cost 0.1-0.2 ms of CPU per image in batches of 16, bench/serve-pool.ts).
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
import { applyPixelTable } from './pixel-table.ts';

/** One protected layer: the kernels any tier changes, and their values at each tier. */
interface LayerTiers {
  /** The layer's weight seen as [A·B, kh·kw] (a view of the model's own tensor). */
  target: Tensor;
  /** U: the kernels (flat index a·B + b) any tier changes, ascending. */
  index: Tensor;
  /** Per tier (0: published), the values of U's kernels at that tier. A tier without an entry leaves this layer published. */
  values: Map<number, Tensor>;
}

interface Held {
  model: Module;
  task: LoadMessage['task'];
  /** The model's own tensors by name. */
  own: Map<string, Tensor>;
  /** The tier messages received, by tier ≥ 1 (their bytes rebuild a layer's values when U grows). */
  tiers: Map<number, TierLayer[]>;
  /** Per protected layer, by name. */
  layers: Map<string, LayerTiers>;
  /** The tier whose kernels are in the model now. */
  current: number;
  /** Where the model runs (deviceOf its name). */
  device: string;
  /** Classifiers: what turns a batch of 8-bit pixels into input. */
  pixelTable?: Float32Array;
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
  models.set(m.name, { model, task: m.task, own: model.stateDict(), tiers: new Map(), layers: new Map(), current: 0, device: model.device, pixelTable: m.pixelTable });
}

function entryTensor(e: TensorEntry): Tensor {
  return fromBytes(e.data, e.shape, toDType(e.dtype));
}

/**
 * Rebuilds a protected layer's U and its values at every tier from the tier messages held (the
 * model must be at tier 0: the published values are what it holds outside U).
 */
function rebuildLayer(held: Held, name: string): void {
  const weight = held.own.get(name);
  if (!weight) throw new Error(`the model has no tensor ${name}`);
  const [a, b, kh, kw] = weight.shape;
  const entries: [number, TierLayer][] = [];
  for (const [tier, layers] of held.tiers) for (const l of layers) if (l.name === name) entries.push([tier, l]);
  const old = held.layers.get(name);
  const sized = entries.find(([, l]) => l.kernels.length > 0)?.[1];
  if (!sized) {
    // No tier changes a kernel of this layer (any more): nothing to switch.
    if (old) disposeLayer(old);
    held.layers.delete(name);
    return;
  }
  const size = sized.published.data.length / sized.kernels.length;
  const dtype = sized.published.dtype;
  // Every tier's message carries the published values of its own kernels: together, U's.
  const published = new Map<number, Uint8Array>();
  for (const [, l] of entries) l.kernels.forEach((k, i) => published.has(k) || published.set(k, l.published.data.subarray(i * size, (i + 1) * size)));
  const union = [...published.keys()].sort((x, y) => x - y);
  const position = new Map(union.map((k, i) => [k, i]));
  const base = new Uint8Array(union.length * size);
  union.forEach((k, i) => base.set(published.get(k)!, i * size));
  const shape = [union.length, kh * kw];
  const layer = scope(() => {
    const values = new Map<number, Tensor>([[0, onModel(held, entryTensor({ dtype, shape, data: base }))]]);
    for (const [tier, l] of entries) {
      const data = base.slice();
      l.kernels.forEach((k, i) => data.set(l.restored.data.subarray(i * size, (i + 1) * size), position.get(k)! * size));
      values.set(tier, onModel(held, entryTensor({ dtype, shape, data })));
    }
    return keep({ target: view(weight, [a * b, kh * kw]), index: onModel(held, tensor(BigInt64Array.from(union, BigInt), [union.length])), values });
  });
  if (old) disposeLayer(old);
  held.layers.set(name, layer);
}

function disposeLayer(l: LayerTiers): void {
  l.target.dispose();
  l.index.dispose();
  for (const t of l.values.values()) t.dispose();
}

/** Puts a tier's kernels into the model: one index_put per protected layer. */
function select(held: Held, tier: number): void {
  if (held.current === tier) return;
  if (tier !== 0 && !held.tiers.has(tier)) throw new Error(`tier ${tier} is not loaded in this worker`);
  noGrad(() => {
    for (const l of held.layers.values()) indexPutInPlace(l.target, [l.index], l.values.get(tier) ?? l.values.get(0)!);
  });
  held.current = tier;
}

/** Adds (or replaces) a tier: its layers are rebuilt, the model is left at tier 0. */
function addTier(held: Held, tier: number, layers: TierLayer[]): void {
  for (const l of layers) {
    const weight = held.own.get(l.name);
    if (weight?.shape.length !== 4) throw new Error(`the model has no 4-D tensor ${l.name}`);
  }
  // Back to the published weights first: the layers' values are rebuilt below.
  select(held, 0);
  const touched = new Set([...(held.tiers.get(tier) ?? []), ...layers].map((l) => l.name));
  held.tiers.set(tier, layers);
  for (const name of touched) rebuildLayer(held, name);
}

function run(m: RunMessage): { shape: number[]; data: Float32Array } {
  const held = models.get(m.name);
  if (!held) throw new Error(`model ${m.name} is not loaded in this worker`);
  let input: Float32Array;
  if (m.data instanceof Uint8Array) {
    if (!held.pixelTable) throw new Error(`model ${m.name} takes float input, not pixels`);
    input = applyPixelTable(held.pixelTable, m.data, m.shape[1], m.shape[2] * m.shape[3]);
  } else input = m.data;
  select(held, m.tier);
  return noGrad(() =>
    scope(() => {
      const x = onModel(held, tensor(input, m.shape));
      const y = held.task === 'classify' ? softmax(held.model.forward(x), 1) : clamp(sub(x, held.model.forward(x)), 0, 1);
      return { shape: y.shape, data: y.toTypedArray() as Float32Array };
    }),
  );
}

function memory(): Record<string, ModelMemory> {
  const out: Record<string, ModelMemory> = {};
  for (const [name, h] of models) {
    let tierBytes = 0;
    for (const l of h.layers.values()) {
      tierBytes += bytesOf(l.index);
      for (const t of l.values.values()) tierBytes += bytesOf(t);
    }
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
        addTier(held, m.tier, m.layers);
        send({ type: 'ack', name: m.name, what: 'tier', tier: m.tier });
      } catch (e) {
        send({ type: 'ack', name: m.name, what: 'tier', tier: m.tier, error: (e as Error).message });
      }
      return;
    }
    case 'run':
      try {
        const started = performance.now();
        const r = run(m);
        send({ type: 'done', id: m.id, shape: r.shape, data: r.data, ms: performance.now() - started }, [r.data.buffer as ArrayBuffer]);
      } catch (e) {
        send({ type: 'failed', id: m.id, message: (e as Error).message });
      }
      return;
    case 'memory':
      send({ type: 'memory', id: m.id, models: memory(), live: liveTensors() });
      return;
  }
});
