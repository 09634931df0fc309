import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedStream, chacha20Keystream } from '../../src/crypto/keyed-stream.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const KEY = new Uint8Array(32).map((_, i) => i);

test('ChaCha20 known answer: RFC 8439 section 2.3.2 block (counter 1)', () => {
  // Source: RFC 8439, "ChaCha20 and Poly1305 for IETF Protocols", 2.3.2.
  const nonce = hex('000000090000004a00000000');
  const want = '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e' + 'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e';
  assert.equal(toHex(chacha20Keystream(KEY, 1, nonce, 64)), want);
  // Streaming from counter 0 reaches the same block at byte 64.
  assert.equal(toHex(chacha20Keystream(KEY, 0, nonce, 128).subarray(64)), want);
});

test('ChaCha20 known answer: RFC 8439 appendix A.1 test vector #1 (counter 0)', () => {
  // Source: RFC 8439, A.1, Test Vector #1: all-zero key and nonce, block counter 0.
  const want = '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' + 'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586';
  assert.equal(toHex(chacha20Keystream(new Uint8Array(32), 0, new Uint8Array(12), 64)), want);
});

test('chacha20Keystream validates its arguments', () => {
  assert.throws(() => chacha20Keystream(KEY.subarray(1), 0, new Uint8Array(12), 1));
  assert.throws(() => chacha20Keystream(KEY, 0, new Uint8Array(16), 1), RangeError);
  assert.throws(() => chacha20Keystream(KEY, -1, new Uint8Array(12), 1), RangeError);
  assert.throws(() => chacha20Keystream(KEY, 2 ** 32 - 1, new Uint8Array(12), 65), RangeError);
});

test('KeyedStream: same key+label gives the same sequence regardless of chunking', () => {
  const a = new KeyedStream(KEY, 'decoys/conv1');
  const b = new KeyedStream(KEY, 'decoys/conv1');
  const whole = a.bytes(70_000);
  const parts: Uint8Array[] = [];
  for (const n of [1, 3, 60, 4, 16_384, 20_000, 0, 33_548]) parts.push(b.bytes(n));
  assert.deepEqual(Buffer.concat(parts), Buffer.from(whole));
  // uint32 reads the same bytes little-endian, including across pool edges.
  const c = new KeyedStream(KEY, 'decoys/conv1');
  c.bytes(16_382);
  const v = c.uint32();
  assert.equal(v, Buffer.from(whole).readUInt32LE(16_382));
  assert.equal(c.uint32(), Buffer.from(whole).readUInt32LE(16_386));
  // And it is ChaCha20 counter 0 with the label's nonce.
  assert.deepEqual(new KeyedStream(KEY, 'x').uniform(5), new KeyedStream(KEY, 'x').uniform(5));
  assert.deepEqual(new KeyedStream(KEY, 'x').normal(5), new KeyedStream(KEY, 'x').normal(5));
});

test('KeyedStream: labels and keys separate streams', () => {
  const a = new KeyedStream(KEY, 'conv1').bytes(64);
  assert.notDeepEqual(new KeyedStream(KEY, 'conv2').bytes(64), a);
  assert.notDeepEqual(new KeyedStream(KEY, 'conv1 ').bytes(64), a);
  assert.deepEqual(new KeyedStream(KEY, new TextEncoder().encode('conv1')).bytes(64), a);
  const k2 = KEY.slice();
  k2[0] ^= 1;
  assert.notDeepEqual(new KeyedStream(k2, 'conv1').bytes(64), a);
});

function meanVar(x: ArrayLike<number>): [number, number] {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const m = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - m) ** 2;
  return [m, v / x.length];
}

test('uniform: in [0,1), mean 1/2 and variance 1/12 over 100k draws', () => {
  const u = new KeyedStream(KEY, 'uniform').uniform(100_000);
  let min = 1;
  let max = 0;
  for (const x of u) {
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  assert.ok(min >= 0 && max < 1);
  const [m, v] = meanVar(u);
  // sd of the mean = sqrt(1/12/1e5) ~ 0.0009: allow ~5 sd.
  assert.ok(Math.abs(m - 0.5) < 0.005, `mean ${m}`);
  assert.ok(Math.abs(v - 1 / 12) < 0.002, `variance ${v}`);
  // 53-bit resolution: some values use bits below 2^-32.
  assert.ok(u.some((x) => (x * 2 ** 32) % 1 !== 0));
});

test('normal: mean ~0, variance ~1, finite, odd length', () => {
  const z = new KeyedStream(KEY, 'normal').normal(100_001);
  assert.equal(z.length, 100_001);
  assert.ok(z.every(Number.isFinite));
  const [m, v] = meanVar(z);
  assert.ok(Math.abs(m) < 0.02, `mean ${m}`);
  assert.ok(Math.abs(v - 1) < 0.03, `variance ${v}`);
  let within1 = 0;
  for (const x of z) if (Math.abs(x) < 1) within1++;
  assert.ok(Math.abs(within1 / z.length - 0.6827) < 0.01);
});

test('randint: range and rough uniformity; edge bounds', () => {
  const s = new KeyedStream(KEY, 'randint');
  const k = 10;
  const r = s.randint(100_000, k);
  const counts = new Array<number>(k).fill(0);
  for (const x of r) {
    assert.ok(Number.isInteger(x) && x >= 0 && x < k);
    counts[x]!++;
  }
  // expected 10000 each, sd ~95: allow 6 sd; also a chi-square sanity bound (df 9, p<1e-6 ~ 42).
  let chi2 = 0;
  for (const c of counts) {
    assert.ok(Math.abs(c - 10_000) < 600, `count ${c}`);
    chi2 += (c - 10_000) ** 2 / 10_000;
  }
  assert.ok(chi2 < 42, `chi2 ${chi2}`);
  assert.ok(s.randint(100, 1).every((x) => x === 0));
  // A bound just above 2^31 rejects about half the draws; still in range.
  const big = 2 ** 31 + 1;
  assert.ok(s.randint(1000, big).every((x) => x < big));
  assert.equal(s.randint(10, 2 ** 32).length, 10);
  assert.throws(() => s.randint(1, 0), RangeError);
  assert.throws(() => s.randint(1, 2 ** 32 + 1), RangeError);
  assert.throws(() => s.randint(1, 2.5), RangeError);
});

test('shuffle is a deterministic permutation; permutation(n) too', () => {
  const arr = Array.from({ length: 1000 }, (_, i) => i);
  const s1 = new KeyedStream(KEY, 'shuffle').shuffle(arr.slice());
  const s2 = new KeyedStream(KEY, 'shuffle').shuffle(arr.slice());
  assert.deepEqual(s1, s2);
  assert.notDeepEqual(s1, arr);
  assert.deepEqual(
    s1.slice().sort((a, b) => a - b),
    arr,
  );
  const inPlace = arr.slice();
  assert.equal(new KeyedStream(KEY, 'shuffle').shuffle(inPlace), inPlace);
  assert.deepEqual(new KeyedStream(KEY, 'shuffle').shuffle([]), []);
  assert.deepEqual(new KeyedStream(KEY, 'shuffle').shuffle(['a']), ['a']);
  const p = new KeyedStream(KEY, 'shuffle').permutation(1000);
  assert.deepEqual(Array.from(p), s1); // same draws, same algorithm
  // Rough uniformity of position: element 0 lands in each of 4 quarters about equally.
  const s = new KeyedStream(KEY, 'shuffle-stats');
  const q = [0, 0, 0, 0];
  for (let t = 0; t < 4000; t++) q[Math.floor(s.permutation(8).indexOf(0) / 2)]!++;
  for (const c of q) assert.ok(Math.abs(c - 1000) < 150, `quarter count ${c}`);
});
