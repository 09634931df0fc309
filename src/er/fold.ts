// Exact absorption of a block cipher into a patch embedding. A first layer that is a k×k, stride-k
// convolution (no padding, no groups) sees each k×k block of each channel exactly once, and a Hill
// key of block size k maps each block linearly: so the key folds into that layer and a key owner
// turns a plaintext model into one that reads ciphertext, with the same outputs and no training.
//
// The algebra, in src/cipher/hill.ts's layout: the block of channel c is a row vector x_c (entry
// p = a·k + b, row-major), its ciphertext y_c = x_c·K_c, so x_c = y_c·K_c⁻¹. The convolution's
// output d is Σ_c Σ_p W[d, c, p]·x_c[p] + bias_d = Σ_c Σ_j y_c[j]·W'[d, c, j] + bias_d with
//
//   W'[d, c, j] = Σ_p K_c⁻¹[j, p]·W[d, c, p]      (per channel: W'_c = W_c·K_c⁻ᵀ as D×k² rows,
//                                                 or K_c⁻¹·W_c as k²×D columns)
//
// The input normalisation (x − m_c)/s_c folds in first (W/s_c, bias − Σ W·m_c/s_c), so the folded
// model reads ciphertext as it is. Not for hill256 keys (mod 256 is not linear over the reals) nor
// shuffling keys (moving whole blocks changes what the spatial layers after the embedding see).
//
// What the fold gives away: with both W and W' (plaintext and ciphertext model published), and W_c
// of full column rank (D ≥ k², as any useful embedding), K_c⁻ᵀ = pinv(W_c)·W'_c exactly:
// recoverKeyFromFold.
import { type Tensor, noGrad, tensor } from '../tensor/index.ts';
import { copyInPlace } from '../ops/inplace.ts';
import type { Conv2d } from '../nn/index.ts';
import { type CipherKey, CipherKeyError } from '../cipher/key.ts';
import { inverse, matmul, transpose } from '../linalg/index.ts';

export interface InputNormalisation {
  mean: readonly number[];
  std: readonly number[];
}

/** A patch embedding's parameters as float64: weight [D, C, k, k] flat, bias [D]. */
export interface PatchWeights {
  weight: Float64Array;
  bias: Float64Array;
  /** Output channels D. */
  dim: number;
  channels: number;
  k: number;
}

/** Refuses a key that cannot fold exactly into a k×k, stride-k embedding of `channels` channels. */
export function checkFoldable(key: CipherKey, k: number, channels: number): void {
  if (key.kind === 'hill256') throw new CipherKeyError('fold: a hill256 key works mod 256, which no real-valued weights reproduce; use a uniform or orthogonal key');
  if (key.shuffle) throw new CipherKeyError('fold: a shuffling key moves whole blocks, which the layers after the patch embedding would see; use a key without --shuffle');
  if (key.k !== k) throw new CipherKeyError(`fold: the key's block size ${key.k} is not the patch size ${k}`);
  if (key.channels !== channels) throw new CipherKeyError(`fold: the key has ${key.channels} channels, the model's input ${channels}`);
}

/** The folded weights (see the file comment): the model then reads images encrypted with `key`. */
export function foldKeyIntoPatchWeights(w: PatchWeights, key: CipherKey, norm?: InputNormalisation): PatchWeights {
  const { dim, channels, k } = w;
  checkFoldable(key, k, channels);
  const n = k * k;
  const weight = new Float64Array(w.weight.length);
  const bias = Float64Array.from(w.bias);
  for (let d = 0; d < dim; d++) {
    for (let c = 0; c < channels; c++) {
      const s = norm ? norm.std[c] : 1;
      const m = norm ? norm.mean[c] : 0;
      const row = (d * channels + c) * n;
      const inv = key.inverses[c];
      for (let p = 0; p < n; p++) bias[d] -= (w.weight[row + p] * m) / s;
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < n; p++) sum += inv[j * n + p] * w.weight[row + p];
        weight[row + j] = sum / s;
      }
    }
  }
  return { weight, bias, dim, channels, k };
}

/** The input normalisation alone folded into the weights (the plaintext model reading pixels in [0, 1]). */
export function foldNormalisation(w: PatchWeights, norm: InputNormalisation): PatchWeights {
  const { dim, channels, k } = w;
  const n = k * k;
  const weight = new Float64Array(w.weight.length);
  const bias = Float64Array.from(w.bias);
  for (let d = 0; d < dim; d++) {
    for (let c = 0; c < channels; c++) {
      const row = (d * channels + c) * n;
      for (let p = 0; p < n; p++) {
        weight[row + p] = w.weight[row + p] / norm.std[c];
        bias[d] -= (w.weight[row + p] * norm.mean[c]) / norm.std[c];
      }
    }
  }
  return { weight, bias, dim, channels, k };
}

/** A k×k, stride-k convolution's parameters (refuses any other layer). */
export function patchWeightsOf(conv: Conv2d): PatchWeights {
  const [dim, channels, kh, kw] = conv.weight.shape;
  const ok = kh === kw && conv.stride[0] === kh && conv.stride[1] === kw && conv.padding.every((p) => p === 0) && conv.dilation.every((d) => d === 1) && conv.groups === 1;
  if (!ok)
    throw new RangeError(
      `fold: the first layer must be a k×k convolution with stride k, no padding, dilation or groups; got kernel ${kh}×${kw}, stride ${conv.stride.join('×')}, padding ${conv.padding.join('×')}, groups ${conv.groups}`,
    );
  const weight = Float64Array.from(conv.weight.toTypedArray() as Float32Array);
  const bias = conv.bias ? Float64Array.from(conv.bias.toTypedArray() as Float32Array) : new Float64Array(dim);
  return { weight, bias, dim, channels, k: kh };
}

/** Writes folded parameters into the convolution (it must have a bias when the folded bias is not 0). */
export function setPatchWeights(conv: Conv2d, w: PatchWeights): void {
  if (!conv.bias && w.bias.some((b) => b !== 0)) throw new RangeError('fold: the patch embedding has no bias to take the folded normalisation offset');
  noGrad(() => {
    const pairs: [Tensor | null, Float64Array][] = [
      [conv.weight, w.weight],
      [conv.bias, w.bias],
    ];
    for (const [param, data] of pairs) {
      if (!param) continue;
      const t = tensor(Float32Array.from(data), param.shape);
      copyInPlace(param, t);
      t.dispose();
    }
  });
}

/**
 * Folds `key` (and the input normalisation, when given) into the convolution in place: afterwards
 * it reads ciphertext as encryptPixels makes it (pixels in [0, 1] encrypted, not normalised).
 */
export function foldCipherIntoPatchEmbedding(conv: Conv2d, key: CipherKey, norm?: InputNormalisation): void {
  setPatchWeights(conv, foldKeyIntoPatchWeights(patchWeightsOf(conv), key, norm));
}

/**
 * What someone holding the plaintext weights `plain` and the folded ones `folded` learns about the
 * key: per channel K_c⁻ᵀ = pinv(W_c)·W'_c (least squares), inverted to K_c. `plain` must be the
 * weights the fold saw (normalisation folded in, foldNormalisation). Returns K_c row-major, and
 * null for a channel whose W_c is rank-deficient (D < k² or degenerate).
 */
export function recoverKeyFromFold(plain: PatchWeights, folded: PatchWeights): (Float64Array | null)[] {
  const { dim, channels, k } = plain;
  if (folded.dim !== dim || folded.channels !== channels || folded.k !== k) throw new RangeError('recoverKeyFromFold: the two embeddings have different shapes');
  const n = k * k;
  const out: (Float64Array | null)[] = [];
  for (let c = 0; c < channels; c++) {
    const a = new Float64Array(dim * n);
    const b = new Float64Array(dim * n);
    for (let d = 0; d < dim; d++) {
      a.set(plain.weight.subarray((d * channels + c) * n, (d * channels + c + 1) * n), d * n);
      b.set(folded.weight.subarray((d * channels + c) * n, (d * channels + c + 1) * n), d * n);
    }
    const at = transpose(a, dim, n);
    const gram = inverse(matmul(at, a, n, dim, n), n);
    if (!gram) {
      out.push(null);
      continue;
    }
    // K⁻ᵀ = (AᵀA)⁻¹AᵀB, so K⁻¹ = its transpose and K = the inverse of that.
    const invT = matmul(gram, matmul(at, b, n, dim, n), n, n, n);
    out.push(inverse(transpose(invT, n), n));
  }
  return out;
}

/** ‖K̂ − K‖_F / ‖K‖_F over all channels (Infinity when a channel was not recovered). */
export function keyRelativeError(recovered: readonly (ArrayLike<number> | null)[], key: CipherKey): number {
  let num = 0;
  let den = 0;
  for (let c = 0; c < key.channels; c++) {
    const r = recovered[c];
    if (!r) return Number.POSITIVE_INFINITY;
    const m = key.matrices[c];
    for (let i = 0; i < m.length; i++) {
      num += (r[i] - m[i]) ** 2;
      den += m[i] ** 2;
    }
  }
  return Math.sqrt(num / den);
}
