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
 * Every conv weight of a file, in file order: 4-D floating tensors. Without an architecture
 * that is the only sign a file gives; with one, the caller checks the file loads into the model,
 * whose Conv2d weights are exactly these (nnlock's models have no other 4-D parameters).
 */
export function convLayers(tensors: Map<string, TensorEntry>): ConvLayer[] {
  return [...tensors].filter(([, e]) => isConvWeight(e)).map(([n, e]) => convLayerOf(n, e));
}

/**
 * The layers the owner names, as conv weight names. A name may be the weight's
 * ('layer1.0.conv1.weight') or its module's ('layer1.0.conv1'). None given: every conv layer.
 */
export function resolveLayers(tensors: Map<string, TensorEntry>, requested?: readonly string[]): ConvLayer[] {
  const all = convLayers(tensors);
  if (all.length === 0) throw new Error('the model has no conv layers (4-D floating weights) to protect');
  if (!requested || requested.length === 0) return all;
  const byName = new Map(all.map((l) => [l.name, l]));
  const out: ConvLayer[] = [];
  for (const r of requested) {
    const layer = byName.get(r) ?? byName.get(`${r}.weight`);
    if (!layer) {
      const e = tensors.get(r) ?? tensors.get(`${r}.weight`);
      const why = e ? `it is ${e.dtype}[${e.shape.join(', ')}], not a conv weight` : 'no such tensor';
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
