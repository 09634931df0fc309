// Importance from the weights alone: the baselines of Tian et al. (random, magnitude descending
// and ascending, closest to the layer's mean) plus the L1 norm of each kernel. They cost one pass
// over the weights, so they are what `protect` uses when no importance file is given.
import { createHash } from 'node:crypto';
import type { TensorEntry } from '../../io/safetensors.ts';
import { KeyedStream } from '../../crypto/index.ts';
import { type ConvLayer, layerValues } from '../layers.ts';
import { type ImportanceMap, type LayerScores, type Strategy, layerScores } from './scores.ts';

export type WeightStrategy = Extract<Strategy, 'random' | 'magnitude' | 'magnitude-asc' | 'closest-mean' | 'l1'>;

/** Per-kernel mean of a layer's values (kernel after kernel, kernelSize values each). */
function kernelMeans(values: Float64Array, kernels: number, kernelSize: number): Float64Array {
  const out = new Float64Array(kernels);
  for (let k = 0; k < kernels; k++) {
    let s = 0;
    for (let p = k * kernelSize, end = p + kernelSize; p < end; p++) s += values[p];
    out[k] = s / kernelSize;
  }
  return out;
}

/**
 * Scores of one layer. `seed` only matters for 'random', whose draws come from a keyed stream
 * labelled by the layer name: the same seed gives the same ranking on any machine.
 */
export function weightScores(strategy: WeightStrategy, layer: ConvLayer, values: Float64Array, seed = 0): LayerScores {
  const { kernels, kernelSize } = layer;
  const shape: [number, number] = [layer.shape[0], layer.shape[1]];
  const out = new Float32Array(kernels);
  switch (strategy) {
    case 'random': {
      const key = createHash('sha256').update(`nnlock random importance v1\0${seed}`).digest();
      out.set(new KeyedStream(new Uint8Array(key), layer.name).uniform(kernels));
      break;
    }
    case 'magnitude':
    case 'magnitude-asc': {
      // |mean of the kernel|; ascending protects the smallest first (a negated score).
      const sign = strategy === 'magnitude' ? 1 : -1;
      kernelMeans(values, kernels, kernelSize).forEach((m, k) => {
        out[k] = sign * Math.abs(m);
      });
      break;
    }
    case 'closest-mean': {
      // Kernels whose mean is closest to the mean of all kernel means come first.
      const means = kernelMeans(values, kernels, kernelSize);
      const centre = means.reduce((a, b) => a + b, 0) / kernels;
      means.forEach((m, k) => {
        out[k] = -Math.abs(m - centre);
      });
      break;
    }
    case 'l1': {
      for (let k = 0; k < kernels; k++) {
        let s = 0;
        for (let p = k * kernelSize, end = p + kernelSize; p < end; p++) s += Math.abs(values[p]);
        out[k] = s;
      }
      break;
    }
    default:
      throw new Error(`weightScores: '${String(strategy)}' is not a weight-only strategy`);
  }
  return layerScores(shape, out);
}

/** Scores of every given layer of a file's tensors. */
export function weightImportance(strategy: WeightStrategy, tensors: Map<string, TensorEntry>, layers: readonly ConvLayer[], seed = 0): ImportanceMap {
  const out: ImportanceMap = new Map();
  for (const layer of layers) out.set(layer.name, weightScores(strategy, layer, layerValues(layer, tensors.get(layer.name)!), seed));
  return out;
}
