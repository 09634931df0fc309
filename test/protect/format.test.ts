import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { PROTECT_METADATA_KEY, ProtectError, decodePayload, encodePayload, parseHeader, serializeHeader, weightsDigest, type ProtectHeader } from '../../src/protect/internals.ts';
import { WeightsHasher, digestOrder, readPayload } from '../../src/protect/format.ts';
import { openInParts, seal } from '../../src/crypto/seal.ts';
import type { TensorEntry } from '../../src/io/safetensors.ts';

const checkLeaks = trackLeaks();

const header: ProtectHeader = {
  format: 'nnlock-protect',
  version: 1,
  modelId: 'ab'.repeat(16),
  tiers: 2,
  keyChecks: ['0123456789abcdef', 'fedcba9876543210'],
  layers: [{ name: 'conv.weight', dtype: 'F32', shape: [2, 3, 3, 3] }],
  architecture: 'resnet20',
  weightsDigest: 'cd'.repeat(32),
  cipher: 'AES-256-GCM',
  kdf: 'HKDF-SHA-256',
};

test('header round-trips and is validated field by field', () => {
  assert.deepEqual(parseHeader({ [PROTECT_METADATA_KEY]: serializeHeader(header) }), header);
  const bad = (patch: Record<string, unknown>, re: RegExp) => {
    const text = JSON.stringify({ ...JSON.parse(serializeHeader(header)), ...patch });
    assert.throws(
      () => parseHeader({ [PROTECT_METADATA_KEY]: text }),
      (e: unknown) => e instanceof ProtectError && e.code === 'MALFORMED' && re.test(e.message),
    );
  };
  bad({ version: 4 }, /version 4 is not supported/);
  bad({ version: 2 }, /signer must be/);
  bad({ version: 3 }, /signer must be/);
  bad({ signer: `ed25519:${'ab'.repeat(32)}` }, /version 1 header has no signer/);
  bad({ format: 'x' }, /format/);
  bad({ modelId: 'zz' }, /modelId/);
  bad({ tiers: 0 }, /tiers/);
  bad({ keyChecks: ['0123456789abcdef'] }, /keyChecks/);
  bad({ layers: [] }, /layers/);
  bad({ layers: [{ name: 'a', dtype: 'F32', shape: [1, 2] }] }, /layer 0/);
  bad({ weightsDigest: 'cd' }, /weightsDigest/);
  assert.throws(() => parseHeader({ [PROTECT_METADATA_KEY]: '{' }), /not valid JSON/);
  assert.throws(
    () => parseHeader({}),
    (e: unknown) => e instanceof ProtectError && e.code === 'NOT_PROTECTED',
  );
});

test('version 2 and 3 headers carry their signer', () => {
  for (const version of [2, 3]) {
    const signed = { ...header, version, signer: `ed25519:${'ab'.repeat(32)}` };
    assert.deepEqual(parseHeader({ [PROTECT_METADATA_KEY]: serializeHeader(signed) }), signed);
    const text = JSON.stringify({ ...JSON.parse(serializeHeader(signed)), signer: 'ed25519:ab' });
    assert.throws(() => parseHeader({ [PROTECT_METADATA_KEY]: text }), /signer must be/);
  }
});

test('payload round-trips; inconsistent payloads are refused', () => {
  const layers = [
    { name: 'a.weight', indices: Int32Array.from([5, 0, 3]), values: Uint8Array.from({ length: 3 * 36 }, (_, i) => i) },
    { name: 'b.weight', indices: new Int32Array(0), values: new Uint8Array(0) },
    { name: 'ü.weight', indices: Int32Array.from([7]), values: new Uint8Array(8).fill(1) },
  ];
  const kb = (n: string) => (({ 'a.weight': 36, 'b.weight': 4, 'ü.weight': 8 }) as Record<string, number>)[n];
  const p = encodePayload(layers);
  assert.equal(p.byteLength, 1 + 4 + (4 + 8 + 4 + 12 + 108) + (4 + 8 + 4) + (4 + 9 + 4 + 4 + 8));
  const back = decodePayload(p, kb, 1);
  assert.deepEqual(
    back.map((l) => l.name),
    layers.map((l) => l.name),
  );
  back.forEach((l, i) => {
    assert.deepEqual(Array.from(l.indices), Array.from(layers[i].indices));
    assert.deepEqual(Array.from(l.values), Array.from(layers[i].values));
  });
  assert.throws(() => decodePayload(p.subarray(0, p.length - 1), kb, 2), /tier 2 is inconsistent.*truncated/);
  assert.throws(() => decodePayload(Uint8Array.from([...p, 0]), kb, 2), /trailing bytes/);
  assert.throws(() => decodePayload(p, (n) => (n === 'b.weight' ? undefined : kb(n)), 1), /b.weight is not a protected layer/);
});

test('a payload read field by field while its section is decrypted: the same layers, aligned, checked only once authentic', () => {
  const layers = [
    { name: 'a.weight', indices: Int32Array.from([0, 3, 5]), values: Uint8Array.from({ length: 3 * 36 }, (_, i) => i) },
    { name: 'ü.weight', indices: Int32Array.from([7]), values: new Uint8Array(8).fill(1) },
  ];
  const kb = (n: string) => (({ 'a.weight': 36, 'ü.weight': 8 }) as Record<string, number>)[n];
  const key = new Uint8Array(32).fill(5);
  const aad = Uint8Array.from([1, 2, 3]);
  const p = encodePayload(layers);
  const back = readPayload(openInParts(key, seal(key, p, aad), aad), kb, 1);
  assert.deepEqual(
    back.map((l) => [l.name, Array.from(l.indices), Array.from(l.values)]),
    layers.map((l) => [l.name, Array.from(l.indices), Array.from(l.values)]),
  );
  // The unaligned offsets of the payload do not matter: each array has memory of its own.
  for (const l of back) assert.ok(l.indices.byteOffset % 4 === 0 && l.values.byteOffset % 4 === 0);
  const refused = (bytes: Uint8Array, re: RegExp, kbOf: (n: string) => number | undefined = kb) => assert.throws(() => readPayload(openInParts(key, seal(key, bytes, aad), aad), kbOf, 2), re);
  refused(p.subarray(0, p.length - 1), /tier 2 is inconsistent.*truncated/);
  refused(p.subarray(0, 3), /truncated/);
  refused(Uint8Array.from([...p, 0]), /trailing bytes/);
  refused(p, /a.weight is not a protected layer/, (n) => (n === 'a.weight' ? undefined : kb(n)));
  // A wrong tag is an authentication failure, whatever the (unauthenticated) lengths said.
  const sealed = seal(key, p, aad);
  sealed[20] ^= 0xff;
  assert.throws(
    () => readPayload(openInParts(key, sealed, aad), kb, 1),
    (e: unknown) => (e as { code?: string }).code === 'TAMPERED_OR_WRONG_KEY',
  );
});

test('weights digest: order independent, sensitive to names, dtypes, shapes and bytes', () => {
  const e = (dtype: 'F32' | 'I32', shape: number[], bytes: number[]) => ({ dtype, shape, data: Uint8Array.from(bytes) });
  const base = new Map([
    ['a', e('F32', [1], [1, 2, 3, 4])],
    ['b', e('F32', [2, 1], [0, 0, 0, 0, 5, 5, 5, 5])],
  ]);
  const d = Buffer.from(weightsDigest(base)).toString('hex');
  assert.equal(d.length, 64);
  assert.equal(Buffer.from(weightsDigest(new Map([...base].reverse()))).toString('hex'), d);
  const variants = [
    new Map([
      ['a', e('F32', [1], [1, 2, 3, 5])],
      ['b', base.get('b')!],
    ]),
    new Map([
      ['a', e('I32', [1], [1, 2, 3, 4])],
      ['b', base.get('b')!],
    ]),
    new Map([
      ['a', base.get('a')!],
      ['b', e('F32', [1, 2], [0, 0, 0, 0, 5, 5, 5, 5])],
    ]),
    new Map([
      ['c', base.get('a')!],
      ['b', base.get('b')!],
    ]),
    new Map([['a', base.get('a')!]]),
  ];
  for (const v of variants) assert.notEqual(Buffer.from(weightsDigest(v)).toString('hex'), d);
  // The reserved `__nnlock__/` tensors (version 3's sections) are not weights: bound by their signed digests instead.
  const withSection = new Map<string, TensorEntry>([...base, ['__nnlock__/tier-1', { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) }]]);
  assert.equal(Buffer.from(weightsDigest(withSection)).toString('hex'), d);
});

test('the weights hasher fed tensor by tensor in digest order equals the digest', () => {
  const e = (n: number) => ({ dtype: 'F32' as const, shape: [n], data: Uint8Array.from({ length: 4 * n }, (_, i) => (i * 7 + n) & 255) });
  const tensors = new Map<string, TensorEntry>([
    ['z', e(3)],
    ['__nnlock__/tier-1', { dtype: 'U8' as const, shape: [2], data: Uint8Array.from([9, 9]) }],
    ['ä', e(1)],
    ['a', e(2)],
  ]);
  const order = digestOrder(tensors.keys());
  assert.deepEqual(order, ['a', 'z', 'ä']);
  const h = new WeightsHasher();
  for (const name of order) h.add(name, tensors.get(name)!, tensors.get(name)!.data);
  assert.deepEqual(h.digest(), weightsDigest(tensors));
});

test('leaks no tensors', checkLeaks);
