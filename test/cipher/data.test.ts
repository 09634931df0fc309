// Encrypted files: CIFAR-10 datasets (hill256 keeps the binary layout; real kinds go to
// safetensors), image files (PNG in and out for hill256; safetensors for real kinds), wrong-key and
// wrong-format errors, and batches encrypted on the fly for training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { manualSeed, scope, tensor } from '../../src/tensor/index.ts';
import { div, round, mul } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { equal } from '../../src/ops/compare.ts';
import { writeCifar10, readCifar10 } from '../../src/io/cifar.ts';
import { writePng, readImage } from '../../src/io/image.ts';
import { InMemoryDataset } from '../../src/data/dataset.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import {
  decryptDatasetFiles,
  decryptImageFile,
  decryptPixels,
  encryptCifarFiles,
  encryptImageFile,
  encryptPixels,
  encryptedSource,
  readEncryptedDataset,
  readImagesTensor,
} from '../../src/cipher/data.ts';
import * as nnlockCipher from '../../src/cipher/index.ts';
import { rand } from '../../src/ops/creation.ts';
import { max } from '../../src/ops/reduction.ts';
import { abs, sub } from '../../src/ops/arithmetic.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const secret = new Uint8Array(32).fill(5);
const N = 24;
const images = new Uint8Array(N * 3072).map((_, i) => (i * 131 + (i >> 10) * 7) % 256);
const labels = Array.from({ length: N }, (_, i) => i % 10);

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-cipher-'));
}

test('CIFAR-10 files: hill256 keeps the binary layout and labels; decryption is exact', async () => {
  const dir = tmp();
  try {
    const src = path.join(dir, 'plain.bin');
    await writeCifar10(src, images, labels);
    const key = deriveKey(secret, { kind: 'hill256', k: 4, shuffle: true });
    const enc = path.join(dir, 'enc.bin');
    assert.deepEqual(await encryptCifarFiles([src], enc, key), { count: N });
    const e = await readCifar10([enc]);
    assert.deepEqual(Array.from(e.labels), labels);
    assert.notDeepEqual(Array.from(e.images.subarray(0, 100)), Array.from(images.subarray(0, 100)));
    const dec = path.join(dir, 'dec.bin');
    await decryptDatasetFiles([enc], dec, key);
    assert.deepEqual(fs.readFileSync(dec), fs.readFileSync(src));
    await assert.rejects(encryptCifarFiles([src], path.join(dir, 'x.safetensors'), key), /keeps the CIFAR-10 binary layout/);
    // A real key refuses a byte dataset.
    await assert.rejects(decryptDatasetFiles([enc], dec, deriveKey(secret, { kind: 'uniform', k: 4 })), /holds bytes/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CIFAR-10 files: real kinds write float safetensors with the key id; decryption rounds back to the same bytes', async () => {
  const dir = tmp();
  try {
    const src = path.join(dir, 'plain.bin');
    await writeCifar10(src, images, labels);
    for (const kind of ['uniform', 'orthogonal'] as const) {
      const key = deriveKey(secret, { kind, k: 4 });
      const enc = path.join(dir, `${kind}.safetensors`);
      await encryptCifarFiles([src, src], enc, key);
      const { dataset, metadata } = await readEncryptedDataset([enc], key);
      assert.equal(dataset.length, 2 * N);
      assert.ok(dataset.images instanceof Float32Array);
      assert.equal(metadata.kind, kind);
      assert.equal(metadata.keyId, key.fingerprint.slice(0, 16));
      const dec = path.join(dir, `${kind}.bin`);
      const { count, maxPixelError } = await decryptDatasetFiles([enc], dec, key);
      assert.equal(count, 2 * N);
      assert.ok(maxPixelError < 0.01, `pixel error before rounding ${maxPixelError}`);
      const back = await readCifar10([dec]);
      assert.deepEqual(back.images.subarray(0, N * 3072), images);
      assert.deepEqual(Array.from(back.labels).slice(N), labels);
      await assert.rejects(encryptCifarFiles([src], path.join(dir, 'x.bin'), key), /write the dataset to a \.safetensors file/);
    }
    const other = deriveKey(new Uint8Array(32).fill(6), { kind: 'uniform', k: 4 });
    await assert.rejects(readEncryptedDataset([path.join(dir, 'uniform.safetensors')], other), /was encrypted with key [0-9a-f]{16}, not with this key/);
    await assert.rejects(readEncryptedDataset([path.join(dir, 'uniform.safetensors')], deriveKey(secret, { kind: 'orthogonal', k: 4 })), /with a uniform key, not with this orthogonal key/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('image files: PNG ↔ PNG for hill256 (exact), PNG → safetensors → PNG for real kinds; size errors', async () => {
  const dir = tmp();
  try {
    const png = path.join(dir, 'in.png');
    const pixels = new Uint8Array(3 * 16 * 24).map((_, i) => (i * 37) % 256);
    await writePng(png, pixels, 3, 16, 24);
    const h = deriveKey(secret, { kind: 'hill256', k: 8 });
    await encryptImageFile(png, path.join(dir, 'enc.png'), h);
    await decryptImageFile(path.join(dir, 'enc.png'), path.join(dir, 'dec.png'), h);
    assert.deepEqual((await readImage(path.join(dir, 'dec.png'), { channels: 3 })).data, pixels);
    assert.notDeepEqual((await readImage(path.join(dir, 'enc.png'), { channels: 3 })).data, pixels);
    const u = deriveKey(secret, { kind: 'uniform', k: 8, shuffle: true });
    await encryptImageFile(png, path.join(dir, 'enc.safetensors'), u);
    await decryptImageFile(path.join(dir, 'enc.safetensors'), path.join(dir, 'dec2.png'), u);
    assert.deepEqual((await readImage(path.join(dir, 'dec2.png'), { channels: 3 })).data, pixels);
    const asTensor = await readImagesTensor(path.join(dir, 'enc.safetensors'));
    assert.deepEqual(asTensor.x.shape, [1, 3, 16, 24]);
    assert.equal(asTensor.x.dtype, 'float32');
    asTensor.x.dispose();
    await assert.rejects(encryptImageFile(png, path.join(dir, 'x.png'), u), /real-valued, not an image: write it to a \.safetensors file/);
    await assert.rejects(encryptImageFile(png, path.join(dir, 'x.safetensors'), h), /8-bit image: write it to a \.png file/);
    await assert.rejects(encryptImageFile(png, path.join(dir, 'x.png'), deriveKey(secret, { kind: 'hill256', k: 5 })), /image size 16×24 is not a multiple of the block size k=5/);
    await assert.rejects(decryptImageFile(path.join(dir, 'enc.safetensors'), path.join(dir, 'x.png'), deriveKey(secret, { kind: 'uniform', k: 8 })), /not with this key/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('pixels ↔ network input: hill256 works on round(255·x) and divides by 255; inverse restores the pixels', () => {
  manualSeed(3);
  for (const kind of ['hill256', 'uniform'] as const) {
    const cipher = new BlockCipher(deriveKey(secret, { kind, k: 4 }));
    try {
      scope(() => {
        const bytes = tensor(images.slice(0, 2 * 3072), [2, 3, 32, 32]);
        const x = div(toDtype(bytes, 'float32'), 255);
        const y = encryptPixels(x, cipher);
        assert.equal(y.dtype, 'float32');
        const back = round(mul(decryptPixels(y, cipher), 255));
        assert.ok(equal(back, toDtype(bytes, 'float32')));
      });
    } finally {
      cipher.dispose();
    }
  }
});

test('encryptedSource: batches from a plaintext loader come out encrypted (after augmentation), labels untouched', async () => {
  const ds = new InMemoryDataset(images, Uint8Array.from(labels), [3, 32, 32]);
  const loader = new DataLoader(ds, { batchSize: 10, shuffle: false, workers: 0 });
  const key = deriveKey(secret, { kind: 'orthogonal', k: 4 });
  const cipher = new BlockCipher(key);
  try {
    const source = encryptedSource(loader, cipher);
    assert.equal(source.batchCount, 3);
    let seen = 0;
    for await (const b of source.epoch(0)) {
      scope(() => {
        const n = b.x.shape[0];
        const plain = div(toDtype(tensor(images.slice(seen * 3072, (seen + n) * 3072), [n, 3, 32, 32]), 'float32'), 255);
        assert.ok(equal(b.x, cipher.encrypt(plain)));
        assert.deepEqual(b.y.toArray(), labels.slice(seen, seen + n));
        seen += n;
      });
      b.x.dispose();
      b.y.dispose();
    }
    assert.equal(seen, N);
    // Without a cipher the batches pass through.
    for await (const b of encryptedSource(loader, null).epoch(0)) {
      scope(() => assert.ok(equal(b.x, div(toDtype(tensor(images.slice(0, 10 * 3072), [10, 3, 32, 32]), 'float32'), 255))));
      b.x.dispose();
      b.y.dispose();
      break;
    }
  } finally {
    cipher.dispose();
  }
});

test('encryptFiles / decryptFiles: several images into a folder, nothing overwritten without force', async () => {
  const { encryptFiles, decryptFiles, generateKey } = nnlockCipher;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-files-'));
  try {
    const inputs = ['a.png', 'b.png'].map((n) => path.join(dir, n));
    const px = Uint8Array.from({ length: 3 * 8 * 8 }, (_, i) => (i * 37) % 256);
    for (const f of inputs) await writePng(f, px, 3, 8, 8);
    const key = generateKey({ kind: 'hill256', k: 4, channels: 3 });
    const seen: string[] = [];
    const r = await encryptFiles(inputs, path.join(dir, 'enc'), key, { onFile: (f) => seen.push(f.input) });
    assert.equal(r.mode, 'images');
    assert.deepEqual(
      r.files.map((f) => path.basename(f.output)),
      ['a.png', 'b.png'],
    );
    assert.deepEqual(seen, inputs);
    await assert.rejects(() => encryptFiles(inputs, path.join(dir, 'enc'), key), /a\.png exists; pass --force/);
    await encryptFiles(inputs, path.join(dir, 'enc'), key, { force: true });
    const d = await decryptFiles(
      r.files.map((f) => f.output),
      path.join(dir, 'dec'),
      key,
    );
    assert.equal(d.count, 2);
    assert.deepEqual((await readImage(d.files[0].output, { channels: 3 })).data, px);
    await assert.rejects(() => encryptFiles([inputs[0], path.join(dir, 'x.bin')], path.join(dir, 'm'), key), /x\.bin: no such file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the README snippet "encrypt images with a block-cipher key in code" runs on synthetic tensors', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-snippet-'));
  const images = rand([4, 3, 32, 32]);
  try {
    const keyFile = path.join(dir, 'key.json');
    // ---- the snippet (imports from 'nnlock/cipher': BlockCipher, generateKey, loadKey, saveKey) ----
    const { BlockCipher: Cipher, generateKey, loadKey, saveKey } = nnlockCipher;
    const key = generateKey({ kind: 'orthogonal', k: 4, channels: 3 });
    await saveKey(key, keyFile); // mode 0600: keep it secret
    const cipher = new Cipher(await loadKey(keyFile));
    const encrypted = cipher.encrypt(images); // same shape, real values: what a model trains on
    const decrypted = cipher.decrypt(encrypted); // the images again, to about 1e-6
    cipher.dispose(); // frees the key's tensors
    // ---- end of the snippet ----
    scope(() => {
      assert.deepEqual(encrypted.shape, [4, 3, 32, 32]);
      assert.ok(max(abs(sub(encrypted, images))).item() > 0.01, 'the ciphertext differs from the images');
      assert.ok(max(abs(sub(decrypted, images))).item() < 1e-5, 'decryption restores the images');
    });
    encrypted.dispose();
    decrypted.dispose();
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  } finally {
    images.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('leaks no tensors', checkLeaks);
