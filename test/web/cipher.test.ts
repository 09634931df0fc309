// The page's cipher (src/web/browser/cipher.ts, no node or native imports) against src/cipher in
// node: on many random keys of every kind, block size and channel count, shuffled or not, the key
// file gives the same matrices (bit for bit: the fingerprint matches) and the same ciphertext
// (bit for bit for hill256, within float32 rounding for the real kinds). The browser test
// (browser.test.ts) runs the same module in chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { scope, tensor } from '../../src/tensor/index.ts';
import { type CipherKind, deriveKey as serverDeriveKey, keyFromMatrices } from '../../src/cipher/key.ts';
import { parseKey, serializeKey } from '../../src/cipher/key-file.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptPixels } from '../../src/cipher/data.ts';
import { div } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { ChaCha20Stream } from '../../src/web/browser/chacha20.ts';
import * as fdlibm from '../../src/web/browser/fdlibm.ts';
import { PageKeyError, PageKeyedStream, encryptBytes, encryptReal, keyId, parseKeyFile } from '../../src/web/browser/cipher.ts';
import { chacha20Keystream, KeyedStream } from '../../src/crypto/keyed-stream.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('ChaCha20: RFC 8439 2.3.2 and A.1 known answers, and node:crypto on random keys', () => {
  const key = new Uint8Array(32).map((_, i) => i);
  const nonce = new Uint8Array(Buffer.from('000000090000004a00000000', 'hex'));
  assert.equal(toHex(new ChaCha20Stream(key, nonce, 1).bytes(64)), '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e');
  assert.equal(
    toHex(new ChaCha20Stream(new Uint8Array(32), new Uint8Array(12)).bytes(64)),
    '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586',
  );
  for (let i = 0; i < 20; i++) {
    const k = new Uint8Array(randomBytes(32));
    const n = new Uint8Array(randomBytes(12));
    const s = new ChaCha20Stream(k, n);
    // Read in odd pieces, across block edges, through both readers.
    const got = [...s.bytes(3), ...s.bytes(70)];
    const u = s.uint32();
    const want = chacha20Keystream(k, 0, n, 77);
    assert.deepEqual(got, [...want.subarray(0, 73)]);
    assert.equal(u, Buffer.from(want).readUInt32LE(73));
  }
  assert.throws(() => new ChaCha20Stream(new Uint8Array(31), new Uint8Array(12)), RangeError);
});

test('the page keyed stream matches KeyedStream (uniform, normal, permutation)', async () => {
  const key = new Uint8Array(randomBytes(32));
  const a = await PageKeyedStream.open(key, 'hill-cipher/shuffle/grid=8x8');
  const b = new KeyedStream(key, 'hill-cipher/shuffle/grid=8x8');
  assert.deepEqual(a.uniform(33), b.uniform(33));
  assert.deepEqual(a.normal(17), b.normal(17));
  assert.deepEqual(a.permutation(64), b.permutation(64));
});

/** A random image [C, H, W] of bytes. */
const randomImage = (c: number, h: number, w: number) => new Uint8Array(randomBytes(c * h * w));

function serverEncrypt(keyText: string, img: Uint8Array, c: number, h: number, w: number, hill: boolean, key = parseKey(keyText)): Uint8Array | Float32Array {
  const cipher = new BlockCipher(key);
  try {
    return scope(() => {
      const x = tensor(img, [1, c, h, w]);
      return hill ? (cipher.encrypt(x).toTypedArray() as Uint8Array) : (encryptPixels(div(toDtype(x, 'float32'), 255), cipher).toTypedArray() as Float32Array);
    });
  } finally {
    cipher.dispose();
  }
}

// Sizes: every kind at k = 2, 4, 8 with 1 and 3 channels, shuffled and not; several secrets each.
const CASES: { kind: CipherKind; k: number; channels: number; shuffle: boolean }[] = [];
for (const kind of ['hill256', 'orthogonal', 'uniform'] as const) {
  for (const k of [2, 4, 8]) for (const channels of [1, 3]) for (const shuffle of [false, true]) CASES.push({ kind, k, channels, shuffle });
}

test('many random keys: same matrices (fingerprint) and same ciphertext as src/cipher', async () => {
  let hillImages = 0;
  let worst = 0;
  for (const c of CASES) {
    const secrets = c.kind === 'hill256' ? 4 : c.k === 8 ? 1 : 2;
    for (let s = 0; s < secrets; s++) {
      const server = serverDeriveKey(new Uint8Array(randomBytes(32)), c);
      const text = serializeKey(server);
      const page = await parseKeyFile(text);
      assert.equal(page.fingerprint, server.fingerprint, `${JSON.stringify(c)}: fingerprint`);
      for (let ch = 0; ch < c.channels; ch++) assert.deepEqual(page.matrices[ch], server.matrices[ch]);
      const [h, w] = [c.k * 3, c.k * 5]; // not square, so rows and columns cannot be swapped unnoticed
      const img = randomImage(c.channels, h, w);
      const planes = { data: img, channels: c.channels, height: h, width: w };
      if (c.kind === 'hill256') {
        assert.deepEqual(await encryptBytes(page, planes), serverEncrypt(text, img, c.channels, h, w, true, server), `${JSON.stringify(c)}: ciphertext`);
        hillImages++;
      } else {
        const got = await encryptReal(page, planes);
        const want = serverEncrypt(text, img, c.channels, h, w, false, server) as Float32Array;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      }
    }
  }
  assert.ok(hillImages >= 40, `${hillImages} hill256 images compared`);
  assert.ok(worst < 1e-5, `real kinds: largest difference ${worst}`);
});

test('key files in "matrices" form, and a bigger hill256 image (CIFAR size, k = 4, shuffled)', async () => {
  const derived = serverDeriveKey(new Uint8Array(randomBytes(32)), { kind: 'hill256', k: 4, shuffle: true });
  const asMatrices = keyFromMatrices('hill256', 4, derived.matrices, { shuffleKey: derived.shuffleKey });
  const text = serializeKey(asMatrices, 'matrices');
  const page = await parseKeyFile(text);
  assert.equal(keyId(page), asMatrices.fingerprint.slice(0, 16));
  for (let i = 0; i < 5; i++) {
    const img = randomImage(3, 32, 32);
    assert.deepEqual(await encryptBytes(page, { data: img, channels: 3, height: 32, width: 32 }), serverEncrypt(text, img, 3, 32, 32, true, asMatrices));
  }
});

test('the page refuses what is not a good key file, and images that do not fit', async () => {
  const server = serverDeriveKey(new Uint8Array(randomBytes(32)), { kind: 'hill256', k: 4 });
  const j = JSON.parse(serializeKey(server)) as Record<string, unknown>;
  await assert.rejects(parseKeyFile('{'), PageKeyError);
  await assert.rejects(parseKeyFile(JSON.stringify({ ...j, format: 'nnlock-keys' })), /not a cipher key file/);
  await assert.rejects(parseKeyFile(JSON.stringify({ ...j, fingerprint: '0'.repeat(64) })), /fingerprint mismatch/);
  await assert.rejects(parseKeyFile(JSON.stringify({ ...j, k: 99 })), /"k"/);
  const page = await parseKeyFile(JSON.stringify(j));
  await assert.rejects(encryptBytes(page, { data: new Uint8Array(3 * 30 * 32), channels: 3, height: 30, width: 32 }), /multiple of the block size/);
  await assert.rejects(encryptBytes(page, { data: new Uint8Array(32 * 32), channels: 1, height: 32, width: 32 }), /3 channels/);
  await assert.rejects(encryptReal(page, { data: new Uint8Array(3 * 32 * 32), channels: 3, height: 32, width: 32 }), /uniform or orthogonal/);
});

test("fdlibm's log, sin and cos are node's Math bit for bit (what Box–Muller draws)", () => {
  let n = 0;
  for (let i = 0; i < 200_000; i++) {
    const u = 1 - (i % 3 === 0 ? Math.random() * 1e-12 : Math.random()); // (0, 1], some near 1
    const t = 2 * Math.PI * Math.random();
    assert.equal(fdlibm.log(u), Math.log(u));
    assert.equal(fdlibm.sin(t), Math.sin(t));
    assert.equal(fdlibm.cos(t), Math.cos(t));
    n++;
  }
  for (const x of [Number.MIN_VALUE, 2 ** -1022, 1e-300, 0.5, 1, 2, 1e300]) assert.equal(fdlibm.log(x), Math.log(x), `log ${x}`);
  for (const x of [0, 1e-9, 0.3, 0.78125, Math.PI / 4, Math.PI / 2, Math.PI, (3 * Math.PI) / 2, 2 * Math.PI, 100, -2.5]) {
    assert.equal(fdlibm.sin(x), Math.sin(x), `sin ${x}`);
    assert.equal(fdlibm.cos(x), Math.cos(x), `cos ${x}`);
  }
  assert.equal(n, 200_000);
});

test('leaks no tensors', checkLeaks);
