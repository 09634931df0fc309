// DPRM decoys (Tian et al.): every selected kernel is replaced by a fresh draw from its layer's
// own per-position Gaussian: for each of the kh·kw positions, the mean and standard deviation of
// that position over all kernels of the layer. Decoys look like ordinary kernels of the layer, so
// the protected model is a normal-looking, runnable model that simply works badly.
//
// The draws come from a keyed cryptographic stream (ChaCha20 keyed by decoyKey(masterKey, modelId,
// layerName)), never from Math.random or the engine's generator: they are reproducible by the owner
// and unpredictable to anyone else, so the decoys reveal nothing about the original values.
import { KeyedStream, decoyKey } from '../crypto/index.ts';
import type { TensorEntry } from '../io/safetensors.ts';
import { type ConvLayer, bytesToFloat64, copyBytes, float64ToBytes } from './layers.ts';

const DECOY_STREAM_LABEL = 'nnlock decoys v1';

export interface PositionStats {
  mean: Float64Array;
  std: Float64Array;
}

/** Per-position mean and (unbiased, 0 for a single kernel) std over all kernels of a layer. */
export function positionStats(values: Float64Array, kernels: number, kernelSize: number): PositionStats {
  const mean = new Float64Array(kernelSize);
  const std = new Float64Array(kernelSize);
  for (let k = 0; k < kernels; k++) for (let p = 0; p < kernelSize; p++) mean[p] += values[k * kernelSize + p];
  for (let p = 0; p < kernelSize; p++) mean[p] /= kernels;
  if (kernels > 1) {
    for (let k = 0; k < kernels; k++) {
      for (let p = 0; p < kernelSize; p++) {
        const d = values[k * kernelSize + p] - mean[p];
        std[p] += d * d;
      }
    }
    for (let p = 0; p < kernelSize; p++) std[p] = Math.sqrt(std[p] / (kernels - 1));
  }
  return { mean, std };
}

/**
 * The layer's bytes with decoys in place of the kernels in `indices`. Decoys are drawn in
 * ascending kernel order, kernelSize normals per kernel, from the layer's keyed stream.
 */
export function decoyLayer(layer: ConvLayer, entry: TensorEntry, indices: Int32Array, masterKey: Uint8Array, modelId: Uint8Array): Uint8Array {
  const values = bytesToFloat64(entry.data, layer.dtype);
  const { mean, std } = positionStats(values, layer.kernels, layer.kernelSize);
  const order = Int32Array.from(indices).sort();
  const stream = new KeyedStream(decoyKey(masterKey, modelId, layer.name), DECOY_STREAM_LABEL);
  const z = stream.normal(order.length * layer.kernelSize);
  const decoys = new Float64Array(order.length * layer.kernelSize);
  for (let j = 0; j < order.length; j++) {
    for (let p = 0; p < layer.kernelSize; p++) decoys[j * layer.kernelSize + p] = mean[p] + std[p] * z[j * layer.kernelSize + p];
  }
  const decoyBytes = float64ToBytes(decoys, layer.dtype);
  const out = copyBytes(entry.data);
  for (let j = 0; j < order.length; j++) {
    const at = order[j] * layer.kernelBytes;
    out.set(decoyBytes.subarray(j * layer.kernelBytes, (j + 1) * layer.kernelBytes), at);
  }
  return out;
}
