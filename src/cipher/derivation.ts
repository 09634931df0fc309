// The rules of cipher-key derivation that every implementation must follow bit for bit: the names
// of the HKDF sub-keys and stream labels, how a candidate matrix is drawn from a keyed stream, which
// candidates are refused, and what the fingerprint covers. src/cipher/key.ts runs them on the server
// (node:crypto's HKDF, SHA-256 and ChaCha20); src/web/browser/cipher.ts runs them in the page
// (WebCrypto and a plain-TypeScript ChaCha20). Only the primitives differ; docs/FORMAT.md §3 is the
// normative text and python/nnlock_torch implements it independently.
//
// Pure: imports only the plain-JavaScript linear algebra and the stream sampler, never node:
// modules (the layering check holds this file to it), so the page can use it.
import { conditionNumber, inverse, matVec, orthogonalFromQr, orthogonalityError, transpose, type Matrix } from '../linalg/matrix.ts';
import type { StreamSampler } from '../crypto/stream-sampler.ts';

export const CIPHER_KINDS = ['uniform', 'orthogonal', 'hill256'] as const;
export type CipherKind = (typeof CIPHER_KINDS)[number];

/**
 * Default ceiling on a real key's 2-norm condition number. Measured on random images in [0, 1], a
 * float32 encrypt + decrypt loses ‖x̂ − x‖/‖x‖ ≈ (1.2 to 1.9)·10⁻⁸·cond (k = 4 and 8), so keys with
 * cond ≤ 500 round-trip within 1e-5 relative error; the largest single-pixel error is a few times
 * more. float64 tensors round-trip to ~1e-13 whatever the limit.
 */
export const DEFAULT_MAX_CONDITION = 500;

/** HKDF-SHA-256(secret, salt, info) gives the two 32-byte sub-keys. */
export const CIPHER_SALT = 'nnlock-cipher';
export const MATRIX_KEY_INFO = 'hill-cipher matrices v1';
export const SHUFFLE_KEY_INFO = 'hill-cipher shuffle v1';

/** The stream (under the matrix key) of channel c's candidate number `attempt`. */
export function matrixLabel(kind: CipherKind, k: number, channel: number, attempt: number): string {
  return `hill-cipher/${kind}/k=${k}/channel=${channel}/attempt=${attempt}`;
}

/** The stream (under the shuffle key) of the block permutation of a gh×gw grid. */
export function shuffleLabel(gh: number, gw: number): string {
  return `hill-cipher/shuffle/grid=${gh}x${gw}`;
}

/**
 * Attempts per channel before a derivation gives up with an error (every rejection loop is
 * bounded). hill256 accepts ≈ 29 % of candidates, so 64 attempts fail with probability 3·10⁻¹⁰;
 * orthogonal candidates are never rejected in practice; uniform candidates above the floor of
 * minMaxCondition (key.ts) are accepted often enough, and the cap falls with the matrix size so
 * that the worst case stays a few seconds (each rejected 256×256 candidate costs an inversion).
 */
export function maxAttempts(kind: CipherKind, k: number): number {
  const n = k * k;
  if (kind === 'hill256') return 64;
  if (kind === 'orthogonal') return 8;
  return n <= 16 ? 1000 : n <= 64 ? 250 : 64;
}

/** One candidate n×n matrix from its stream (null: the orthogonal kind's QR failed, never in practice). */
export function candidate(kind: CipherKind, stream: StreamSampler, n: number): Matrix | null {
  switch (kind) {
    case 'uniform':
      return stream.uniform(n * n).map((u) => 2 * u - 1);
    case 'orthogonal':
      return orthogonalFromQr(stream.normal(n * n), n);
    case 'hill256':
      return Float64Array.from(stream.randint(n * n, 256));
  }
}

/**
 * A matrix that passed the checks: a real one with its inverse and condition number (computed by
 * the checks anyway); a hill256 one whose inverse mod 256 the caller computes if it needs it.
 */
export type Screened = { kind: 'real'; inverse: Matrix; condition: number } | { kind: 'hill256' };

/**
 * Why a matrix is unusable as a key of this kind (a string), or what the checks computed: the
 * accept/reject rule of docs/FORMAT.md §3, shared by every implementation.
 *   uniform     refused when the 2-norm condition number σmax/σmin exceeds maxCondition
 *   orthogonal  refused if QR failed (never in practice) or max |KᵀK − I| > orthogonalTolerance
 *   hill256     refused unless its entries are integers 0..255 with an odd determinant
 *               (invertible mod 256); real conditioning is irrelevant: the arithmetic is exact
 */
export function screenMatrix(kind: CipherKind, m: Matrix, n: number, maxCondition: number, orthogonalTolerance = 1e-9): Screened | string {
  for (let i = 0; i < m.length; i++) {
    if (!Number.isFinite(m[i])) return `entry ${i} is ${m[i]}`;
  }
  if (kind === 'hill256') {
    for (let i = 0; i < m.length; i++) {
      if (!Number.isInteger(m[i]) || m[i] < 0 || m[i] > 255) return `a hill256 matrix holds integers 0..255; entry ${i} is ${m[i]}`;
    }
    // Parity only: an even determinant (≈ 71 % of candidates) is found in O(n³/32) bit operations,
    // where the exact det mod 256 needs BigInt arithmetic (seconds for n = 256).
    if (!oddDeterminant(m, n)) return 'singular mod 256: the determinant is even, so the cipher cannot be inverted';
    return { kind: 'hill256' };
  }
  if (kind === 'uniform' && n >= 32) {
    // A cheap lower bound (an inversion and a few matrix–vector products, ~10× cheaper than the
    // SVD) rejects most hopeless candidates; it never rejects one the SVD would accept.
    const bound = conditionLowerBound(m, n);
    if (bound > maxCondition * (1 + 1e-6)) return `ill-conditioned: condition number at least ${bound.toPrecision(4)}, above the limit ${maxCondition}`;
  }
  const condition = conditionNumber(m, n);
  if (!Number.isFinite(condition)) return 'singular: a singular value is 0, so the cipher cannot be inverted';
  if (condition > maxCondition) return `ill-conditioned: condition number ${condition.toPrecision(4)} exceeds the limit ${maxCondition}`;
  if (kind === 'orthogonal' && orthogonalityError(m, n) > orthogonalTolerance) return `not orthogonal: max |KᵀK − I| = ${orthogonalityError(m, n).toExponential(2)}`;
  const inv = inverse(m, n);
  if (!inv) return 'singular: elimination met a zero pivot';
  return { kind: 'real', inverse: inv, condition };
}

/** Whether det(m) is odd, i.e. m is invertible mod 2 (Gaussian elimination over GF(2) on bit rows). */
function oddDeterminant(m: Matrix, n: number): boolean {
  const words = Math.ceil(n / 32);
  const rows = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (m[i * n + j] & 1) rows[i * words + (j >>> 5)] |= 1 << (j & 31);
  for (let col = 0; col < n; col++) {
    const w = col >>> 5;
    const bit = 1 << (col & 31);
    let piv = -1;
    for (let r = col; r < n; r++) {
      if (rows[r * words + w] & bit) {
        piv = r;
        break;
      }
    }
    if (piv < 0) return false;
    if (piv !== col) {
      for (let x = 0; x < words; x++) {
        const t = rows[piv * words + x];
        rows[piv * words + x] = rows[col * words + x];
        rows[col * words + x] = t;
      }
    }
    for (let r = col + 1; r < n; r++) {
      if (rows[r * words + w] & bit) for (let x = w; x < words; x++) rows[r * words + x] ^= rows[col * words + x];
    }
  }
  return true;
}

/** ‖a·x‖/‖x‖ after a few power iterations on aᵀa: a lower bound of the 2-norm ‖a‖₂. */
function normLowerBound(a: Matrix, n: number, iterations = 6): number {
  const at = transpose(a, n);
  let x = new Float64Array(n).fill(1 / Math.sqrt(n));
  let best = 0;
  for (let it = 0; it < iterations; it++) {
    const y = matVec(a, x, n);
    const ny = Math.hypot(...y);
    best = Math.max(best, ny); // ‖x‖ = 1
    if (ny === 0) break;
    const z = matVec(at, y, n);
    const nz = Math.hypot(...z);
    if (nz === 0) break;
    x = z.map((v) => v / nz);
  }
  return best;
}

/** ‖a‖₂·‖a⁻¹‖₂ from below (each factor a power-iteration estimate): at most the condition number. */
function conditionLowerBound(m: Matrix, n: number): number {
  const inv = inverse(m, n);
  if (!inv) return Infinity;
  return normLowerBound(m, n) * normLowerBound(inv, n);
}

/** What a key's fingerprint is the SHA-256 of, in order: kind, sizes, shuffle, matrices, shuffle key. */
export function fingerprintParts(key: { kind: CipherKind; k: number; channels: number; shuffle: boolean; matrices: readonly Matrix[]; shuffleKey: Uint8Array | null }): Uint8Array[] {
  const parts: Uint8Array[] = [new TextEncoder().encode(`nnlock-cipher-key v1\0${key.kind}\0${key.k}\0${key.channels}\0${key.shuffle ? 1 : 0}\0`)];
  for (const m of key.matrices) parts.push(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
  if (key.shuffleKey) parts.push(key.shuffleKey);
  return parts;
}
