/**
 * Deterministic keyed randomness: the ChaCha20 keystream (RFC 8439) from
 * node:crypto, i.e. ChaCha20 encryption of zeros.
 *
 * Node's 'chacha20' cipher takes a 16-byte IV laid out as
 *   counter (4 bytes, little-endian) || nonce (12 bytes)
 * which is exactly the RFC 8439 state words 12..15.
 *
 * A KeyedStream is keyed by a 32-byte key and a label; the label is hashed
 * into the 96-bit nonce, and the block counter starts at 0. The same key and
 * label always give the same sequence; different labels give independent
 * sequences (distinct nonces, up to a 2^-96-scale hash collision).
 * Use a dedicated key (e.g. `decoyKey`) for each purpose, never a sealing key.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { assertKey } from './tier-keys.ts';
import { StreamSampler } from './stream-sampler.ts';

const BLOCK_BYTES = 64;
/** A 32-bit block counter covers 2^32 blocks of 64 bytes. */
const MAX_STREAM_BYTES = 2 ** 32 * BLOCK_BYTES;
const POOL_BYTES = 16 * 1024;
const TWO_POW_32 = 2 ** 32;

/**
 * Raw ChaCha20 keystream: `n` bytes starting at block `counter` with the
 * 12-byte `nonce`. Low-level; exported for known-answer tests and KeyedStream.
 */
export function chacha20Keystream(key: Uint8Array, counter: number, nonce12: Uint8Array, n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (n > (TWO_POW_32 - counter) * BLOCK_BYTES) {
    throw new RangeError('ChaCha20 keystream request would overflow the 32-bit block counter');
  }
  const cipher = chachaCipher(key, counter, nonce12);
  return new Uint8Array(cipher.update(new Uint8Array(n)));
}

function chachaCipher(key: Uint8Array, counter: number, nonce12: Uint8Array) {
  assertKey(key, 'stream key');
  if (!Number.isInteger(counter) || counter < 0 || counter >= TWO_POW_32) {
    throw new RangeError(`counter must be an integer in [0, 2^32), got ${counter}`);
  }
  if (nonce12.length !== 12) throw new RangeError(`nonce must be 12 bytes, got ${nonce12.length}`);
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(0, counter, true);
  iv.set(nonce12, 4);
  return createCipheriv('chacha20', key, iv);
}

/** The 12-byte ChaCha20 nonce of a stream label. */
export function streamNonce(label: string | Uint8Array): Uint8Array {
  const h = createHash('sha256');
  h.update('nnlock stream nonce v1\0');
  h.update(typeof label === 'string' ? new TextEncoder().encode(label) : label);
  return new Uint8Array(h.digest().subarray(0, 12));
}

/** ChaCha20's keystream as draws (uniform, normal, int, permutation: src/crypto/stream-sampler.ts). */
export class KeyedStream extends StreamSampler {
  private readonly cipher: ReturnType<typeof createCipheriv>;
  private pool: Buffer = Buffer.alloc(0);
  private pos = 0;
  private produced = 0;

  constructor(key: Uint8Array, label: string | Uint8Array) {
    super();
    this.cipher = chachaCipher(key, 0, streamNonce(label));
  }

  private keystream(n: number): Buffer {
    if (this.produced + n > MAX_STREAM_BYTES) {
      throw new RangeError('KeyedStream exhausted (2^32 ChaCha20 blocks); use another label');
    }
    this.produced += n;
    return this.cipher.update(Buffer.alloc(n));
  }

  /** Next `n` bytes of the stream. */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
    const out = new Uint8Array(n);
    let off = 0;
    const avail = this.pool.length - this.pos;
    if (avail > 0) {
      const take = Math.min(avail, n);
      out.set(this.pool.subarray(this.pos, this.pos + take), 0);
      this.pos += take;
      off = take;
    }
    const rest = n - off;
    if (rest >= POOL_BYTES) {
      out.set(this.keystream(rest), off);
    } else if (rest > 0) {
      this.refill();
      out.set(this.pool.subarray(0, rest), off);
      this.pos = rest;
    }
    return out;
  }

  private refill(): void {
    this.pool = this.keystream(POOL_BYTES);
    this.pos = 0;
  }

  /** Next 32-bit unsigned integer (4 stream bytes, little-endian). */
  uint32(): number {
    if (this.pool.length - this.pos < 4) {
      if (this.pool.length - this.pos > 0) {
        const b = this.bytes(4);
        return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
      }
      this.refill();
    }
    const v = this.pool.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
}
