// Conv layers as protection sees them: a 4-D floating weight [A, B, kh, kw] of a safetensors file,
// cut into A·B kernels of kh·kw values. Kernel (a, b) has the flat index a·B + b, which is also its
// position in the layer's [A, B] importance map. (For Conv2d, A = out and B = in channels.)
//
// Protection works on the raw little-endian bytes of the file, not on tensors: restoring a kernel
// copies its original bytes back, so a fully unlocked model is bit-identical whatever the dtype.
// Arithmetic (statistics, decoys, baselines) happens in float64 on converted copies.
import { type DType, fromBytes, noGrad, scope, tensor, toBytes } from '../tensor/index.ts';
import { toDtype } from '../ops/convert.ts';
import { type SafetensorsDtype, type TensorEntry, dtypeSize, toDType } from '../io/safetensors.ts';
import type { Module } from '../nn/index.ts';
import { ScriptedModule, TorchScriptModel, shortTypeName } from '../models/torchscript.ts';
import { modelSpec } from '../models/registry.ts';

const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F64', 'F32', 'F16', 'BF16']);

export interface ConvLayer {
  /** The weight's name in the file, e.g. 'layer1.0.conv1.weight'. */
  name: string;
  shape: [number, number, number, number];
  dtype: SafetensorsDtype;
  /** A·B: the number of kernels. */
  kernels: number;
  /** kh·kw: values per kernel. */
  kernelSize: number;
  /** Bytes per kernel. */
  kernelBytes: number;
}

export function isConvWeight(entry: TensorEntry): boolean {
  return entry.shape.length === 4 && FLOAT_DTYPES.has(entry.dtype) && entry.shape.every((d) => d > 0);
}

export function convLayerOf(name: string, entry: TensorEntry): ConvLayer {
  if (!isConvWeight(entry)) {
    throw new Error(`${name} is not a conv weight: protection needs a 4-D floating tensor, got ${entry.dtype}[${entry.shape.join(', ')}]`);
  }
  const [a, b, kh, kw] = entry.shape as [number, number, number, number];
  return { name, shape: [a, b, kh, kw], dtype: entry.dtype, kernels: a * b, kernelSize: kh * kw, kernelBytes: kh * kw * dtypeSize(entry.dtype) };
}

/**
 * What a model says about its own modules: dotted module path ('' the model) → class name
 * ('Conv2d', 'Linear', 'BatchNorm2d', 'MyBlock'). With it, layers are found by what they are;
 * without it, only by name and shape (moduleTypesOf makes it from a Module).
 */
export type ModuleTypes = ReadonlyMap<string, string>;

/**
 * The module types of a model: the class of each of nnlock's modules, the scripted class of each
 * module of a TorchScript model (a user's own PyTorch model).
 */
export function moduleTypesOf(model: Module): ModuleTypes {
  const out = new Map<string, string>();
  for (const [path, m] of model.namedModules()) {
    out.set(path, m instanceof ScriptedModule ? m.className : m instanceof TorchScriptModel ? shortTypeName(m.typeName) : m.constructor.name);
  }
  return out;
}

/** The module types of an architecture nnlock knows (built only to read them), or undefined for a name it does not know. */
export function architectureModuleTypes(architecture: string | undefined): ModuleTypes | undefined {
  if (!architecture) return undefined;
  let model: Module;
  try {
    model = modelSpec(architecture).create();
  } catch {
    return undefined;
  }
  try {
    return moduleTypesOf(model);
  } finally {
    model.dispose();
  }
}

/** A weight that protection leaves as it is, and why (listed in the commands' output and JSON). */
export interface SkippedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** The module it belongs to and that module's class, when the module is known. */
  module?: string;
  moduleType?: string;
  reason: string;
}

/** How a model's protectable layers were found, and what was left out. */
export interface LayerDiscovery {
  /** 'module-types': from the model's own modules; 'name-and-shape': every 4-D floating tensor taken for a Conv2d weight. */
  by: 'module-types' | 'name-and-shape';
  layers: ConvLayer[];
  skipped: SkippedTensor[];
  /** For 'name-and-shape': what that means and how to give the module. */
  note?: string;
}

/** What a user reads when no module is known. */
export const NAME_AND_SHAPE_NOTE =
  'layers found by name and shape only (every 4-D floating tensor is taken for a Conv2d weight, so a 4-D tensor that is not one, e.g. a positional embedding, would be protected too, and Conv1d, Conv3d and Linear weights are not looked at): pass the model as a TorchScript file (--module model.pt, from torch.jit.script(model).save) or its architecture (--arch) to find layers by module type';

/** The weights of these module types are not protection units (nnlock protects Conv2d kernels): why, for the listing. */
const UNSUPPORTED_WEIGHTS: Record<string, string> = {
  Conv1d: 'a Conv1d weight: not protected (protection units are Conv2d kernels)',
  Conv3d: 'a Conv3d weight: not protected (protection units are Conv2d kernels)',
  Linear: 'a Linear weight: not protected (protection units are Conv2d kernels)',
  Bilinear: 'a Bilinear weight: not protected (protection units are Conv2d kernels)',
  ConvTranspose1d: 'a ConvTranspose1d weight: not protected (protection units are Conv2d kernels)',
  ConvTranspose2d: 'a ConvTranspose2d weight: not protected (protection units are Conv2d kernels)',
  ConvTranspose3d: 'a ConvTranspose3d weight: not protected (protection units are Conv2d kernels)',
  Embedding: 'an Embedding table: not protected (protection units are Conv2d kernels)',
};

function ownerOf(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? ['', name] : [name.slice(0, dot), name.slice(dot + 1)];
}

function skippedEntry(name: string, e: TensorEntry, module: string | undefined, moduleType: string | undefined, reason: string): SkippedTensor {
  return { name, dtype: e.dtype, shape: [...e.shape], ...(module !== undefined ? { module, moduleType } : {}), reason };
}

/**
 * The protectable layers of a file's tensors. With the model's module types: the weights of its
 * Conv2d modules, and every other weight of a conv, Linear or embedding module and every other 4-D
 * floating tensor (a positional embedding) listed as skipped with the reason. Without them: the
 * 4-D floating tensors, by name and shape, with a note that says so.
 */
export function discoverLayers(tensors: Map<string, TensorEntry>, modules?: ModuleTypes): LayerDiscovery {
  if (!modules) return { by: 'name-and-shape', layers: [...tensors].filter(([, e]) => isConvWeight(e)).map(([n, e]) => convLayerOf(n, e)), skipped: [], note: NAME_AND_SHAPE_NOTE };
  const layers: ConvLayer[] = [];
  const skipped: SkippedTensor[] = [];
  for (const [name, e] of tensors) {
    const [module, leaf] = ownerOf(name);
    const type = modules.get(module);
    const where = module === '' ? 'the model itself' : `module ${module}`;
    if (type === 'Conv2d' && leaf === 'weight') {
      if (isConvWeight(e)) layers.push(convLayerOf(name, e));
      else skipped.push(skippedEntry(name, e, module, type, `a Conv2d weight of ${e.dtype}[${e.shape.join(', ')}]: protection needs a 4-D floating tensor`));
    } else if (type !== undefined && leaf === 'weight' && UNSUPPORTED_WEIGHTS[type]) {
      skipped.push(skippedEntry(name, e, module, type, UNSUPPORTED_WEIGHTS[type]));
    } else if (isConvWeight(e)) {
      const what = type === undefined ? 'of no module the model has' : `of ${where} (${type})`;
      skipped.push(skippedEntry(name, e, type === undefined ? undefined : module, type, `a 4-D tensor ${what}, not a Conv2d weight: not protected, never given decoys`));
    }
  }
  return { by: 'module-types', layers, skipped };
}

/**
 * Every conv weight of a file, in file order: with the model's module types, its Conv2d weights;
 * without, the 4-D floating tensors (discoverLayers says which rule was used and what it left out).
 */
export function convLayers(tensors: Map<string, TensorEntry>, modules?: ModuleTypes): ConvLayer[] {
  return discoverLayers(tensors, modules).layers;
}

/**
 * The layers the owner names, as conv weight names. A name may be the weight's
 * ('layer1.0.conv1.weight') or its module's ('layer1.0.conv1'). None given: every conv layer.
 * With `modules`, conv layers are the model's Conv2d weights (see discoverLayers).
 */
export function resolveLayers(tensors: Map<string, TensorEntry>, requested?: readonly string[], modules?: ModuleTypes): ConvLayer[] {
  const discovery = discoverLayers(tensors, modules);
  const all = discovery.layers;
  if (all.length === 0) {
    const none = modules ? 'the model has no Conv2d layers to protect' : 'the model has no conv layers (4-D floating weights) to protect';
    const skipped = discovery.skipped.length ? ` (skipped: ${discovery.skipped.map((s) => `${s.name}, ${s.reason}`).join('; ')})` : '';
    throw new Error(none + skipped);
  }
  if (!requested || requested.length === 0) return all;
  const byName = new Map(all.map((l) => [l.name, l]));
  const out: ConvLayer[] = [];
  for (const r of requested) {
    const layer = byName.get(r) ?? byName.get(`${r}.weight`);
    if (!layer) {
      const skip = discovery.skipped.find((s) => s.name === r || s.name === `${r}.weight`);
      const e = tensors.get(r) ?? tensors.get(`${r}.weight`);
      const why = skip ? `it is ${skip.reason}` : e ? `it is ${e.dtype}[${e.shape.join(', ')}], not a conv weight` : 'no such tensor';
      throw new Error(`cannot protect layer '${r}': ${why}; conv layers are ${all.map((l) => l.name).join(', ')}`);
    }
    if (!out.includes(layer)) out.push(layer);
  }
  return out;
}

/**
 * A fresh copy in its own ArrayBuffer. Not bytes.slice(): the entries of a file read from disk are
 * Node Buffers, whose slice() is a view sharing the file's memory (and its whole ArrayBuffer).
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** The values of raw little-endian bytes of a floating dtype, as float64. */
export function bytesToFloat64(bytes: Uint8Array, dtype: SafetensorsDtype): Float64Array {
  const copy = copyBytes(bytes); // file views are not aligned for typed arrays
  switch (dtype) {
    case 'F64':
      return new Float64Array(copy.buffer, 0, copy.byteLength / 8);
    case 'F32':
      return Float64Array.from(new Float32Array(copy.buffer, 0, copy.byteLength / 4));
    case 'F16':
    case 'BF16': {
      // Half types have no JavaScript array: let libtorch convert.
      const n = copy.byteLength / 2;
      return noGrad(() =>
        scope(() => {
          const t = toDtype(fromBytes(copy, [n], toDType(dtype) as DType), 'float64');
          return new Float64Array(toBytes(t).buffer);
        }),
      );
    }
    default:
      throw new Error(`bytesToFloat64: ${dtype} is not a floating dtype`);
  }
}

/** float64 values as raw little-endian bytes of a floating dtype (round to nearest). */
export function float64ToBytes(values: Float64Array, dtype: SafetensorsDtype): Uint8Array {
  switch (dtype) {
    case 'F64':
      return new Uint8Array(values.slice().buffer);
    case 'F32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'F16':
    case 'BF16':
      return noGrad(() => scope(() => toBytes(toDtype(tensor(values, [values.length], 'float64'), toDType(dtype) as DType))));
    default:
      throw new Error(`float64ToBytes: ${dtype} is not a floating dtype`);
  }
}

/** All values of a layer as float64, kernel after kernel. */
export function layerValues(layer: ConvLayer, entry: TensorEntry): Float64Array {
  return bytesToFloat64(entry.data, layer.dtype);
}
