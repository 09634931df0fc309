// Turning a stream of 32-bit words into the draws nnlock's keyed randomness needs: uniform doubles,
// Box–Muller normals, unbiased integers, shuffles and permutations. One implementation for both
// sides of the cipher: KeyedStream (src/crypto/keyed-stream.ts, node:crypto's ChaCha20) on the
// server, PageKeyedStream (src/web/browser/cipher.ts, plain-TypeScript ChaCha20) in the page. The
// derived keys must be bit-identical on both, so the arithmetic lives here once.
//
// Pure: no imports, no node: modules (the layering check holds this file to it), so the page can
// use it. The normals' log, cos and sin are passed in: node's Math is V8's fdlibm port; a browser's
// Math may differ in the last bit, so the page passes fdlibm's functions (src/web/browser/fdlibm.ts).

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

/** The elementary functions Box–Muller needs; Math's by default. */
export interface SamplerMath {
  log(x: number): number;
  cos(x: number): number;
  sin(x: number): number;
}

export abstract class StreamSampler {
  constructor(private readonly math: SamplerMath = Math) {}

  /** Next 32-bit unsigned integer of the stream (4 bytes, little-endian). */
  abstract uint32(): number;

  /** One double in [0, 1) with 53 random bits. */
  private nextUniform(): number {
    const a = this.uint32() >>> 5; // 27 bits
    const b = this.uint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /** `n` doubles uniform in [0, 1), 53 random bits each. */
  uniform(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextUniform();
    return out;
  }

  /** `n` standard normal samples (Box–Muller). */
  normal(n: number): Float64Array {
    const { log, cos, sin } = this.math;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i += 2) {
      // 1 - u lies in (0, 1], so the logarithm is finite.
      const u1 = 1 - this.nextUniform();
      const u2 = this.nextUniform();
      const r = Math.sqrt(-2 * log(u1));
      const theta = 2 * Math.PI * u2;
      out[i] = r * cos(theta);
      if (i + 1 < n) out[i + 1] = r * sin(theta);
    }
    return out;
  }

  /** One unbiased integer in [0, maxExclusive), maxExclusive in [1, 2^32]. */
  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > TWO_POW_32) {
      throw new RangeError(`maxExclusive must be an integer in [1, 2^32], got ${maxExclusive}`);
    }
    if (maxExclusive === TWO_POW_32) return this.uint32();
    // Rejection sampling: accept only below the largest multiple of maxExclusive.
    const limit = TWO_POW_32 - (TWO_POW_32 % maxExclusive);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % maxExclusive;
  }

  /** `n` unbiased integers in [0, maxExclusive), maxExclusive in [1, 2^32]. */
  randint(n: number, maxExclusive: number): Uint32Array {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(maxExclusive);
    return out;
  }

  /** Shuffles `arr` in place (Fisher–Yates) and returns it. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = tmp;
    }
    return arr;
  }

  /** A random permutation of 0..n-1 (Fisher–Yates from the identity). */
  permutation(n: number): Uint32Array {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }
}
