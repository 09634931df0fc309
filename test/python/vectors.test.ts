// nnlock still reproduces the committed interoperability vectors (test/vectors/, made by
// scripts/make-vectors.ts). nnlock_torch is checked against the same vectors (python/tests/), so a
// change on either side that departs from docs/FORMAT.md fails one of the two.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scope, tensor, toBytes } from '../../src/tensor/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { KeyError, decodeKeyToken, encodeKeyToken, keyCheck, sectionKey, sectionKeysDown, tierKey } from '../../src/crypto/index.ts';
import { inspectProtected, openProtected, unlockModel, weightsDigest } from '../../src/protect/index.ts';
import { highestToken } from '../../src/protect/keys.ts';
import { BlockCipher, blockPermutation, loadKey } from '../../src/cipher/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const VECTORS = join(import.meta.dirname, '..', 'vectors');
const load = (path: string) => JSON.parse(readFileSync(join(VECTORS, path), 'utf8'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('tier-key chain, tokens and key checks match the vectors', () => {
  const v = load('tier-keys.json');
  for (const chain of v.chains) {
    const id = new Uint8Array(Buffer.from(chain.modelId, 'hex'));
    const master = decodeKeyToken(chain.master);
    assert.equal(master.tier, chain.tiers);
    for (const level of chain.levels) {
      const k = tierKey(master.key, master.tier, level.tier, id);
      assert.equal(hex(k), level.key);
      assert.equal(encodeKeyToken({ tier: level.tier, key: k }), level.token);
      assert.equal(keyCheck(k, id, level.tier), level.keyCheck);
      assert.equal(hex(sectionKey(k, id, level.tier)), level.sectionKey);
      // What an unlock derives: every section key below a tier in one walk down the chain.
      assert.equal(hex(sectionKeysDown(master.key, master.tier, level.tier, id)[level.tier - 1]), level.sectionKey);
    }
  }
  for (const bad of v.malformedTokens)
    assert.throws(
      () => decodeKeyToken(bad.token),
      (e: unknown) => e instanceof KeyError && e.code === 'MALFORMED_TOKEN',
      bad.why,
    );
  assert.equal(highestToken(v.keyFile.text), v.keyFile.highest);
});

for (const [vector, version] of [
  ['protect/vgg-tiny.json', 1],
  ['protect/vgg-tiny-v3.json', 3],
] as const) {
  test(`the protected vector of format version ${version} unlocks to the recorded weights at every tier`, async () => {
    const v = load(vector);
    const file = await readSafetensors(join(VECTORS, 'protect', v.file));
    const header = inspectProtected(file);
    assert.equal(header.version, version);
    assert.equal(header.modelId, v.modelId);
    assert.equal(hex(weightsDigest(file.tensors)), header.weightsDigest);
    for (const expected of v.unlocked) {
      const r = await unlockModel(file, v.tokens[2], { tier: expected.tier });
      assert.equal(r.restored, expected.restored);
      assert.deepEqual(Object.fromEntries([...r.file.tensors].map(([n, e]) => [n, sha256(e.data)])), expected.sha256, `tier ${expected.tier}`);
    }
    assert.deepEqual(v.unlocked[3].sha256, v.original);
    // From the path too (read.ts: hashed while read).
    const fromPath = await unlockModel(join(VECTORS, 'protect', v.file), v.tokens[2]);
    assert.deepEqual(Object.fromEntries([...fromPath.file.tensors].map(([n, e]) => [n, sha256(e.data)])), v.original);
    // Opened once (every check), then each tier unlocked from the handle.
    const opened = await openProtected(join(VECTORS, 'protect', v.file));
    for (const expected of v.unlocked) {
      const r = opened.unlock(v.tokens[2], { tier: expected.tier });
      assert.equal(r.restored, expected.restored);
      assert.deepEqual(Object.fromEntries([...r.file.tensors].map(([n, e]) => [n, sha256(e.data)])), expected.sha256, `opened, tier ${expected.tier}`);
    }
  });
}

test('cipher key files rebuild to the recorded matrices and encrypt the recorded pairs', async () => {
  const v = load('cipher/cipher.json');
  for (const c of v.cases) {
    const key = await loadKey(join(VECTORS, 'cipher', c.keyFile));
    assert.equal(key.fingerprint, c.fingerprint, c.name);
    if (c.matrices)
      assert.deepEqual(
        key.matrices.map((m) => Array.from(m)),
        c.matrices,
        c.name,
      );
    const grid = c.shape[2] / c.k;
    const perm = blockPermutation(key, grid, grid);
    assert.deepEqual(perm ? Array.from(perm) : null, c.permutation, c.name);
    const cipher = new BlockCipher(key);
    scope(() => {
      const y = new Float64Array(toBytes(cipher.encrypt(tensor(Float64Array.from(c.plaintext), c.shape, 'float64'))).buffer);
      const x = new Float64Array(toBytes(cipher.decrypt(tensor(Float64Array.from(c.ciphertext), c.shape, 'float64'))).buffer);
      const worst = (a: Float64Array, b: number[]) => a.reduce((w, value, i) => Math.max(w, Math.abs(value - b[i])), 0);
      const tolerance = c.kind === 'hill256' ? 0 : 1e-12;
      assert.ok(worst(y, c.ciphertext) <= tolerance, `${c.name}: encryption differs by ${worst(y, c.ciphertext)}`);
      assert.ok(worst(x, c.plaintext) <= tolerance, `${c.name}: decryption differs by ${worst(x, c.plaintext)}`);
    });
    cipher.dispose();
  }
});

test('leaks no tensors', checkLeaks);
