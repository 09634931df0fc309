// The ChaCha20 keystream (RFC 8439) in plain TypeScript, for the browser: WebCrypto has SHA-256
// and HKDF but no ChaCha20, and the cipher keys of src/cipher are drawn from ChaCha20 streams
// (src/crypto/keyed-stream.ts, which uses node:crypto's 'chacha20'). Same state layout as node's:
// words 12..15 are the 32-bit block counter (little-endian) and the 96-bit nonce.
//
// No imports: this file runs in the page, in node, and could serve src/crypto too.

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** One 64-byte ChaCha20 block of the state (key, counter, nonce), written into `out`. */
function block(key: Uint32Array, counter: number, nonce: Uint32Array, out: Uint8Array): void {
  const s = new Uint32Array(16);
  s.set(SIGMA, 0);
  s.set(key, 4);
  s[12] = counter >>> 0;
  s.set(nonce, 13);
  const x = Uint32Array.from(s);
  const quarter = (a: number, b: number, c: number, d: number) => {
    x[a] = (x[a] + x[b]) | 0;
    x[d] = rotl(x[d] ^ x[a], 16);
    x[c] = (x[c] + x[d]) | 0;
    x[b] = rotl(x[b] ^ x[c], 12);
    x[a] = (x[a] + x[b]) | 0;
    x[d] = rotl(x[d] ^ x[a], 8);
    x[c] = (x[c] + x[d]) | 0;
    x[b] = rotl(x[b] ^ x[c], 7);
  };
  for (let i = 0; i < 10; i++) {
    quarter(0, 4, 8, 12);
    quarter(1, 5, 9, 13);
    quarter(2, 6, 10, 14);
    quarter(3, 7, 11, 15);
    quarter(0, 5, 10, 15);
    quarter(1, 6, 11, 12);
    quarter(2, 7, 8, 13);
    quarter(3, 4, 9, 14);
  }
  const view = new DataView(out.buffer, out.byteOffset, 64);
  for (let i = 0; i < 16; i++) view.setUint32(i * 4, (x[i] + s[i]) >>> 0, true);
}

function words(bytes: Uint8Array, count: number, what: string): Uint32Array {
  if (bytes.length !== count * 4) throw new RangeError(`ChaCha20 ${what} must be ${count * 4} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = new Uint32Array(count);
  for (let i = 0; i < count; i++) w[i] = view.getUint32(i * 4, true);
  return w;
}

/** A ChaCha20 keystream read front to back: the bytes node's createCipheriv('chacha20') gives for zeros. */
export class ChaCha20Stream {
  private readonly key: Uint32Array;
  private readonly nonce: Uint32Array;
  private counter: number;
  private readonly buf = new Uint8Array(64);
  private pos = 64;

  constructor(key: Uint8Array, nonce12: Uint8Array, counter = 0) {
    this.key = words(key, 8, 'key');
    this.nonce = words(nonce12, 3, 'nonce');
    if (!Number.isInteger(counter) || counter < 0 || counter >= 2 ** 32) throw new RangeError(`counter must be an integer in [0, 2^32), got ${counter}`);
    this.counter = counter;
  }

  /** The next `n` keystream bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.byte();
    return out;
  }

  byte(): number {
    if (this.pos === 64) {
      if (this.counter >= 2 ** 32) throw new RangeError('ChaCha20 keystream exhausted (2^32 blocks)');
      block(this.key, this.counter++, this.nonce, this.buf);
      this.pos = 0;
    }
    return this.buf[this.pos++];
  }

  /** The next 4 bytes as a little-endian unsigned integer. */
  uint32(): number {
    if (this.pos <= 60) {
      const b = this.buf;
      const p = this.pos;
      this.pos += 4;
      return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
    }
    return (this.byte() | (this.byte() << 8) | (this.byte() << 16) | (this.byte() << 24)) >>> 0;
  }
}
