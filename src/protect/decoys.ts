// Decoys: every selected kernel is replaced by a fresh draw that looks like an ordinary kernel of
// its layer, so the protected model is a normal-looking, runnable model that simply works badly.
// Five ways to draw (DecoyMode):
//
//   'matched'   (the default) decoys/matched.ts: 16 resampled candidates per decoy (below), one
//               kept by importance resampling, with weights from a logistic density ratio between
//               the layer's genuine kernels and the candidates on the detector features (shape,
//               whitened radius over L2 and by itself, diagonal-vs-full form, size residual over
//               its row's and column's spread, nearest-kernel distance), so the decoys' features
//               follow the genuine kernels' joint distribution, not only its centre. Figures:
//               experiments/results/protect/keys16/decoy-detectors.md (16 keys).
//   'resample'  (default in 0.3) decoys/resample.ts: a genuine kept kernel of the layer, its
//               direction turned by keyed noise, its L2 norm moved from the donor's row and column
//               to the decoy's, its size refitted as the attacker fits rows and columns. It keeps
//               more of the non-Gaussian shape of trained kernels, which the attacker's classifier
//               learns to see in parametric draws. At random positions on the shared ResNet-20,
//               each (detector, layer) AUC averaged over 8 keys: best detector 0.542 pooled, worst
//               layer (≥ 20 decoys) 0.608, where a null without decoys reaches 0.559; 106 of 513
//               such means above their 95% chance level (null: 25). One key: 0.546 pooled, 0.679
//               in a layer (experiments/results/protect/decoy-detectors.md).
//   'context'   (default in 0.2) decoys/context.ts: an elliptical draw around the layer's joint
//               distribution whose Mahalanobis radius follows the kernel's row and column and the
//               heavy tails of the real radii: 0.581 / 0.546 pooled (worst layer 0.853 / 0.584).
//   'joint'     the layer's joint kh·kw Gaussian: the mean vector and the
//               full kh·kw × kh·kw covariance of the kernels that stay genuine (the unselected
//               ones: exactly what the published layer shows besides the decoys), drawn as
//               μ + L·z with L the Cholesky factor (shrunk toward the diagonal only when the
//               covariance is singular). A kernel's positions are correlated like a real kernel's.
//   'position'  DPRM as Tian et al. describe it (nnlock 0.1): each of the kh·kw positions drawn
//               independently from that position's mean and std over ALL kernels of the layer.
//               Whole-kernel statistics (the L1 norm in 88% of ResNet-20's layers, a covariance
//               test at 56% precision) tell these decoys from genuine kernels.
//
// A layer that keeps fewer than two genuine kernels (the dense-front mode seals every kernel of its
// layers) gets a fresh PyTorch initialisation in every mode instead (decoys/fresh-init.ts): the
// modes above would otherwise imitate the sealed kernels themselves.
//
// The draws come from a keyed cryptographic stream (ChaCha20 keyed by decoyKey(masterKey, modelId,
// layerName)), never from Math.random or the engine's generator: they are reproducible by the owner
// and unpredictable to anyone else, so the decoys reveal nothing about the original values. The
// mode is not needed to unlock (unlock copies the sealed originals back over whatever is there),
// so files protected with any mode unlock the same way.
import { KeyedStream, decoyKey } from '../crypto/index.ts';
import type { TensorEntry } from '../io/safetensors.ts';
import { type ConvLayer, bytesToFloat64, copyBytes, float64ToBytes } from './layers.ts';
import { kernelMoments, shrunkCholesky } from './decoys/gaussian.ts';
import { contextDecoys } from './decoys/context.ts';
import { resampleDecoys } from './decoys/resample.ts';
import { matchedDecoys } from './decoys/matched.ts';
import { freshInitDecoys } from './decoys/fresh-init.ts';

export const DECOY_MODES = ['matched', 'resample', 'context', 'joint', 'position'] as const;
export type DecoyMode = (typeof DECOY_MODES)[number];
export const DEFAULT_DECOY_MODE: DecoyMode = 'matched';

/** Each mode has its own stream label, so two modes never share a draw. */
const STREAM_LABELS: Record<DecoyMode, string> = {
  position: 'nnlock decoys v1',
  joint: 'nnlock decoys v2 joint',
  context: 'nnlock decoys v2 context',
  resample: 'nnlock decoys v3 resample',
  matched: 'nnlock decoys v4 matched',
};

export function assertDecoyMode(mode: string): DecoyMode {
  if (!(DECOY_MODES as readonly string[]).includes(mode)) throw new RangeError(`unknown decoy mode '${mode}': use ${DECOY_MODES.join(' or ')}`);
  return mode as DecoyMode;
}

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

/** The randomness decoys are drawn from: the keyed stream, or an attacker's own generator. */
export interface DecoyRandom {
  normal(n: number): Float64Array;
  uniform(n: number): Float64Array;
  int(maxExclusive: number): number;
}

/**
 * Decoys for the kernels flagged in `replaced` of a layer (values kernel after kernel, weight
 * shape [A, B, kh, kw]), in ascending kernel order, kh·kw values each, drawn from `source`. Also what an attacker
 * runs to make decoys of his own from a published layer (replaced: the kernels he pretends to hide).
 */
export function drawDecoys(values: Float64Array, shape: readonly [number, number, number, number], replaced: Uint8Array, source: DecoyRandom, mode: DecoyMode): Float64Array {
  const [a, b, kh, kw] = shape;
  const kernels = a * b;
  const n = kh * kw;
  const count = replaced.reduce((s, r) => s + (r ? 1 : 0), 0);
  // Fewer than two genuine kernels left to imitate: every mode would imitate the sealed ones.
  if (kernels - count < 2) return freshInitDecoys(shape, count, source);
  if (mode === 'context') return contextDecoys(values, a, b, n, replaced, source);
  if (mode === 'resample') return resampleDecoys(values, shape, replaced, source);
  if (mode === 'matched') return matchedDecoys(values, shape, replaced, source);
  const out = new Float64Array(count * n);
  const z = source.normal(count * n);
  if (mode === 'position') {
    const { mean, std } = positionStats(values, kernels, n);
    for (let j = 0; j < count; j++) for (let p = 0; p < n; p++) out[j * n + p] = mean[p] + std[p] * z[j * n + p];
    return out;
  }
  // Joint: the kernels that stay (at least two: see above).
  const { mean, cov } = kernelMoments(
    values,
    kernels,
    n,
    replaced.map((r) => (r ? 0 : 1)),
  );
  const { l } = shrunkCholesky(cov, n);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < n; i++) {
      let v = mean[i];
      for (let q = 0; q <= i; q++) v += l[i * n + q] * z[j * n + q];
      out[j * n + i] = v;
    }
  }
  return out;
}

/**
 * The layer's bytes with decoys in place of the kernels in `indices`. Decoys are drawn in
 * ascending kernel order, kernelSize normals per kernel, from the layer's keyed stream.
 */
export function decoyLayer(layer: ConvLayer, entry: TensorEntry, indices: Int32Array, masterKey: Uint8Array, modelId: Uint8Array, mode: DecoyMode = DEFAULT_DECOY_MODE): Uint8Array {
  const values = bytesToFloat64(entry.data, layer.dtype);
  const order = Int32Array.from(indices).sort();
  const replaced = new Uint8Array(layer.kernels);
  for (const i of order) replaced[i] = 1;
  const stream = new KeyedStream(decoyKey(masterKey, modelId, layer.name), STREAM_LABELS[mode]);
  const decoys = drawDecoys(values, layer.shape, replaced, stream, mode);
  const decoyBytes = float64ToBytes(decoys, layer.dtype);
  const out = copyBytes(entry.data);
  for (let j = 0; j < order.length; j++) {
    const at = order[j] * layer.kernelBytes;
    out.set(decoyBytes.subarray(j * layer.kernelBytes, (j + 1) * layer.kernelBytes), at);
  }
  return out;
}
