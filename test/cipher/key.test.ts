// Cipher keys: deterministic derivation from a secret, the three kinds' defining properties,
// rejection of unusable matrices, key files (round trip, mode 0600, corrupt files), shuffling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CipherKeyError, DEFAULT_MAX_CONDITION, blockPermutation, deriveKey, invertPermutation, keyFromMatrices, keyId, parseSecretHex } from '../../src/cipher/key.ts';
import { loadKey, parseKey, saveKey, serializeKey } from '../../src/cipher/key-file.ts';
import { conditionNumber, identity, inverse, inverseMod256Matrix, matmul, matmulMod256, maxAbsDiff, orthogonalityError, singularValues, solveMod256 } from '../../src/linalg/matrix.ts';
import { tensor } from '../../src/tensor/index.ts';
import { linalgSvdvals } from '../../src/ops/linalg.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const secretA = new Uint8Array(32).map((_, i) => i);
const secretB = new Uint8Array(32).map((_, i) => 255 - i);

test('same secret → same key; different secret, kind or size → a different key', () => {
  for (const kind of ['uniform', 'orthogonal', 'hill256'] as const) {
    const a = deriveKey(secretA, { kind, k: 4, channels: 3 });
    const a2 = deriveKey(Uint8Array.from(secretA), { kind, k: 4, channels: 3 });
    assert.equal(a.fingerprint, a2.fingerprint);
    for (let c = 0; c < 3; c++) assert.deepEqual(a.matrices[c], a2.matrices[c]);
    const b = deriveKey(secretB, { kind, k: 4, channels: 3 });
    assert.notEqual(a.fingerprint, b.fingerprint);
    assert.ok(maxAbsDiff(a.matrices[0], b.matrices[0]) > 0.1, `${kind}: different secrets give unrelated matrices`);
    // Channels get independent matrices.
    assert.ok(maxAbsDiff(a.matrices[0], a.matrices[1]) > 0.1);
  }
  const u = deriveKey(secretA, { kind: 'uniform', k: 4 });
  const o = deriveKey(secretA, { kind: 'orthogonal', k: 4 });
  assert.notEqual(u.fingerprint, o.fingerprint);
  assert.notEqual(deriveKey(secretA, { kind: 'uniform', k: 2 }).fingerprint, u.fingerprint);
  // Shuffle changes the key's identity (and only the permutation).
  const us = deriveKey(secretA, { kind: 'uniform', k: 4, shuffle: true });
  assert.notEqual(us.fingerprint, u.fingerprint);
  assert.deepEqual(us.matrices[0], u.matrices[0]);
  assert.equal(keyId(u).length, 16);
});

test('derivation is pinned: a known secret gives known keys (regression vectors)', () => {
  // Made by this implementation (secret = bytes 0..31). If they change, every key file in the
  // "secret" form would re-derive another key; loading catches that by the fingerprint, and this
  // test says where. The orthogonal vector also pins Box–Muller and the Householder QR, which run
  // in JavaScript float64 so that every machine derives the same bits.
  const hill = deriveKey(secretA, { kind: 'hill256', k: 2, channels: 1 });
  assert.deepEqual(Array.from(hill.matrices[0]), [210, 68, 66, 253, 109, 72, 100, 9, 37, 255, 234, 20, 125, 169, 125, 171]);
  assert.equal(hill.fingerprint, '8e5555f9a17e4fa587ac0ee19158aec7ae7eb37d0544fdc91e08fb3b73071242');
  const u = deriveKey(secretA, { kind: 'uniform', k: 2, channels: 1 });
  assert.deepEqual(Array.from(u.matrices[0]).slice(0, 4), [-0.19634134895310607, -0.7032014731793437, -0.8681787564346699, 0.5771157929983994]);
  assert.equal(u.fingerprint, '52ed48468bfcff08a7aaf4e4044c7c378e9ff25768b8f4084711b6938ec5520c');
  assert.equal(deriveKey(secretA, { kind: 'orthogonal', k: 2, channels: 1 }).fingerprint, '030e90801a93def02fbee145a0d31c9e87919fd39c98849360b694de9caf4bdb');
});

test('uniform keys: entries in (−1, 1), condition number within the limit, inverse correct', () => {
  const key = deriveKey(secretA, { kind: 'uniform', k: 4, channels: 3 });
  for (let c = 0; c < 3; c++) {
    const m = key.matrices[c];
    assert.ok(m.every((v) => v > -1 && v < 1));
    assert.ok(key.conditions[c] <= DEFAULT_MAX_CONDITION);
    assert.ok(maxAbsDiff(matmul(m, key.inverses[c], 16, 16, 16), identity(16)) < 1e-10);
  }
});

test('orthogonal keys: KᵀK = I, condition number 1', () => {
  const key = deriveKey(secretA, { kind: 'orthogonal', k: 8, channels: 1 });
  assert.ok(orthogonalityError(key.matrices[0], 64) < 1e-12);
  assert.ok(Math.abs(key.conditions[0] - 1) < 1e-10);
});

test('hill256 keys: integers 0..255, odd determinant, inverse mod 256', () => {
  for (const k of [2, 4, 8]) {
    const key = deriveKey(secretA, { kind: 'hill256', k, channels: 3 });
    const n = k * k;
    for (let c = 0; c < 3; c++) {
      const m = key.matrices[c];
      assert.ok(m.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
      const { det } = inverseMod256Matrix(m, n);
      assert.equal(det % 2, 1, 'determinant is odd');
      const p = matmulMod256(m, key.inverses[c], n, n, n);
      assert.deepEqual(Array.from(p), Array.from(identity(n)), 'K·K⁻¹ ≡ I (mod 256)');
    }
  }
});

test('matrix helpers agree with LAPACK (singular values) and with exact arithmetic (mod 256)', () => {
  const key = deriveKey(secretB, { kind: 'uniform', k: 4, channels: 1 });
  const ours = singularValues(key.matrices[0], 16);
  const t = tensor(key.matrices[0], [16, 16], 'float64');
  const lapack = linalgSvdvals(t);
  assert.ok(maxAbsDiff(ours, lapack.toArray()) < 1e-12);
  t.dispose();
  lapack.dispose();
  assert.ok(inverse(new Float64Array([1, 2, 2, 4]), 2) === null, 'a singular matrix has no inverse');
  // det [[2, 1], [0, 3]] = 6: even, so not invertible mod 256; det mod 256 still reported.
  assert.deepEqual(inverseMod256Matrix([2, 1, 0, 3], 2), { inverse: null, det: 6 });
  // Solve A·X ≡ B (mod 256) with a non-square, consistent system.
  const a = [3, 1, 4, 1, 5, 9, 2, 6, 5]; // 3×3, rows of blocks
  const x = [7, 200, 13, 99];
  const b = Array.from(matmulMod256(a.slice(0, 6), x, 3, 2, 2));
  const r = solveMod256(a.slice(0, 6), b, 3, 2, 2);
  assert.ok(r.solution && r.consistent);
  assert.deepEqual(Array.from(r.solution), x);
});

test('bad keys are refused with clear errors', () => {
  assert.throws(() => deriveKey(secretA, { kind: 'bogus' as never, k: 4 }), /unknown key kind 'bogus'/);
  assert.throws(() => deriveKey(secretA, { kind: 'uniform', k: 0 }), /block size k must be an integer in 1\.\.16/);
  assert.throws(() => deriveKey(secretA, { kind: 'uniform', k: 17 }), /block size/);
  assert.throws(() => deriveKey(secretA, { kind: 'uniform', k: 4, channels: 0 }), /channels must be/);
  assert.throws(() => deriveKey(new Uint8Array(16), { kind: 'uniform', k: 4 }), /secret must be 32 bytes/);
  assert.throws(() => parseSecretHex('abc'), /64 hex digits/);
  assert.throws(() => parseSecretHex('zz'.repeat(32)), /non-hex/);
  // Wrong size, singular, ill-conditioned, wrong kind (non-integers for hill256), even determinant.
  assert.throws(() => keyFromMatrices('uniform', 2, [[1, 0, 0]]), /has 4×4 = 16 entries, got 3/);
  const singular = new Float64Array(16);
  for (let i = 0; i < 4; i++) singular[i * 4] = 1; // every row the same: rank 1
  assert.throws(() => keyFromMatrices('uniform', 2, [singular]), CipherKeyError);
  assert.throws(() => keyFromMatrices('uniform', 2, [singular]), /singular/);
  const ill = Float64Array.from(identity(4));
  ill[15] = 1e-6;
  assert.throws(() => keyFromMatrices('uniform', 2, [ill]), /ill-conditioned: condition number 1\.000e\+6 exceeds the limit 500/);
  assert.ok(conditionNumber(ill, 4) > 1e5);
  assert.doesNotThrow(() => keyFromMatrices('uniform', 2, [ill], { maxCondition: 1e7 }));
  assert.throws(() => keyFromMatrices('hill256', 2, [Float64Array.from(identity(4)).map((v) => v * 0.5)]), /integers 0\.\.255/);
  const even = Float64Array.from(identity(4)).map((v) => v * 2);
  assert.throws(() => keyFromMatrices('hill256', 2, [even]), /singular mod 256: the determinant is even/);
  assert.throws(() => keyFromMatrices('orthogonal', 2, [Float64Array.from(identity(4)).map((v) => v * 2)]), /not orthogonal/);
  assert.throws(() => keyFromMatrices('uniform', 2, [[NaN, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]]), /entry 0 is NaN/);
});

test('block permutation: deterministic per key and grid, a true permutation, absent without shuffle', () => {
  const key = deriveKey(secretA, { kind: 'uniform', k: 4, shuffle: true });
  const p = blockPermutation(key, 8, 8)!;
  assert.deepEqual(p, blockPermutation(deriveKey(secretA, { kind: 'uniform', k: 4, shuffle: true }), 8, 8));
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 64 }, (_, i) => i),
  );
  assert.notDeepEqual(
    Array.from(p),
    Array.from({ length: 64 }, (_, i) => i),
  );
  const inv = invertPermutation(p);
  for (let i = 0; i < 64; i++) assert.equal(p[inv[i]], i);
  assert.notDeepEqual(Array.from(blockPermutation(deriveKey(secretB, { kind: 'uniform', k: 4, shuffle: true }), 8, 8)!), Array.from(p));
  assert.equal(blockPermutation(deriveKey(secretA, { kind: 'uniform', k: 4 }), 8, 8), null);
});

test('key files: both forms round-trip, written with mode 0600, and never print the secret in errors', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-key-'));
  try {
    for (const kind of ['uniform', 'orthogonal', 'hill256'] as const) {
      const key = deriveKey(secretA, { kind, k: 4, channels: 3, shuffle: kind !== 'orthogonal' });
      for (const form of ['secret', 'matrices'] as const) {
        const file = path.join(dir, `${kind}-${form}.json`);
        await saveKey(key, file, form);
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        const back = await loadKey(file);
        assert.equal(back.fingerprint, key.fingerprint, `${kind}/${form}`);
        assert.equal(back.kind, kind);
        assert.equal(back.shuffle, key.shuffle);
        for (let c = 0; c < 3; c++) assert.deepEqual(back.matrices[c], key.matrices[c]);
        assert.deepEqual(blockPermutation(back, 8, 8), blockPermutation(key, 8, 8));
      }
    }
    // A key without a secret (e.g. recovered) saves only in the matrices form.
    const recovered = keyFromMatrices('uniform', 2, [Float64Array.from(identity(4))]);
    assert.throws(() => serializeKey(recovered, 'secret'), /not derived from a secret/);
    assert.equal(JSON.parse(serializeKey(recovered)).matrices.length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupt key files give clear errors', async () => {
  const key = deriveKey(secretA, { kind: 'uniform', k: 2, channels: 2 });
  const good = serializeKey(key);
  const goodM = serializeKey(key, 'matrices');
  const j = JSON.parse(good);
  const cases: [string, RegExp][] = [
    ['{"format":', /corrupt key file x\.json: not valid JSON/],
    ['[]', /expected a JSON object/],
    [JSON.stringify({ ...j, format: 'other' }), /not an nnlock cipher key/],
    [JSON.stringify({ ...j, version: 9 }), /unsupported version 9/],
    [JSON.stringify({ ...j, kind: 'rot13' }), /unknown key kind 'rot13'/],
    [JSON.stringify({ ...j, k: 2.5 }), /"k" must be an integer/],
    [JSON.stringify({ ...j, shuffle: 'yes' }), /"shuffle" must be true or false/],
    [JSON.stringify({ ...j, fingerprint: 'abc' }), /"fingerprint" must be 64 hex digits/],
    [JSON.stringify({ ...j, secret: `${j.secret.slice(0, 63)}${j.secret[63] === '0' ? '1' : '0'}` }), /fingerprint mismatch/],
    [JSON.stringify({ ...j, secret: 'nothex' }), /64 hex digits/],
    [JSON.stringify({ ...j, k: 4 }), /fingerprint mismatch/],
    [JSON.stringify({ ...j, matrices: [[1]] }), /exactly one of "secret" and "matrices"/],
    [goodM.replace(/\[(-?0\.\d)/, '[$19'), /fingerprint mismatch|ill-conditioned|singular/],
    [JSON.stringify({ ...JSON.parse(goodM), matrices: [[1, 2, 3]] }), /1 matrices for 2 channels/],
    [JSON.stringify({ ...JSON.parse(goodM), matrices: 'x' }), /must be an array of number arrays/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseKey(text, 'x.json'),
      (e: Error) => {
        assert.ok(e instanceof CipherKeyError, `CipherKeyError for ${text.slice(0, 60)}`);
        assert.match(e.message, re);
        assert.ok(!e.message.includes(j.secret), 'the secret never appears in an error');
        return true;
      },
    );
  }
  assert.equal(parseKey(good).fingerprint, key.fingerprint);
  await assert.rejects(loadKey('/nonexistent/key.json'), /key file \/nonexistent\/key\.json: no such file/);
});

test('leaks no tensors', checkLeaks);
