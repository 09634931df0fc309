// What a trained adaptation network leaks: the client's key, from the network's weights alone (no
// plaintext, no ciphertext). The aligned adaptation network of the Encryption-Robust CNN is
// conv (k×k, stride k) then transposed conv (k×k, stride k): for each k×k window of ciphertext y
// (flattened channel-major, c·k² + p) it outputs A·y + offset, with the composite
//
//   A = W2ᵀ·W1      W1 = conv.weight as [C·k² (hidden), C·k² (window)],
//                   W2 = deconv.weight as [C·k² (hidden), C·k² (output window)].
//
// Trained in front of a backbone that expects normalised plaintext, the network approximates
// o_c = (y_c·K_c⁻¹ − m_c)/s_c, so its diagonal block A_cc ≈ K_c⁻ᵀ/s_c and K_c ≈ (s_c·A_ccᵀ)⁻¹.
// The backbone's normalisation (m, s) is public to whoever chose the backbone (the service); the
// attack takes it, and without it returns the key up to one scale per channel (the scale-free
// error below measures that). Works on plain arrays: the caller reads the model file.
import { inverse, matmul, transpose } from '../linalg/index.ts';

export interface AdapterWeights {
  /** conv.weight [C·k², C, k, k] flat. */
  convWeight: ArrayLike<number>;
  /** deconv.weight [C·k², C, k, k] flat. */
  deconvWeight: ArrayLike<number>;
  k: number;
  channels: number;
}

export interface KeyFromAdapter {
  /** K̂_c row-major (null where the block is singular). */
  matrices: (Float64Array | null)[];
  /** The composite decryption A_cc, row-major [k², k²] per channel (o = A_cc·y). */
  decryption: Float64Array[];
  /** ‖off-diagonal blocks of A‖_F / ‖A‖_F: how much the network mixes channels (0 for the exact inverse). */
  crossChannel: number;
}

/** The key the adaptation network's weights imply; `std` is the backbone's input std (default 1). */
export function keyFromAdapterWeights(w: AdapterWeights, o: { std?: readonly number[] } = {}): KeyFromAdapter {
  const { k, channels } = w;
  const n = k * k;
  const h = channels * n;
  if (w.convWeight.length !== h * h || w.deconvWeight.length !== h * h) {
    throw new RangeError(`keyFromAdapterWeights: expected weights of ${h}×${h} entries (aligned network, k=${k}, ${channels} channels), got ${w.convWeight.length} and ${w.deconvWeight.length}`);
  }
  const w1 = Float64Array.from(w.convWeight);
  const w2 = Float64Array.from(w.deconvWeight);
  const a = matmul(transpose(w2, h, h), w1, h, h, h);
  let total = 0;
  let off = 0;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < h; j++) {
      const v = a[i * h + j] ** 2;
      total += v;
      if (Math.floor(i / n) !== Math.floor(j / n)) off += v;
    }
  }
  const decryption: Float64Array[] = [];
  const matrices: (Float64Array | null)[] = [];
  for (let c = 0; c < channels; c++) {
    const block = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) block[i * n + j] = a[(c * n + i) * h + c * n + j];
    decryption.push(block);
    const s = o.std?.[c] ?? 1;
    // K⁻¹ = s·A_ccᵀ
    const kinv = transpose(block, n).map((v) => v * s);
    matrices.push(inverse(kinv, n));
  }
  return { matrices, decryption, crossChannel: Math.sqrt(off / total) };
}

/** ‖K̂ − K‖_F/‖K‖_F over channels, and the same after the best scale per channel (scale-free). */
export function recoveredKeyError(recovered: readonly (ArrayLike<number> | null)[], truth: readonly ArrayLike<number>[]): { relative: number; scaleFree: number } {
  let num = 0;
  let numScaled = 0;
  let den = 0;
  for (let c = 0; c < truth.length; c++) {
    const r = recovered[c];
    const t = truth[c];
    if (!r) return { relative: Number.POSITIVE_INFINITY, scaleFree: Number.POSITIVE_INFINITY };
    let rt = 0;
    let rr = 0;
    for (let i = 0; i < t.length; i++) {
      rt += r[i] * t[i];
      rr += r[i] * r[i];
    }
    const scale = rr > 0 ? rt / rr : 0;
    for (let i = 0; i < t.length; i++) {
      num += (r[i] - t[i]) ** 2;
      numScaled += (scale * r[i] - t[i]) ** 2;
      den += t[i] ** 2;
    }
  }
  return { relative: Math.sqrt(num / den), scaleFree: Math.sqrt(numScaled / den) };
}
