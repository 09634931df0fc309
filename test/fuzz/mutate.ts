// Seeded mutations of a valid input, for the fuzz harness. Each mutation is one of: bit flips,
// random byte changes, byte changes at the input's structure-aware positions ("hotspots": a header
// length, JSON numbers, record starts, chunk lengths), numbers in text replaced by hostile ones,
// truncations, extensions and duplicated regions. Mutation i of seed s is always the same bytes.
import { Rng } from '../../src/data/rng.ts';

export interface Mutation {
  bytes: Uint8Array;
  /** What was done, for a failure message that can be reproduced by hand. */
  what: string;
}

/** Numbers a parser must not trust: huge, negative, fractional, non-finite, overflowing. */
const HOSTILE_NUMBERS = [
  '0',
  '-1',
  '1',
  '2',
  '255',
  '256',
  '65536',
  '4294967296',
  '9007199254740993',
  '18446744073709551615',
  '1e308',
  '1e999',
  '-0',
  '0.5',
  '3.000001',
  'NaN',
  '""',
  'null',
  '[]',
  '{}',
];
const HOSTILE_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x22, 0x7b, 0x7d, 0x5b, 0x2c, 0x0a];

/** Byte ranges of ASCII digits (number tokens) in the text-like part of an input. */
function numberRuns(bytes: Uint8Array, limit: number): [number, number][] {
  const runs: [number, number][] = [];
  const end = Math.min(bytes.length, limit);
  for (let i = 0; i < end; i++) {
    if (bytes[i] >= 0x30 && bytes[i] <= 0x39) {
      let j = i;
      while (j < end && ((bytes[j] >= 0x30 && bytes[j] <= 0x39) || bytes[j] === 0x2e || bytes[j] === 0x2d || bytes[j] === 0x65)) j++;
      runs.push([i, j]);
      i = j;
    }
  }
  return runs;
}

function splice(a: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length - remove + insert.length);
  out.set(a.subarray(0, at), 0);
  out.set(insert, at);
  out.set(a.subarray(at + remove), at + insert.length);
  return out;
}

/**
 * Mutation `index` of `valid` under `seed`. `hotspots` are offsets worth hitting; `textLimit`
 * bounds where number tokens are looked for (e.g. the end of a JSON header).
 */
export function mutate(valid: Uint8Array, seed: number, index: number, hotspots: readonly number[], textLimit = valid.length): Mutation {
  const rng = new Rng(seed, index);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const pos = (n = valid.length) => rng.int(Math.max(1, n));
  const b = valid.slice();
  const op = rng.int(9);
  switch (op) {
    case 0: {
      const flips = 1 + rng.int(4);
      const at: number[] = [];
      for (let f = 0; f < flips; f++) {
        const p = pos();
        b[p] ^= 1 << rng.int(8);
        at.push(p);
      }
      return { bytes: b, what: `bit flips at ${at.join(',')}` };
    }
    case 1: {
      const p = pos();
      b[p] = rng.int(256);
      return { bytes: b, what: `random byte ${b[p]} at ${p}` };
    }
    case 2:
    case 3: {
      if (hotspots.length === 0) break;
      const p = Math.min(pick(hotspots), b.length - 1);
      const v = rng.int(2) ? pick(HOSTILE_BYTES) : (b[p] + (rng.int(2) ? 1 : 255)) & 255;
      b[p] = v;
      return { bytes: b, what: `hotspot byte ${v} at ${p}` };
    }
    case 4: {
      const runs = numberRuns(valid, textLimit);
      if (runs.length === 0) break;
      const [s, e] = pick(runs);
      const n = pick(HOSTILE_NUMBERS);
      return { bytes: splice(valid, s, e - s, new TextEncoder().encode(n)), what: `number at ${s}..${e} → ${n}` };
    }
    case 5: {
      const keep = rng.int(3) === 0 && hotspots.length ? Math.min(pick(hotspots), valid.length - 1) : pos();
      return { bytes: valid.slice(0, keep), what: `truncated to ${keep}` };
    }
    case 6: {
      const n = 1 + rng.int(rng.int(2) ? 16 : 4096);
      const extra = new Uint8Array(n);
      if (rng.int(2)) for (let i = 0; i < n; i++) extra[i] = rng.int(256);
      return { bytes: splice(valid, valid.length, 0, extra), what: `extended by ${n}` };
    }
    case 7: {
      const s = pos();
      const len = 1 + rng.int(Math.min(256, valid.length - s));
      const at = pos(valid.length + 1);
      return { bytes: splice(valid, at, 0, valid.slice(s, s + len)), what: `region ${s}+${len} duplicated at ${at}` };
    }
    default: {
      const s = pos();
      const len = 1 + rng.int(Math.min(64, valid.length - s));
      return { bytes: splice(valid, s, len, new Uint8Array(0)), what: `removed ${s}+${len}` };
    }
  }
  // Fallback when an input has no hotspots or numbers: one random byte.
  const p = pos();
  b[p] ^= 0xff;
  return { bytes: b, what: `inverted byte at ${p} (op ${op} not applicable)` };
}
