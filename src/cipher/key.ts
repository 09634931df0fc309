// Keys of the block-wise Hill cipher: one k²×k² matrix per channel, derived deterministically from a
// 256-bit secret (same secret, same key, on every machine), in three kinds:
//
//   uniform     entries U(−1, 1); real arithmetic
//   orthogonal  a Haar-random orthogonal matrix (QR of a Gaussian matrix, signs fixed); real
//   hill256     integers 0..255 with an odd determinant (invertible mod 256); the ciphertext of an
//               8-bit image is again an 8-bit image: y = x·K mod 256 on byte values
//
// Normative specification: docs/FORMAT.md §3 (python/nnlock_torch implements it independently and
// test/vectors/cipher/ pins both). The fingerprint covers the matrices' float64 bits, so another
// implementation must reproduce them exactly: the orthogonal kind's normal draws use Math.log,
// Math.cos and Math.sin, which V8 (Node 20) computes with fdlibm's algorithms, not the platform's
// libm (that differs in the last bit for a few per cent of arguments). A Node whose V8 changes these
// functions would change orthogonal keys derived from a secret: test/cipher/key.test.ts and
// test/python/vectors.test.ts would fail.
//
// Derivation. HKDF-SHA-256(secret, salt "nnlock-cipher") gives two independent 32-byte keys, one for
// the matrices and one for block shuffling. Channel c's matrix comes from the ChaCha20 KeyedStream
// labelled "hill-cipher/<kind>/k=<k>/channel=<c>/attempt=<a>", trying a = 0, 1, 2, ... until the
// candidate passes the checks below. All arithmetic is plain JavaScript float64 (src/cipher/matrix.ts),
// so the result is bit-identical everywhere.
//
// Rejection (documented thresholds):
//   uniform     rejected when the 2-norm condition number σmax/σmin exceeds maxCondition
//               (default 500, see DEFAULT_MAX_CONDITION: a float32 round trip then stays within
//               1e-5 norm-wise relative error). Roughly a quarter of 64×64 and a tenth of 16×16
//               candidates are rejected; the next attempt is taken.
//   orthogonal  condition number 1 by construction; rejected only if QR failed (never in practice)
//   hill256     rejected when the determinant is even (≈ 71 % of candidates: a random matrix mod 2
//               is invertible with probability ≈ 0.289). Real conditioning is irrelevant: the
//               arithmetic is exact.
// Every rejection loop is bounded (maxAttempts) and a maxCondition below what random matrices can
// meet is refused up front (minMaxCondition), so no key file makes the derivation spin.
import { createHash, randomBytes } from 'node:crypto';
import { KeyedStream } from '../crypto/keyed-stream.ts';
import { hkdfSha256 } from '../crypto/tier-keys.ts';
import { conditionNumber, inverseMod256Matrix, type Matrix } from '../linalg/matrix.ts';
import {
  CIPHER_KINDS,
  CIPHER_SALT,
  type CipherKind,
  DEFAULT_MAX_CONDITION,
  MATRIX_KEY_INFO,
  SHUFFLE_KEY_INFO,
  candidate,
  fingerprintParts,
  matrixLabel,
  maxAttempts,
  screenMatrix,
  shuffleLabel,
} from './derivation.ts';

// The derivation's shared rules (src/cipher/derivation.ts, also run by the page) are part of this
// module's API.
export { CIPHER_KINDS, type CipherKind, DEFAULT_MAX_CONDITION, maxAttempts };
export const MAX_BLOCK_SIZE = 16;
export const MAX_CHANNELS = 16;
/** Largest maxCondition accepted: beyond ~1e15 a float64 matrix is numerically singular anyway. */
export const MAX_MAX_CONDITION = 1e15;
/** An orthogonal matrix's computed condition number is 1 plus rounding (~1e-15·n): a limit below
 *  this would reject every candidate. */
const ORTHOGONAL_MIN_CONDITION = 1 + 1e-6;
export const SECRET_BYTES = 32;

export class CipherKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CipherKeyError';
  }
}

export interface CipherKey {
  readonly kind: CipherKind;
  /** Block side: each k×k block of a channel is one row vector of k² values. */
  readonly k: number;
  readonly channels: number;
  /** Block positions are permuted (the same way for every channel and image of a given size). */
  readonly shuffle: boolean;
  readonly maxCondition: number;
  /** The 32-byte secret the key was derived from; null for a key given as matrices. */
  readonly secret: Uint8Array | null;
  /** 32 bytes that drive the block permutation (when shuffle is on). */
  readonly shuffleKey: Uint8Array | null;
  /** Per channel, K (k²×k², row-major): ciphertext block = plaintext block · K. */
  readonly matrices: readonly Matrix[];
  /** Per channel, K⁻¹ (real kinds) or K⁻¹ mod 256 (hill256, entries 0..255). */
  readonly inverses: readonly Matrix[];
  /** Per channel 2-norm condition number over the reals. */
  readonly conditions: readonly number[];
  /** SHA-256 over kind, sizes, shuffle, matrices and shuffle key: names the key, detects corruption. */
  readonly fingerprint: string;
}

export interface KeyOptions {
  kind: CipherKind;
  k: number;
  channels?: number;
  shuffle?: boolean;
  maxCondition?: number;
}

export function assertKind(kind: string): CipherKind {
  if (!(CIPHER_KINDS as readonly string[]).includes(kind)) {
    throw new CipherKeyError(`unknown key kind '${kind}' (expected ${CIPHER_KINDS.join(', ')})`);
  }
  return kind as CipherKind;
}

/**
 * The smallest maxCondition a derivation can meet in a bounded number of attempts. The 2-norm
 * condition number of a random n×n matrix grows like n (Edelman 1988): measured on uniform(−1, 1)
 * matrices, the smallest of thousands of samples was 0.41·n (n = 4), 0.55·n (16), 0.73·n (64) and
 * 1.3·n (256), so below n/2 (n = k²) practically every candidate is rejected and the derivation
 * would only spin. Orthogonal matrices have condition 1 (plus rounding); hill256 ignores it.
 */
export function minMaxCondition(kind: CipherKind, k: number): number {
  if (kind === 'uniform') return Math.max(1, (k * k) / 2);
  if (kind === 'orthogonal') return ORTHOGONAL_MIN_CONDITION;
  return 1;
}

function checkSizes(k: number, channels: number, maxCondition: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_BLOCK_SIZE) throw new CipherKeyError(`block size k must be an integer in 1..${MAX_BLOCK_SIZE}, got ${k}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > MAX_CHANNELS) throw new CipherKeyError(`channels must be an integer in 1..${MAX_CHANNELS}, got ${channels}`);
  if (typeof maxCondition !== 'number' || !(maxCondition >= 1)) throw new CipherKeyError(`maxCondition must be a number ≥ 1, got ${maxCondition}`);
}

/**
 * What a derivation needs beyond checkSizes: a maxCondition it can meet (a limit for given
 * matrices, e.g. recovered ones, may be anything ≥ 1: nothing is searched for).
 */
export function checkDerivable(kind: CipherKind, k: number, maxCondition: number): void {
  if (!(maxCondition <= MAX_MAX_CONDITION)) throw new CipherKeyError(`maxCondition must be at most ${MAX_MAX_CONDITION} to derive a key, got ${maxCondition}`);
  const floor = minMaxCondition(kind, k);
  if (maxCondition < floor) {
    throw new CipherKeyError(
      `maxCondition ${maxCondition} is below ${floor} for a ${kind} key with k=${k}: ${kind === 'uniform' ? `random ${k * k}×${k * k} matrices practically never have a condition number that small` : 'an orthogonal matrix has condition number 1 only up to rounding'}, so no key could be derived; use at least ${floor} (default ${DEFAULT_MAX_CONDITION})`,
    );
  }
}

/** A fresh random 256-bit secret. */
export function randomSecret(): Uint8Array {
  return new Uint8Array(randomBytes(SECRET_BYTES));
}

export function parseSecretHex(hex: string): Uint8Array {
  const s = hex.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) throw new CipherKeyError(`a secret is 64 hex digits (256 bits), got ${s.length} characters${/[^0-9a-f]/.test(s) ? ' with non-hex characters' : ''}`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

const enc = new TextEncoder();

function subKeys(secret: Uint8Array): { matrixKey: Uint8Array; shuffleKey: Uint8Array } {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_BYTES) {
    throw new CipherKeyError(`the secret must be ${SECRET_BYTES} bytes (256 bits), got ${secret instanceof Uint8Array ? secret.length : typeof secret}`);
  }
  const salt = enc.encode(CIPHER_SALT);
  return {
    matrixKey: hkdfSha256(secret, salt, enc.encode(MATRIX_KEY_INFO), 32),
    shuffleKey: hkdfSha256(secret, salt, enc.encode(SHUFFLE_KEY_INFO), 32),
  };
}

interface Checked {
  inverse: Matrix;
  condition: number;
}

/** Checks one channel's matrix (derivation.ts's rule); the reason it is unusable, or its inverse and condition number. */
function checkMatrix(kind: CipherKind, m: Matrix, n: number, maxCondition: number, orthogonalTolerance = 1e-9): Checked | string {
  const r = screenMatrix(kind, m, n, maxCondition, orthogonalTolerance);
  if (typeof r === 'string' || r.kind === 'real') return r;
  const { inverse: inv, det } = inverseMod256Matrix(m, n);
  if (!inv) return `singular mod 256: the determinant is even (det ≡ ${det} mod 256), so the cipher cannot be inverted`;
  return { inverse: Float64Array.from(inv), condition: conditionNumber(m, n) };
}

/** Derives the key of `secret` for the given kind and sizes. Same inputs, same key. */
export function deriveKey(secret: Uint8Array, o: KeyOptions): CipherKey {
  const kind = assertKind(o.kind);
  const channels = o.channels ?? 3;
  const maxCondition = o.maxCondition ?? DEFAULT_MAX_CONDITION;
  checkSizes(o.k, channels, maxCondition);
  checkDerivable(kind, o.k, maxCondition);
  const attempts = maxAttempts(kind, o.k);
  const { matrixKey, shuffleKey } = subKeys(secret);
  const n = o.k * o.k;
  const matrices: Matrix[] = [];
  const inverses: Matrix[] = [];
  const conditions: number[] = [];
  for (let c = 0; c < channels; c++) {
    let found = false;
    let lastReason = '';
    for (let attempt = 0; attempt < attempts && !found; attempt++) {
      const m = candidate(kind, new KeyedStream(matrixKey, matrixLabel(kind, o.k, c, attempt)), n);
      if (!m) continue;
      const r = checkMatrix(kind, m, n, maxCondition);
      if (typeof r === 'string') {
        lastReason = r;
        continue;
      }
      matrices.push(m);
      inverses.push(r.inverse);
      conditions.push(r.condition);
      found = true;
    }
    if (!found) throw new CipherKeyError(`no usable ${kind} matrix for channel ${c} in ${attempts} attempts (last: ${lastReason})${kind === 'uniform' ? '; raise maxCondition' : ''}`);
  }
  const shuffle = o.shuffle ?? false;
  const key = { kind, k: o.k, channels, shuffle, maxCondition, secret: Uint8Array.from(secret), shuffleKey: shuffle ? shuffleKey : null, matrices, inverses, conditions };
  return { ...key, fingerprint: fingerprintOf(key) };
}

/** A key with a fresh random secret. */
export function generateKey(o: KeyOptions): CipherKey {
  return deriveKey(randomSecret(), o);
}

/**
 * A key from explicit matrices (e.g. imported, or recovered by an attack). They are checked exactly
 * as derived ones are: a singular, ill-conditioned or (hill256) even-determinant matrix is refused,
 * and an "orthogonal" one must satisfy max |KᵀK − I| ≤ orthogonalTolerance (default 1e-9; attacks,
 * whose estimates carry rounding error, pass a looser one).
 */
export function keyFromMatrices(
  kind: CipherKind,
  k: number,
  matrices: readonly ArrayLike<number>[],
  o: { shuffleKey?: Uint8Array | null; maxCondition?: number; orthogonalTolerance?: number } = {},
): CipherKey {
  assertKind(kind);
  const maxCondition = o.maxCondition ?? DEFAULT_MAX_CONDITION;
  checkSizes(k, Math.max(1, matrices.length), maxCondition);
  if (matrices.length === 0) throw new CipherKeyError('a key needs one matrix per channel; none given');
  const n = k * k;
  const ms: Matrix[] = [];
  const inverses: Matrix[] = [];
  const conditions: number[] = [];
  matrices.forEach((m, c) => {
    if (m.length !== n * n) throw new CipherKeyError(`channel ${c}: a k=${k} key matrix has ${n}×${n} = ${n * n} entries, got ${m.length}`);
    const mm = Float64Array.from(m);
    const r = checkMatrix(kind, mm, n, maxCondition, o.orthogonalTolerance);
    if (typeof r === 'string') throw new CipherKeyError(`channel ${c}: bad ${kind} key matrix: ${r}`);
    ms.push(mm);
    inverses.push(r.inverse);
    conditions.push(r.condition);
  });
  const shuffleKey = o.shuffleKey ?? null;
  if (shuffleKey !== null && shuffleKey.length !== 32) throw new CipherKeyError(`the shuffle key must be 32 bytes, got ${shuffleKey.length}`);
  const key = { kind, k, channels: ms.length, shuffle: shuffleKey !== null, maxCondition, secret: null, shuffleKey, matrices: ms, inverses, conditions };
  return { ...key, fingerprint: fingerprintOf(key) };
}

function fingerprintOf(key: Omit<CipherKey, 'fingerprint' | 'inverses' | 'conditions' | 'secret' | 'maxCondition'>): string {
  const h = createHash('sha256');
  for (const part of fingerprintParts(key)) h.update(part);
  return h.digest('hex');
}

/** A short public name of a key: the first 16 hex digits of its fingerprint. */
export function keyId(key: CipherKey): string {
  return key.fingerprint.slice(0, 16);
}

/** Checks that a key fits images of `channels` channels and size h×w; throws a clear error if not. */
export function assertFits(key: CipherKey, channels: number, height: number, width: number, what = 'image'): void {
  if (channels !== key.channels) throw new CipherKeyError(`the key has ${key.channels} channel matrices but the ${what} has ${channels} channels`);
  if (height % key.k !== 0 || width % key.k !== 0) {
    throw new CipherKeyError(`${what} size ${height}×${width} is not a multiple of the block size k=${key.k}`);
  }
}

/**
 * The block permutation for a grid of gh×gw blocks: ciphertext block position p holds the
 * plaintext block from position perm[p]. Derived from the shuffle key and the grid size.
 */
export function blockPermutation(key: CipherKey, gh: number, gw: number): Uint32Array | null {
  if (!key.shuffle || !key.shuffleKey) return null;
  return new KeyedStream(key.shuffleKey, shuffleLabel(gh, gw)).permutation(gh * gw);
}

export function invertPermutation(perm: ArrayLike<number>): Uint32Array {
  const inv = new Uint32Array(perm.length);
  for (let i = 0; i < perm.length; i++) inv[perm[i]] = i;
  return inv;
}

/** A one-line public description (never the secret). */
export function describeKey(key: CipherKey): string {
  const cond = key.kind === 'hill256' ? '' : `, condition ≤ ${Math.max(...key.conditions).toPrecision(4)}`;
  return `${key.kind} key, k=${key.k} (${key.k * key.k}×${key.k * key.k} per channel), ${key.channels} channels${key.shuffle ? ', shuffled blocks' : ''}${cond}, id ${keyId(key)}`;
}
