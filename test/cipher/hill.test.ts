// Encryption and decryption of image tensors: the block layout against a plain JavaScript
// reference, round trips (exact for hill256, ≤ 1e-5 relative for real keys), shuffling, and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, manualSeed, scope } from '../../src/tensor/index.ts';
import { cat, narrow } from '../../src/ops/shape.ts';
import { rand, randint } from '../../src/ops/creation.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { abs, mul, sub } from '../../src/ops/arithmetic.ts';
import { max, min, norm } from '../../src/ops/reduction.ts';
import { equal } from '../../src/ops/compare.ts';
import { type CipherKey, CipherKeyError, blockPermutation, deriveKey } from '../../src/cipher/key.ts';
import { BlockCipher, cipherChunkImages, decryptTensor, encryptTensor } from '../../src/cipher/hill.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const secret = new Uint8Array(32).map((_, i) => (i * 37 + 11) % 256);

/** ‖a − b‖ / ‖b‖ over the whole tensor. */
function relError(a: Tensor, b: Tensor): number {
  return scope(() => norm(sub(toDtype(a, 'float64'), toDtype(b, 'float64'))).item() / norm(toDtype(b, 'float64')).item());
}

/** The cipher by definition, in plain JavaScript: block (r, c) of channel ch, row-major, times K. */
function referenceEncrypt(x: number[], shape: number[], key: CipherKey): number[] {
  const [n, ch, h, w] = shape;
  const k = key.k;
  const kk = k * k;
  const gh = h / k;
  const gw = w / k;
  const perm = blockPermutation(key, gh, gw);
  const out = new Array<number>(x.length).fill(0);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < ch; c++) {
      const m = key.matrices[c];
      for (let p = 0; p < gh * gw; p++) {
        const src = perm ? perm[p] : p; // ciphertext position p holds plaintext block src
        const sr = Math.floor(src / gw),
          sc = src % gw;
        const dr = Math.floor(p / gw),
          dc = p % gw;
        const block: number[] = [];
        for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) block.push(x[((i * ch + c) * h + sr * k + a) * w + sc * k + b]);
        for (let j = 0; j < kk; j++) {
          let s = 0;
          for (let l = 0; l < kk; l++) s += block[l] * m[l * kk + j];
          if (key.kind === 'hill256') s = ((s % 256) + 256) % 256;
          out[((i * ch + c) * h + dr * k + Math.floor(j / k)) * w + dc * k + (j % k)] = s;
        }
      }
    }
  }
  return out;
}

test('encryption is y = x·K per row-major k×k block and channel (and the permutation when shuffled)', () => {
  manualSeed(1);
  for (const kind of ['uniform', 'orthogonal', 'hill256'] as const) {
    for (const shuffle of [false, true]) {
      const key = deriveKey(secret, { kind, k: 2, channels: 2, shuffle });
      scope(() => {
        const shape = [2, 2, 4, 6];
        const x = kind === 'hill256' ? toDtype(randint(0, 256, shape), 'uint8') : rand(shape, { dtype: 'float64' });
        const want = referenceEncrypt(x.toArray(), shape, key);
        for (const algorithm of ['conv', 'bmm'] as const) {
          const cipher = new BlockCipher(key, { algorithm });
          try {
            const got = cipher.encrypt(x).toArray();
            const tol = kind === 'hill256' ? 0 : 1e-12;
            for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${kind} ${algorithm} shuffle=${shuffle}: element ${i}: ${got[i]} vs ${want[i]}`);
          } finally {
            cipher.dispose();
          }
        }
      });
    }
  }
});

test('the conv and bmm formulations agree (bit for bit for hill256), with and without shuffle', () => {
  manualSeed(6);
  for (const kind of ['uniform', 'orthogonal', 'hill256'] as const) {
    for (const shuffle of [false, true]) {
      const key = deriveKey(secret, { kind, k: 4, channels: 3, shuffle });
      const conv = new BlockCipher(key, { algorithm: 'conv' });
      const mm = new BlockCipher(key, { algorithm: 'bmm' });
      try {
        scope(() => {
          const x = kind === 'hill256' ? toDtype(randint(0, 256, [3, 3, 16, 24]), 'uint8') : rand([3, 3, 16, 24]);
          const a = conv.encrypt(x);
          const b = mm.encrypt(x);
          if (kind === 'hill256') assert.ok(equal(a, b), `${kind} shuffle=${shuffle}`);
          else assert.ok(relError(a, b) < 1e-6, `${kind} shuffle=${shuffle}: ${relError(a, b)}`);
          // Each decrypts the other's ciphertext.
          if (kind === 'hill256') assert.ok(equal(mm.decrypt(a), x) && equal(conv.decrypt(b), x));
          else assert.ok(relError(mm.decrypt(a), x) < 1e-5 && relError(conv.decrypt(b), x) < 1e-5);
        });
      } finally {
        conv.dispose();
        mm.dispose();
      }
    }
  }
});

test('hill256: exact round trips on random bytes; ciphertext is uint8 0..255 (k = 4 and 8, with and without shuffle)', () => {
  manualSeed(2);
  for (const [k, size] of [
    [4, 32],
    [8, 64],
  ] as const) {
    for (const shuffle of [false, true]) {
      const cipher = new BlockCipher(deriveKey(secret, { kind: 'hill256', k, channels: 3, shuffle }));
      try {
        scope(() => {
          const x = toDtype(randint(0, 256, [5, 3, size, size]), 'uint8');
          const y = cipher.encrypt(x);
          assert.equal(y.dtype, 'uint8');
          assert.deepEqual(y.shape, x.shape);
          assert.ok(!equal(x, y));
          assert.ok(equal(cipher.decrypt(y), x), `k=${k} shuffle=${shuffle}: exact`);
          // Floating tensors holding bytes work too, and give the same bytes.
          const yf = cipher.encrypt(toDtype(x, 'float32'));
          assert.equal(yf.dtype, 'float32');
          assert.ok(equal(toDtype(yf, 'uint8'), y));
          assert.ok(min(yf).item() >= 0 && max(yf).item() <= 255);
          assert.ok(equal(cipher.decrypt(yf), toDtype(x, 'float32')));
        });
      } finally {
        cipher.dispose();
      }
    }
  }
});

test('uniform and orthogonal: round trips within 1e-5 relative error (float32), ~1e-13 (float64)', () => {
  manualSeed(3);
  for (const kind of ['uniform', 'orthogonal'] as const) {
    for (const [k, size] of [
      [4, 32],
      [8, 64],
    ] as const) {
      for (const shuffle of [false, true]) {
        const cipher = new BlockCipher(deriveKey(secret, { kind, k, channels: 3, shuffle }));
        try {
          scope(() => {
            const x = rand([6, 3, size, size]);
            const y = cipher.encrypt(x);
            assert.equal(y.dtype, 'float32');
            assert.ok(relError(y, x) > 0.1, 'the ciphertext differs from the plaintext');
            const e = relError(cipher.decrypt(y), x);
            assert.ok(e <= 1e-5, `${kind} k=${k} shuffle=${shuffle}: relative error ${e}`);
            const x64 = toDtype(x, 'float64');
            const e64 = relError(cipher.decrypt(cipher.encrypt(x64)), x64);
            assert.ok(e64 <= 1e-12, `${kind} float64: ${e64}`);
          });
        } finally {
          cipher.dispose();
        }
      }
    }
  }
});

test("orthogonal keys preserve each block's norm; shuffling moves blocks but keeps the multiset", () => {
  manualSeed(4);
  const plain = deriveKey(secret, { kind: 'orthogonal', k: 4, channels: 1 });
  const shuffled = deriveKey(secret, { kind: 'orthogonal', k: 4, channels: 1, shuffle: true });
  scope(() => {
    const x = rand([1, 1, 16, 16]);
    const a = encryptTensor(x, plain);
    const b = encryptTensor(x, shuffled);
    assert.ok(Math.abs(norm(a).item() - norm(x).item()) < 1e-4);
    assert.ok(!equal(a, b), 'positions differ');
    const sortRows = (t: Tensor) => {
      const v = t.toArray();
      const blocks: string[] = [];
      for (let r = 0; r < 4; r++)
        for (let c = 0; c < 4; c++) {
          const blk: number[] = [];
          for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) blk.push(Math.round(v[(r * 4 + i) * 16 + c * 4 + j] * 1e4));
          blocks.push(blk.join(','));
        }
      return blocks.sort();
    };
    assert.deepEqual(sortRows(a), sortRows(b), 'same encrypted blocks, other places');
  });
});

test('batches larger than one chunk: the chunked conv path matches bmm and round-trips, also for a part-filled last chunk', () => {
  manualSeed(8);
  // 32×32×3 float32 is 12 KiB an image: several chunks, the last one partly filled.
  const n = 2 * cipherChunkImages(3, 32, 32) + 7;
  assert.ok(cipherChunkImages(3, 32, 32) > 1 && cipherChunkImages(3, 512, 512) === 1);
  for (const kind of ['orthogonal', 'hill256'] as const) {
    const key = deriveKey(secret, { kind, k: 4, channels: 3, shuffle: kind === 'hill256' });
    const conv = new BlockCipher(key, { algorithm: 'conv' });
    const mm = new BlockCipher(key, { algorithm: 'bmm' });
    try {
      scope(() => {
        const x = kind === 'hill256' ? toDtype(randint(0, 256, [n, 3, 32, 32]), 'uint8') : rand([n, 3, 32, 32]);
        const a = conv.encrypt(x);
        const b = mm.encrypt(x);
        assert.deepEqual(a.shape, [n, 3, 32, 32]);
        assert.equal(a.dtype, x.dtype);
        if (kind === 'hill256') assert.ok(equal(a, b) && equal(conv.decrypt(a), x), kind);
        else assert.ok(relError(a, b) < 1e-6 && relError(conv.decrypt(a), x) < 1e-5, `${kind}: ${relError(a, b)}`);
        // The last image, encrypted on its own, is what the last chunk wrote.
        const last = conv.encrypt(narrow(x, 0, n - 1, 1));
        assert.ok(equal(last, narrow(a, 0, n - 1, 1)), `${kind}: last image`);
      });
    } finally {
      conv.dispose();
      mm.dispose();
    }
  }
});

test('the same key encrypts the same way on every call and every batch split', () => {
  manualSeed(5);
  const key = deriveKey(secret, { kind: 'uniform', k: 4, channels: 3, shuffle: true });
  scope(() => {
    const x = rand([4, 3, 32, 32]);
    const whole = encryptTensor(x, key);
    const again = encryptTensor(x, key);
    assert.ok(equal(whole, again));
    const halves = cat([encryptTensor(narrow(x, 0, 0, 2), key), encryptTensor(narrow(x, 0, 2, 2), key)], 0);
    assert.ok(equal(halves, whole), 'a batch split encrypts identically');
    const dec = decryptTensor(whole, key);
    assert.ok(relError(dec, x) < 1e-5);
  });
});

test('errors: image size not a multiple of k, wrong channels, wrong dtype, wrong rank, non-byte hill256 input', () => {
  const u = deriveKey(secret, { kind: 'uniform', k: 4, channels: 3 });
  const h = deriveKey(secret, { kind: 'hill256', k: 4, channels: 3 });
  scope(() => {
    assert.throws(() => encryptTensor(rand([1, 3, 30, 32]), u), /image size 30×32 is not a multiple of the block size k=4/);
    assert.throws(() => encryptTensor(rand([1, 1, 32, 32]), u), /the key has 3 channel matrices but the image has 1 channels/);
    assert.throws(() => encryptTensor(rand([3, 32, 32]), u), /expected images \[N, C, H, W\]/);
    assert.throws(() => encryptTensor(toDtype(randint(0, 256, [1, 3, 8, 8]), 'uint8'), u), /works on float32 or float64 images, got uint8 \(convert bytes/);
    assert.throws(
      () => encryptTensor(rand([1, 3, 8, 8]), h),
      (e: Error) => e instanceof CipherKeyError && /byte values 0\.\.255.*not whole numbers/.test(e.message),
    );
    assert.throws(() => encryptTensor(mul(rand([1, 3, 8, 8]), 300), h), /values span/);
    assert.throws(() => decryptTensor(rand([1, 3, 9, 12]), h), /image size 9×12 is not a multiple/);
  });
});

test('works on zero images and keeps the input untouched', () => {
  const key = deriveKey(secret, { kind: 'hill256', k: 4, channels: 3 });
  scope(() => {
    const empty = toDtype(randint(0, 256, [0, 3, 8, 8]), 'uint8');
    assert.deepEqual(encryptTensor(empty, key).shape, [0, 3, 8, 8]);
    const x = toDtype(randint(0, 256, [2, 3, 8, 8]), 'uint8');
    const before = x.toArray();
    encryptTensor(x, key);
    assert.deepEqual(x.toArray(), before);
    // abs of a difference is 0 only when nothing moved: a sanity check that the key is not identity
    assert.ok(max(abs(sub(toDtype(encryptTensor(x, key), 'float32'), toDtype(x, 'float32')))).item() > 0);
  });
});

test('leaks no tensors', checkLeaks);
