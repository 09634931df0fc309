// The block cipher of src/cipher for the browser: a cipher key file (`nnlock cipher keygen`) in,
// the per-channel k²×k² matrices out, and the encryption of an image's pixels with them. No node
// and no native imports (the layering rule checks it), so the same file runs in the page and in
// node, where the tests hold it against src/cipher on many random keys and images.
//
// Key derivation runs the rules src/cipher/key.ts runs, from the same pure modules: the sub-key
// names, stream labels, candidate draws, accept/reject checks and fingerprint layout of
// src/cipher/derivation.ts, and the draws of src/crypto/stream-sampler.ts. Only the primitives are
// the page's own: SHA-256 and HKDF from WebCrypto (node's own webcrypto in the tests), ChaCha20 from
// ./chacha20.ts (nonce = the first 12 bytes of SHA-256("nnlock stream nonce v1\0" + label)), and
// Box–Muller's log, cos and sin from ./fdlibm.ts (node's own; a browser's Math may differ in the
// last bit). The derivation loop is written here again only because WebCrypto is asynchronous. The key file's
// fingerprint (SHA-256 of the matrices' float64 bytes) is checked at the end: a derived key that
// differed from src/cipher's by one bit would be refused, so a key this module accepts is
// bit-identical to the one the server side would derive.
//
// Encryption: each k×k block of each channel, flattened row-major to x (k² values), becomes
// y = x·K_c; with shuffling, ciphertext block position p holds the encrypted plaintext block
// perm[p]. hill256 works on bytes, y = x·K mod 256, exact in float64 (sums below 2^24): bit for
// bit what src/cipher computes. Real kinds work on pixels/255 and give float32 ciphertext, equal
// to src/cipher's float32 convolution within rounding (~1e-6).
import type { Matrix } from '../../linalg/matrix.ts';
import { StreamSampler } from '../../crypto/stream-sampler.ts';
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
} from '../../cipher/derivation.ts';
import { ChaCha20Stream } from './chacha20.ts';
import { cos, log, sin } from './fdlibm.ts';

export { CIPHER_KINDS, type CipherKind };

/** A cipher key as the page holds it: what encryption needs, nothing more. */
export interface PageCipherKey {
  readonly kind: CipherKind;
  readonly k: number;
  readonly channels: number;
  readonly shuffle: boolean;
  readonly shuffleKey: Uint8Array | null;
  /** Per channel K, k²×k² row-major: ciphertext block = plaintext block · K. */
  readonly matrices: readonly Matrix[];
  /** SHA-256 hex of kind, sizes, shuffle, matrices and shuffle key, as in the key file. */
  readonly fingerprint: string;
}

export class PageKeyError extends Error {
  override name = 'PageKeyError';
}

const enc = new TextEncoder();

function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new PageKeyError('WebCrypto is not available (the page must be served over https or from localhost)');
  return s;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  let n = 0;
  for (const p of parts) n += p.length;
  const all = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return new Uint8Array(await subtle().digest('SHA-256', all));
}

async function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  const key = await subtle().importKey('raw', Uint8Array.from(ikm), 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: Uint8Array.from(salt), info: Uint8Array.from(info) }, key, length * 8));
}

const hex = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');

function fromHex(s: string, what: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(s)) throw new PageKeyError(`"${what}" must be 64 hex digits`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** src/crypto/keyed-stream.ts's KeyedStream: ChaCha20 from counter 0, nonce from the label. */
export class PageKeyedStream extends StreamSampler {
  private constructor(private readonly stream: ChaCha20Stream) {
    // fdlibm's log, cos and sin: node's Math, whatever the browser's Math does (./fdlibm.ts).
    super({ log, cos, sin });
  }

  static async open(key: Uint8Array, label: string): Promise<PageKeyedStream> {
    const nonce = (await sha256(enc.encode('nnlock stream nonce v1\0'), enc.encode(label))).subarray(0, 12);
    return new PageKeyedStream(new ChaCha20Stream(key, nonce));
  }

  uint32(): number {
    return this.stream.uint32();
  }
}

export interface PageKeyOptions {
  kind: CipherKind;
  k: number;
  channels: number;
  shuffle: boolean;
  maxCondition: number;
}

/** The key of a 32-byte secret: src/cipher's deriveKey, in the browser. */
export async function deriveKey(secret: Uint8Array, o: PageKeyOptions): Promise<PageCipherKey> {
  if (secret.length !== 32) throw new PageKeyError(`the secret must be 32 bytes, got ${secret.length}`);
  const salt = enc.encode(CIPHER_SALT);
  const matrixKey = await hkdfSha256(secret, salt, enc.encode(MATRIX_KEY_INFO), 32);
  const shuffleKey = await hkdfSha256(secret, salt, enc.encode(SHUFFLE_KEY_INFO), 32);
  const n = o.k * o.k;
  const matrices: Matrix[] = [];
  for (let c = 0; c < o.channels; c++) {
    let found: Matrix | null = null;
    for (let a = 0; a < maxAttempts(o.kind, o.k) && !found; a++) {
      const m = candidate(o.kind, await PageKeyedStream.open(matrixKey, matrixLabel(o.kind, o.k, c, a)), n);
      if (m && typeof screenMatrix(o.kind, m, n, o.maxCondition) !== 'string') found = m;
    }
    if (!found) throw new PageKeyError(`no usable ${o.kind} matrix for channel ${c}`);
    matrices.push(found);
  }
  const key = { kind: o.kind, k: o.k, channels: o.channels, shuffle: o.shuffle, shuffleKey: o.shuffle ? shuffleKey : null, matrices };
  return { ...key, fingerprint: await fingerprintOf(key) };
}

async function fingerprintOf(key: Omit<PageCipherKey, 'fingerprint'>): Promise<string> {
  return hex(await sha256(...fingerprintParts(key)));
}

/** The first 16 hex digits of the fingerprint: the key id src/cipher records. */
export function keyId(key: PageCipherKey): string {
  return key.fingerprint.slice(0, 16);
}

/**
 * A key file's text (format nnlock-cipher-key, version 1, form "secret" or "matrices") to a key,
 * refused with a PageKeyError unless the rebuilt key has the file's fingerprint.
 */
export async function parseKeyFile(text: string): Promise<PageCipherKey> {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new PageKeyError('not a cipher key file: not JSON');
  }
  if (o === null || typeof o !== 'object' || o.format !== 'nnlock-cipher-key')
    throw new PageKeyError('not a cipher key file (format is not "nnlock-cipher-key"; a protected model\'s key file goes in the tier field)');
  if (o.version !== 1) throw new PageKeyError(`unsupported cipher key file version ${String(o.version)}`);
  const kind = o.kind as CipherKind;
  if (!CIPHER_KINDS.includes(kind)) throw new PageKeyError(`unknown key kind ${JSON.stringify(o.kind)}`);
  const { k, channels } = o;
  if (!Number.isInteger(k) || (k as number) < 1 || (k as number) > 16) throw new PageKeyError('"k" must be an integer in 1..16');
  if (!Number.isInteger(channels) || (channels as number) < 1 || (channels as number) > 16) throw new PageKeyError('"channels" must be an integer in 1..16');
  if (typeof o.shuffle !== 'boolean') throw new PageKeyError('"shuffle" must be true or false');
  const maxCondition = typeof o.maxCondition === 'number' ? o.maxCondition : DEFAULT_MAX_CONDITION;
  if (typeof o.fingerprint !== 'string') throw new PageKeyError('"fingerprint" is missing');
  let key: PageCipherKey;
  if (typeof o.secret === 'string') {
    key = await deriveKey(fromHex(o.secret, 'secret'), { kind, k: k as number, channels: channels as number, shuffle: o.shuffle, maxCondition });
  } else if (Array.isArray(o.matrices)) {
    const n = (k as number) ** 2;
    if (o.matrices.length !== channels || !o.matrices.every((m) => Array.isArray(m) && m.length === n * n && m.every((v) => typeof v === 'number'))) {
      throw new PageKeyError(`"matrices" must hold ${String(channels)} arrays of ${n * n} numbers`);
    }
    const shuffleKey = o.shuffle ? fromHex(String(o.shuffleKey), 'shuffleKey') : null;
    const base = { kind, k: k as number, channels: channels as number, shuffle: o.shuffle, shuffleKey, matrices: (o.matrices as number[][]).map((m) => Float64Array.from(m)) };
    key = { ...base, fingerprint: await fingerprintOf(base) };
  } else {
    throw new PageKeyError('the key file has neither "secret" nor "matrices"');
  }
  if (key.fingerprint !== o.fingerprint) throw new PageKeyError('fingerprint mismatch: the key file was edited or damaged, or this page derives keys differently');
  return key;
}

/** Ciphertext block position p holds plaintext block perm[p] (null: no shuffling). */
export async function blockPermutation(key: PageCipherKey, gh: number, gw: number): Promise<Uint32Array | null> {
  if (!key.shuffle || !key.shuffleKey) return null;
  return (await PageKeyedStream.open(key.shuffleKey, shuffleLabel(gh, gw))).permutation(gh * gw);
}

/** An image as planes: data[c·H·W + y·W + x]. */
export interface Planes<T extends Uint8Array | Float32Array> {
  data: T;
  channels: number;
  height: number;
  width: number;
}

function checkFits(key: PageCipherKey, p: Planes<Uint8Array | Float32Array>): void {
  if (p.channels !== key.channels) throw new PageKeyError(`the key has ${key.channels} channels, the image ${p.channels}`);
  if (p.height % key.k || p.width % key.k) throw new PageKeyError(`image size ${p.height}×${p.width} is not a multiple of the block size k=${key.k}`);
  if (p.data.length !== p.channels * p.height * p.width) throw new PageKeyError('image data does not match its size');
}

/** y = x·K per block (values in float64), blocks moved by perm; `finish` maps each value out. */
function apply<T extends Uint8Array | Float32Array>(key: PageCipherKey, src: Planes<Uint8Array | Float32Array>, perm: Uint32Array | null, scale: number, out: T, finish: (v: number) => number): T {
  const { k } = key;
  const { channels: C, height: H, width: W } = src;
  const n = k * k;
  const gh = H / k;
  const gw = W / k;
  const x = new Float64Array(n);
  for (let c = 0; c < C; c++) {
    const K = key.matrices[c];
    const plane = c * H * W;
    for (let p = 0; p < gh * gw; p++) {
      const from = perm ? perm[p] : p; // ciphertext position p encrypts plaintext block `from`
      const by = Math.floor(from / gw) * k;
      const bx = (from % gw) * k;
      for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) x[a * k + b] = src.data[plane + (by + a) * W + bx + b] * scale;
      const ty = Math.floor(p / gw) * k;
      const tx = (p % gw) * k;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += x[i] * K[i * n + j];
        out[plane + (ty + Math.floor(j / k)) * W + tx + (j % k)] = finish(s);
      }
    }
  }
  return out;
}

/** hill256: bytes in, ciphertext bytes out (x·K mod 256), bit-identical to src/cipher. */
export async function encryptBytes(key: PageCipherKey, image: Planes<Uint8Array>): Promise<Uint8Array> {
  if (key.kind !== 'hill256') throw new PageKeyError(`encryptBytes needs a hill256 key, this is ${key.kind}`);
  checkFits(key, image);
  const perm = await blockPermutation(key, image.height / key.k, image.width / key.k);
  return apply(key, image, perm, 1, new Uint8Array(image.data.length), (v) => v % 256);
}

/** Real kinds: pixel bytes in, the float32 ciphertext of pixels/255 out (src/cipher's encryptPixels). */
export async function encryptReal(key: PageCipherKey, image: Planes<Uint8Array>): Promise<Float32Array> {
  if (key.kind === 'hill256') throw new PageKeyError('encryptReal needs a uniform or orthogonal key; use encryptBytes for hill256');
  checkFits(key, image);
  const perm = await blockPermutation(key, image.height / key.k, image.width / key.k);
  // Math.fround(b / 255) is what src/cipher's float32 division gives; the products then run in float64.
  const planes = { ...image, data: Float32Array.from(image.data, (b) => Math.fround(b / 255)) };
  return apply(key, planes, perm, 1, new Float32Array(image.data.length), (v) => v);
}
