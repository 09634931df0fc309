// A small seeded PRNG for data order, augmentation and synthetic noise: xoshiro128** seeded
// through splitmix32. It is for reproducibility, NOT for cryptography (keys and decoys use
// node:crypto elsewhere).
//
// A generator is seeded from several integers (seed, stream, epoch, batch, ...), so every batch of
// every epoch has its own independent stream: a batch is reproducible on its own, whichever thread
// builds it and whether or not the epochs before it ran (resuming needs exactly that).

/** splitmix32 step: a good 32-bit mixer, used to expand seeds into state. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Splits an integer up to 2^53 into its low and high 32-bit words (negative numbers wrap). */
function words(n: number): [number, number] {
  if (!Number.isSafeInteger(n)) throw new RangeError(`rng: seed parts must be safe integers, got ${n}`);
  const lo = n >>> 0;
  const hi = Math.floor(n / 2 ** 32) >>> 0;
  return [lo, hi];
}

export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  // Box-Muller makes normals in pairs; a number plus a flag (not number | null) keeps it monomorphic.
  private spare = 0;
  private hasSpare = false;

  constructor(...seedParts: number[]) {
    // Fold every part (both words) into a running hash; then derive four state words from it.
    let h = 0x6a09e667;
    for (const p of seedParts) {
      for (const w of words(p)) h = mix32(h ^ w);
      h = mix32(h + 0x632be59b);
    }
    this.a = mix32(h);
    this.b = mix32(this.a ^ 0x1b873593);
    this.c = mix32(this.b ^ 0xcc9e2d51);
    this.d = mix32(this.c ^ 0x85ebca77);
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // all-zero state never moves
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1), 53 bits of precision. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), n ≤ 2^32, without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new RangeError(`rng.int: n must be an integer in 1..2^32, got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n); // largest multiple of n that fits
    let x: number;
    do x = this.nextU32();
    while (x >= limit);
    return x % n;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * Standard normal (Box-Muller; the second value of each pair is kept for the next call). Uses
   * 32-bit uniforms: ample for noise and data augmentation, and twice as fast as 53-bit ones.
   */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u = (this.nextU32() + 1) / 4294967296; // (0, 1]: log(0) would be -Infinity
    const v = this.nextU32() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles in place (Fisher-Yates) and returns the array. */
  shuffle<T extends { length: number; [i: number]: any }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
