// Known-plaintext key recovery. The Hill cipher is linear: n plaintext blocks X [n, k²] and their
// ciphertext blocks Y = X·K of one channel give K by solving X·K = Y.
//
//   real kinds  least squares (LAPACK gelsd in float64): exact (up to rounding) as soon as X has
//               rank k², i.e. from k² linearly independent blocks. With fewer, K is undetermined.
//               Orthogonal estimates are projected onto the nearest orthogonal matrix.
//   hill256     Gaussian elimination mod 256 with odd pivots: exact as soon as some k² of the
//               blocks form a matrix invertible mod 256 (random blocks: k² plus a few).
//
// With shuffled block positions the attacker does not know which ciphertext block came from which
// plaintext block. recoverShuffled() still breaks it from m > k² known images (k² + 4 is plenty):
// for one ciphertext position it tries every plaintext position q, solving for K over the m images;
// only the true q leaves no residual (with m = k² every candidate would fit). That K decrypts every
// position, which recovers the permutation; then each channel's K is solved from all the blocks.
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import { toDtype } from '../ops/convert.ts';
import { narrow } from '../ops/shape.ts';
import { linalgLstsq } from '../ops/linalg.ts';
import { matmul } from '../ops/linear.ts';
import { sub } from '../ops/arithmetic.ts';
import { norm } from '../ops/reduction.ts';
import { type CipherKey, type CipherKind, CipherKeyError, keyFromMatrices } from '../cipher/key.ts';
import { channelBlocks } from '../cipher/hill.ts';
import { type Matrix, inverse, inverseMod256Matrix, maxAbsDiff, nearestOrthogonal, solveMod256 } from '../linalg/matrix.ts';

export interface ChannelRecovery {
  channel: number;
  /** Known block pairs used. */
  blocks: number;
  /** Numerical rank of the plaintext blocks (real kinds) or unit pivots found (hill256), out of k². */
  rank: number;
  /** Whether the data determine K: rank k², and (hill256) the leftover rows agree. */
  determined: boolean;
  /** ‖X·K̂ − Y‖ / ‖Y‖ (real kinds; 0 for hill256 when consistent). */
  relativeResidual: number;
  /** The recovered matrix (k²×k², row-major), or null when undetermined. */
  matrix: Matrix | null;
  /** max |K̂ − K| against the true key, when it is given. */
  maxAbsError?: number;
  /** Whether K̂ equals K (hill256: exactly; real: max abs error ≤ tolerance). Needs the true key. */
  recovered?: boolean;
}

/**
 * Recovered matrices carry rounding error: accept any conditioning (orthogonal estimates are
 * projected onto the nearest orthogonal matrix, so they pass the usual check).
 */
const RECOVERED_KEY_CHECKS = { maxCondition: Number.MAX_VALUE };

/** Tolerance on max |K̂ − K| for a real key to count as recovered (float32 ciphertexts). */
export const REAL_RECOVERY_TOLERANCE = 1e-3;

/** Solves X·K = Y for one channel; X, Y are [n, k²] tensors (any float or integer dtype). */
export function recoverChannelMatrix(kind: CipherKind, plainBlocks: Tensor, cipherBlocks: Tensor, channel = 0): ChannelRecovery {
  const [n, m] = plainBlocks.shape;
  if (cipherBlocks.shape[0] !== n || cipherBlocks.shape[1] !== m) {
    throw new RangeError(`recoverChannelMatrix: plaintext blocks [${plainBlocks.shape}] and ciphertext blocks [${cipherBlocks.shape}] differ`);
  }
  if (kind === 'hill256') {
    const x = plainBlocks.toArray();
    const y = cipherBlocks.toArray();
    const r = solveMod256(x, y, n, m, m);
    const determined = r.solution !== null && r.consistent;
    return {
      channel,
      blocks: n,
      rank: r.rank,
      determined,
      relativeResidual: r.consistent ? 0 : 1,
      matrix: determined ? Float64Array.from(r.solution!) : null,
    };
  }
  return noGrad(() =>
    scope(() => {
      const x = toDtype(plainBlocks, 'float64');
      const y = toDtype(cipherBlocks, 'float64');
      // gelsd: SVD-based, so rank deficiency (n < k² or dependent blocks) is detected, not hidden.
      const { solution, rank } = linalgLstsq(x, y, { driver: 'gelsd', rcond: 1e-10 });
      const r = rank.item();
      const residual = norm(sub(matmul(x, solution), y)).item() / Math.max(norm(y).item(), 1e-300);
      const determined = r === m && n >= m;
      let matrix: Matrix | null = determined ? Float64Array.from(solution.toTypedArray() as Float64Array) : null;
      // An orthogonal key is known to be orthogonal: project the estimate onto the nearest one.
      if (matrix && kind === 'orthogonal') matrix = nearestOrthogonal(matrix, m) ?? matrix;
      return { channel, blocks: n, rank: r, determined, relativeResidual: residual, matrix };
    }),
  );
}

function compare(rec: ChannelRecovery, kind: CipherKind, truth: Matrix): ChannelRecovery {
  if (!rec.matrix) return { ...rec, recovered: false };
  const err = maxAbsDiff(rec.matrix, truth);
  return { ...rec, maxAbsError: err, recovered: kind === 'hill256' ? err === 0 : err <= REAL_RECOVERY_TOLERANCE };
}

export interface KnownPlaintextResult {
  kind: CipherKind;
  k: number;
  /** Block pairs per channel used. */
  blocks: number;
  channels: ChannelRecovery[];
  /** Every channel determined. */
  determined: boolean;
  /** Every channel equal to the true key (when the true key was given). */
  recovered?: boolean;
  /** The recovered key (matrices form, no shuffle), when every channel was determined. */
  key: CipherKey | null;
}

/**
 * Known-plaintext attack on aligned image pairs (no shuffle, or blocks already matched): takes the
 * first `blocks` blocks per channel (default: all) of plain/cipher [N, C, H, W] and solves for K.
 * Give the true key to score the result.
 */
export function knownPlaintextAttack(plain: Tensor, cipher: Tensor, kind: CipherKind, k: number, o: { blocks?: number; trueKey?: CipherKey } = {}): KnownPlaintextResult {
  if (plain.ndim !== 4 || cipher.ndim !== 4 || plain.shape.join() !== cipher.shape.join()) {
    throw new RangeError(`knownPlaintextAttack: plaintext [${plain.shape}] and ciphertext [${cipher.shape}] must be the same [N, C, H, W]`);
  }
  const [, c] = plain.shape;
  if (o.trueKey && o.trueKey.channels !== c) {
    throw new RangeError(`knownPlaintextAttack: the images have ${c} channel${c === 1 ? '' : 's'} but the true key has ${o.trueKey.channels}`);
  }
  const channels: ChannelRecovery[] = [];
  for (let ch = 0; ch < c; ch++) {
    const rec = scope(() => {
      let xb = channelBlocks(plain, k, ch);
      let yb = channelBlocks(cipher, k, ch);
      const avail = xb.shape[0];
      const n = Math.min(o.blocks ?? avail, avail);
      if (n < avail) {
        xb = sliceRows(xb, n);
        yb = sliceRows(yb, n);
      }
      return recoverChannelMatrix(kind, xb, yb, ch);
    });
    channels.push(o.trueKey ? compare(rec, kind, o.trueKey.matrices[ch]) : rec);
  }
  const determined = channels.every((r) => r.determined);
  let key: CipherKey | null = null;
  if (determined) {
    try {
      key = keyFromMatrices(
        kind,
        k,
        channels.map((r) => r.matrix!),
        RECOVERED_KEY_CHECKS,
      );
    } catch (e) {
      if (!(e instanceof CipherKeyError)) throw e;
    }
  }
  const result: KnownPlaintextResult = { kind, k, blocks: channels[0]?.blocks ?? 0, channels, determined, key };
  if (o.trueKey) result.recovered = channels.every((r) => r.recovered);
  return result;
}

function sliceRows(x: Tensor, n: number): Tensor {
  return narrow(x, 0, 0, n);
}

export interface BlockSweepPoint {
  blocks: number;
  determined: boolean;
  recovered: boolean;
  /** Worst channel's max |K̂ − K| (null when some channel was undetermined). */
  maxAbsError: number | null;
}

/**
 * How many known blocks per channel recover the key: runs the attack on the first n blocks for
 * each n in `counts` (default k²−1, k², k²+1, 2k², 4k² as far as the data reach).
 */
export function blockSweep(plain: Tensor, cipher: Tensor, key: CipherKey, counts?: number[]): BlockSweepPoint[] {
  const n2 = key.k * key.k;
  const [n, , h, w] = plain.shape;
  const avail = (n * h * w) / n2;
  const wanted = counts ?? [n2 - 1, n2, n2 + 1, n2 + 4, 2 * n2, 4 * n2];
  return wanted
    .filter((c) => c >= 1 && c <= avail)
    .map((blocks) => {
      const r = knownPlaintextAttack(plain, cipher, key.kind, key.k, { blocks, trueKey: key });
      const errs = r.channels.map((ch) => ch.maxAbsError ?? null);
      return {
        blocks,
        determined: r.determined,
        recovered: r.recovered ?? false,
        maxAbsError: errs.some((e) => e === null) ? null : Math.max(...(errs as number[])),
      };
    });
}

/** The smallest block count per channel that recovers the key, searching n = 1.. (binary search after a doubling scan). */
export function minimumBlocks(plain: Tensor, cipher: Tensor, key: CipherKey): number | null {
  const [n, , h, w] = plain.shape;
  const avail = (n * h * w) / (key.k * key.k);
  const ok = (b: number) => knownPlaintextAttack(plain, cipher, key.kind, key.k, { blocks: b, trueKey: key }).recovered === true;
  let lo = 0;
  let hi = Math.min(key.k * key.k, avail);
  while (!ok(hi)) {
    lo = hi;
    if (hi === avail) return null;
    hi = Math.min(hi * 2, avail);
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

export interface ShuffledRecovery {
  /** Images used (each gives one block per position). */
  images: number;
  /** The plaintext position matched to the first ciphertext position that could be solved, or null. */
  anchor: number | null;
  key: CipherKey | null;
  /** Recovered permutation (ciphertext position p holds plaintext block perm[p]). */
  permutation: Uint32Array | null;
  /** Positions whose match was ambiguous or failed. */
  unmatched: number;
}

/**
 * Breaks a shuffled key from m known images plain/cipher [m, C, H, W] (m > k²; k² + 4 suffices): see
 * the file comment. Uses channel 0 to find the anchor, then recovers every channel's matrix.
 */
export function recoverShuffled(plain: Tensor, cipher: Tensor, kind: CipherKind, k: number): ShuffledRecovery {
  const [m, c, h, w] = plain.shape;
  const gh = h / k;
  const gw = w / k;
  const positions = gh * gw;
  const n2 = k * k;
  // Per channel: blocks as [m, positions, k²] arrays.
  const px: Float64Array[] = [];
  const cy: Float64Array[] = [];
  for (let ch = 0; ch < c; ch++) {
    scope(() => {
      px.push(Float64Array.from(channelBlocks(plain, k, ch).toArray()));
      cy.push(Float64Array.from(channelBlocks(cipher, k, ch).toArray()));
    });
  }
  const rowsAt = (data: Float64Array, pos: number): Float64Array => {
    const out = new Float64Array(m * n2);
    for (let i = 0; i < m; i++) out.set(data.subarray((i * positions + pos) * n2, (i * positions + pos + 1) * n2), i * n2);
    return out;
  };
  const solve = (ch: number, q: number, p: number): ChannelRecovery =>
    scope(() => recoverChannelMatrix(kind, tensor(rowsAt(px[ch], q), [m, n2], 'float64'), tensor(rowsAt(cy[ch], p), [m, n2], 'float64'), ch));
  const failed = (anchor: number | null): ShuffledRecovery => ({ images: m, anchor, key: null, permutation: null, unmatched: positions });
  // 1. Anchor: for a ciphertext position p, the plaintext position q whose blocks (over the m images)
  //    map onto p's by one matrix. Tries p = 0, 1, ... in case p's blocks happen to be degenerate.
  const accept = kind === 'hill256' ? 0 : 1e-4;
  let anchor: number | null = null;
  let k0: Matrix | null = null;
  for (let p = 0; p < Math.min(positions, 8) && k0 === null; p++) {
    let best = Infinity;
    for (let q = 0; q < positions; q++) {
      const r = solve(0, q, p);
      if (r.determined && r.relativeResidual < best) {
        best = r.relativeResidual;
        anchor = q;
        k0 = r.matrix;
      }
    }
    if (best > accept) {
      anchor = null;
      k0 = null;
    }
  }
  if (k0 === null) return failed(null);
  const inv0 = kind === 'hill256' ? inverseMod256Matrix(k0, n2).inverse : inverse(k0, n2);
  if (!inv0) return failed(anchor);
  // 2. The permutation: decrypt every ciphertext position's m blocks of channel 0 and find the
  //    plaintext position holding the same blocks.
  const perm = new Uint32Array(positions);
  let unmatched = 0;
  const plainAt = Array.from({ length: positions }, (_, q) => rowsAt(px[0], q));
  for (let p = 0; p < positions; p++) {
    const y = rowsAt(cy[0], p);
    const dec = new Float64Array(m * n2);
    for (let i = 0; i < m; i++) {
      for (let a = 0; a < n2; a++) {
        let s = 0;
        for (let b = 0; b < n2; b++) s += y[i * n2 + b] * inv0[b * n2 + a];
        dec[i * n2 + a] = kind === 'hill256' ? ((s % 256) + 256) % 256 : s;
      }
    }
    let bestQ = -1;
    let bestD = Infinity;
    let second = Infinity;
    for (let q = 0; q < positions; q++) {
      const d = maxAbsDiff(dec, plainAt[q]);
      if (d < bestD) {
        second = bestD;
        bestD = d;
        bestQ = q;
      } else if (d < second) second = d;
    }
    const tol = kind === 'hill256' ? 0 : 1e-2;
    if (bestD > tol || second <= tol) unmatched++;
    perm[p] = bestQ;
  }
  // 3. Every channel's matrix from all m·positions block pairs, now aligned by the permutation.
  const mats: Matrix[] = [];
  for (let ch = 0; ch < c; ch++) {
    const xs = new Float64Array(m * positions * n2);
    const ys = new Float64Array(m * positions * n2);
    let row = 0;
    for (let p = 0; p < positions; p++) {
      xs.set(rowsAt(px[ch], perm[p]), row * n2);
      ys.set(rowsAt(cy[ch], p), row * n2);
      row += m;
    }
    const r = scope(() => recoverChannelMatrix(kind, tensor(xs, [m * positions, n2], 'float64'), tensor(ys, [m * positions, n2], 'float64'), ch));
    if (!r.matrix) return failed(anchor);
    mats.push(r.matrix);
  }
  let key: CipherKey;
  try {
    key = keyFromMatrices(kind, k, mats, RECOVERED_KEY_CHECKS);
  } catch {
    return failed(anchor);
  }
  return { images: m, anchor, key, permutation: perm, unmatched };
}
