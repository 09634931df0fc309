// The adaptation network's `statistical` initialisation: the decryption that the ciphertext-only
// attack (src/attacks/statistical.ts) recovers from image statistics, written into the network's
// window convolution. It needs no key: the service holds the ciphertexts, and public images of
// the same kind give the plaintext statistics.
import type { StatisticalRecovery } from '../attacks/statistical.ts';
import { matVec } from '../linalg/matrix.ts';
import { AdaptationNetwork } from './adaptation.ts';

/**
 * The recovered decryption as an affine map of adaptation-network windows (for
 * AdaptationNetwork.setWindowAffine): output pixel p of channel c = (x_p − mean_c) / std_c, so a
 * backbone that expects normalised plaintext gets it. Matrix [C·k², C·k²] row-major, block-diagonal.
 */
export function recoveryAsWindowAffine(r: StatisticalRecovery, norm: { mean?: readonly number[]; std?: readonly number[] } = {}): { matrix: Float64Array; offset: Float64Array } {
  const channels = r.inverses.length;
  const n = r.cipherMeans[0].length;
  const hidden = channels * n;
  const matrix = new Float64Array(hidden * hidden);
  const offset = new Float64Array(hidden);
  for (let c = 0; c < channels; c++) {
    const inv = r.inverses[c];
    const m = norm.mean?.[c] ?? 0;
    const s = norm.std?.[c] ?? 1;
    const shift = matVec(inv, r.cipherMeans[c], n);
    for (let p = 0; p < n; p++) {
      for (let q = 0; q < n; q++) matrix[(c * n + p) * hidden + c * n + q] = inv[p * n + q] / s;
      offset[c * n + p] = (r.plainMeans[c][p] - shift[p] - m) / s;
    }
  }
  return { matrix, offset };
}

/** An aligned adaptation network that applies the recovered decryption (optionally normalised); the caller disposes it. */
export function decryptorFromRecovery(r: StatisticalRecovery, norm: { mean?: readonly number[]; std?: readonly number[] } = {}): AdaptationNetwork {
  const k = Math.round(Math.sqrt(r.cipherMeans[0].length));
  const net = new AdaptationNetwork({ k, channels: r.inverses.length });
  const { matrix, offset } = recoveryAsWindowAffine(r, norm);
  net.setWindowAffine(matrix, offset);
  return net;
}
