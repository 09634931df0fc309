// A protected file verified once (verifyForUnlock, openProtected) and unlocked from the handle as keys
// arrive: the same results as unlock() of the file, every check a key needs still made at each
// unlock (the key, the tier, the pins, each section's signed digest and tag), nothing restored twice
// into one buffer, and the handle only from a file that passed every check, weights included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { type SafetensorsFile, serializeSafetensors } from '../../src/io/safetensors.ts';
import { KeyError, decodeKeyToken, encodeKeyToken, sectionKey, sectionKeysDown, tierKey } from '../../src/crypto/index.ts';
import { ProtectError, VerifiedProtected, convLayers, openProtected, verifyForUnlock } from '../../src/protect/index.ts';
import { PROTECT_METADATA_KEY, sectionTensorName, weightsDigest } from '../../src/protect/format.ts';
import { sealAndSign } from '../../src/protect/sign.ts';
import { gatherKernels, unlock } from '../../src/protect/unlock.ts';
import { protect, tierTokens } from '../../src/protect/protect.ts';
import { weightImportance } from '../../src/protect/importance/baselines.ts';
import { changedKernels, fileOf, sameBytes, testKey, tinyNet, refusal } from './fixtures.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-verified-'));

const M = 3;
const net = tinyNet(4);
const original = fileOf(net, { architecture: 'tiny', input_mean: '[0.5,0.5,0.5]' });
net.dispose();
const importance = weightImportance('l1', original.tensors, convLayers(original.tensors));
const modelId = new Uint8Array(16).fill(5);
const r = await protect(original, { importance, ratio: 0.25, tiers: M, masterKey: testKey(8), modelId });
const tokens = tierTokens(r.masterKey, r.modelId, M);
r.masterKey.fill(0);

const copyFile = (f: SafetensorsFile): SafetensorsFile => ({
  tensors: new Map([...f.tensors].map(([n, e]) => [n, { ...e, data: e.data.slice() }])),
  metadata: { ...f.metadata },
});

function sameFile(a: SafetensorsFile, b: SafetensorsFile): boolean {
  if (a.tensors.size !== b.tensors.size) return false;
  for (const [name, e] of a.tensors) if (!b.tensors.has(name) || !sameBytes(e.data, b.tensors.get(name)!.data)) return false;
  return JSON.stringify(a.metadata) === JSON.stringify(b.metadata);
}

test('sectionKeysDown gives the bytes of sectionKey(tierKey(...)) for every tier below every key', () => {
  const master = decodeKeyToken(tokens[M - 1]).key;
  for (let top = 1; top <= M; top++) {
    const k = tierKey(master, M, top, modelId);
    for (let tier = 0; tier <= top; tier++) {
      const keys = sectionKeysDown(k, top, tier, modelId);
      assert.equal(keys.length, tier);
      keys.forEach((sk, i) => assert.ok(sameBytes(sk, sectionKey(tierKey(k, top, i + 1, modelId), modelId, i + 1)), `top ${top}, tier ${i + 1}`));
    }
    assert.throws(
      () => sectionKeysDown(k, top, top + 1, modelId),
      (e: unknown) => e instanceof KeyError && e.code === 'TIER_TOO_LOW',
    );
  }
});

test('every tier from the handle is what unlock() of the file gives, again and again, and the file stays as published', () => {
  const published = copyFile(r.file);
  const v = verifyForUnlock(published);
  assert.equal(v.weightsVerified, true);
  assert.equal(v.signed, true);
  assert.equal(v.signer, r.header.signer);
  for (let round = 0; round < 2; round++) {
    for (let key = 1; key <= M; key++) {
      for (let tier = 0; tier <= key; tier++) {
        const got = v.unlock(tokens[key - 1], { tier });
        const want = unlock(copyFile(r.file), tokens[key - 1], { tier });
        assert.ok(sameFile(got.file, want.file), `key ${key}, tier ${tier}`);
        assert.equal(got.restored, want.restored);
        assert.equal(got.weightsVerified, true);
        assert.equal(got.signerPinned, true, 'the token carries the signer');
      }
    }
  }
  for (const [name, e] of original.tensors) assert.ok(sameBytes(v.unlock(tokens[M - 1]).file.tensors.get(name)!.data, e.data), name);
  assert.ok(sameFile(published, r.file), 'not in place: the published bytes are untouched');
  assert.equal(v.spent, false);
});

test('a handle only from a file that passes every check: modified weights, metadata or a wrong pin are refused when verifying', () => {
  const weights = copyFile(r.file);
  weights.tensors.get('head.bias')!.data[0] ^= 1;
  assert.equal(
    refusal(() => verifyForUnlock(weights)),
    'WEIGHTS_MODIFIED',
  );
  const metadata = copyFile(r.file);
  metadata.metadata.input_mean = '[0.4,0.5,0.5]';
  assert.equal(
    refusal(() => verifyForUnlock(metadata)),
    'BAD_SIGNATURE',
  );
  const other = `ed25519:${'ab'.repeat(32)}`;
  assert.equal(
    refusal(() => verifyForUnlock(copyFile(r.file), { expectedSigner: other })),
    'WRONG_SIGNER',
  );
  assert.equal(verifyForUnlock(copyFile(r.file), { expectedSigner: r.header.signer }).signerPinned, true);
  // Nothing else makes one: not the constructor, not an object that looks like one.
  const Ctor = VerifiedProtected as unknown as new (...a: unknown[]) => VerifiedProtected;
  assert.throws(() => new Ctor(Symbol('VerifiedProtected'), r.file, {}, {}), TypeError);
});

test('each unlock still checks the key, the tier and the pins', () => {
  const v = verifyForUnlock(copyFile(r.file));
  const stranger = encodeKeyToken({ tier: M, key: testKey(99) });
  assert.equal(
    refusal(() => v.unlock(stranger)),
    'WRONG_KEY',
  );
  assert.equal(
    refusal(() => v.unlock(tokens[0], { tier: 2 })),
    'TIER_TOO_LOW',
  );
  assert.equal(
    refusal(() => v.unlock(tokens[M - 1], { tier: M + 1 })),
    'BAD_TIER',
  );
  assert.equal(
    refusal(() => v.unlock(tokens[M - 1], { expectedSigner: `ed25519:${'cd'.repeat(32)}` })),
    'WRONG_SIGNER',
  );
  // A token that pins another owner (same key bytes, another signer) is refused too.
  const d = decodeKeyToken(tokens[M - 1]);
  const otherOwner = encodeKeyToken({ tier: M, key: d.key, signer: new Uint8Array(32).fill(7) });
  assert.equal(
    refusal(() => v.unlock(otherOwner)),
    'WRONG_SIGNER',
  );
  assert.equal(v.spent, false, 'a refused unlock uses nothing');
  assert.equal(v.unlock(tokens[M - 1], { inPlace: true }).tier, M);
});

test('a sealed section changed before verification is refused there; changed after, it changes nothing (the handle holds checked copies)', () => {
  for (const tier of [1, 2, 3]) {
    const before = copyFile(r.file);
    before.tensors.get(sectionTensorName(tier))!.data[17] ^= 0x10;
    assert.equal(
      refusal(() => verifyForUnlock(before)),
      'BAD_SIGNATURE',
      `tier ${tier}'s section changed before verification`,
    );
    const file = copyFile(r.file);
    const v = verifyForUnlock(file);
    const want = v.unlock(tokens[M - 1]).file;
    const section = file.tensors.get(sectionTensorName(tier))!.data;
    section[section.length >> 1] ^= 0x10;
    assert.ok(sameFile(v.unlock(tokens[M - 1]).file, want), `tier ${tier}'s section changed after verification`);
    assert.ok(sameFile(v.unlock(tokens[M - 1], { inPlace: true }).file, want));
  }
});

test('the handle reads its snapshot: edits of the file object after verification change nothing an unlock reads or returns', () => {
  const file = copyFile(r.file);
  const v = verifyForUnlock(file);
  const want = v.unlock(tokens[M - 1]).file;
  file.metadata.input_mean = '[0,0,0]';
  file.metadata[PROTECT_METADATA_KEY] = '{}';
  file.tensors.set('head.bias', { dtype: 'F32', shape: [4], data: new Uint8Array(16) });
  file.tensors.delete(sectionTensorName(1));
  assert.ok(sameFile(v.unlock(tokens[M - 1]).file, want));
});

test('the contract: bytes of a published weight changed after verification are not noticed (documented in verified.ts)', () => {
  const file = copyFile(r.file);
  const v = verifyForUnlock(file);
  const bias = file.tensors.get('head.bias')!.data;
  bias[0] ^= 1;
  // Not re-hashed: the handle holds the buffers, and the caller promised not to change them.
  assert.ok(sameBytes(v.unlock(tokens[M - 1]).file.tensors.get('head.bias')!.data, bias));
});

test('in place: the kernels go into the file’s own buffers, and the handle is spent, so no lower tier can return them', () => {
  const file = copyFile(r.file);
  const v = verifyForUnlock(file);
  const u = v.unlock(tokens[M - 1], { inPlace: true });
  for (const [name, e] of original.tensors) assert.ok(sameBytes(u.file.tensors.get(name)!.data, e.data), name);
  const layer = r.header.layers[0].name;
  assert.equal(u.file.tensors.get(layer)!.data.buffer, file.tensors.get(layer)!.data.buffer, 'no copy');
  assert.equal(v.spent, true);
  assert.throws(() => v.unlock(tokens[0]), /unlocked in place/);
  assert.throws(() => v.unlock(tokens[M - 1], { tier: 0 }), /unlocked in place/);
});

test('openProtected: from a path (hashed as read) and from memory; a byte changed on disk is refused', async () => {
  const path = join(dir, 'model.safetensors');
  writeFileSync(path, serializeSafetensors(r.file.tensors, r.file.metadata));
  for (const source of [path, copyFile(r.file)]) {
    const v = await openProtected(source);
    for (let tier = 1; tier <= M; tier++) assert.ok(sameFile(v.unlock(tokens[M - 1], { tier }).file, unlock(copyFile(r.file), tokens[M - 1], { tier }).file), `tier ${tier}`);
    const u = v.unlock(tokens[M - 1], { inPlace: true });
    for (const [name, e] of original.tensors) assert.ok(sameBytes(u.file.tensors.get(name)!.data, e.data), name);
  }
  const bytes = new Uint8Array(readFileSync(path));
  const bias = r.file.tensors.get('head.bias')!;
  const at = Buffer.from(bytes).indexOf(Buffer.from(bias.data));
  assert.ok(at > 0);
  bytes[at] ^= 1;
  writeFileSync(path, bytes);
  await assert.rejects(openProtected(path), (e: unknown) => e instanceof ProtectError && e.code === 'WEIGHTS_MODIFIED');
});

test('restoredKernels: per layer the kernels a tier puts back, their original and published values, as unlock() restores them', () => {
  const file = copyFile(r.file);
  const v = verifyForUnlock(file);
  for (let tier = 0; tier <= M; tier++) {
    const want = unlock(copyFile(r.file), tokens[M - 1], { tier }).file;
    const got = v.restoredKernels(tokens[M - 1], { tier });
    assert.deepEqual(
      got.map((k) => k.name),
      r.header.layers.map((l) => l.name),
    );
    for (const k of got) {
      const published = file.tensors.get(k.name)!.data;
      const rebuilt = published.slice();
      k.kernels.forEach((kernel, i) => {
        assert.ok(sameBytes(k.published.subarray(i * k.kernelBytes, (i + 1) * k.kernelBytes), published.subarray(kernel * k.kernelBytes, (kernel + 1) * k.kernelBytes)));
        rebuilt.set(k.restored.subarray(i * k.kernelBytes, (i + 1) * k.kernelBytes), kernel * k.kernelBytes);
      });
      assert.ok(sameBytes(rebuilt, want.tensors.get(k.name)!.data), `tier ${tier}, ${k.name}`);
      assert.deepEqual(
        [...k.kernels].sort((a, b) => a - b),
        changedKernels(published, want.tensors.get(k.name)!.data, k.kernelBytes),
      );
    }
  }
  assert.ok(sameFile(file, r.file), 'the published bytes are untouched');
  // The handle's sections are its own checked copies: the file's bytes changing later changes nothing.
  const all = v.restoredKernels(tokens[M - 1]);
  file.tensors.get(sectionTensorName(2))!.data[40] ^= 1;
  assert.deepEqual(v.restoredKernels(tokens[M - 1]), all);
  assert.equal(
    refusal(() => v.restoredKernels(tokens[0], { tier: 2 })),
    'TIER_TOO_LOW',
  );
});

test('gatherKernels packs the chosen kernels in order, in words when aligned and in bytes when not', () => {
  const kernels = 10;
  const indices = Int32Array.from([7, 0, 3, 9]);
  for (const kernelBytes of [36, 6]) {
    for (const offset of [0, 1, 4]) {
      const backing = new Uint8Array(offset + kernels * kernelBytes);
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 255;
      const data = backing.subarray(offset);
      const out = new Uint8Array((2 + indices.length) * kernelBytes).fill(0xee);
      gatherKernels(data, indices, out, 2, kernelBytes);
      const want = new Uint8Array(out.length).fill(0xee);
      indices.forEach((k, j) => want.set(data.subarray(k * kernelBytes, (k + 1) * kernelBytes), (2 + j) * kernelBytes));
      assert.ok(sameBytes(out, want), `kernelBytes ${kernelBytes}, data at offset ${offset}`);
    }
  }
});

test('a section that restores a kernel twice, or one out of range, is refused (signed by the owner, so only these checks stop it)', () => {
  const layer = convLayers(original.tensors)[0];
  const values = (n: number) => new Uint8Array(n * layer.kernelBytes).fill(3);
  const masterKey = testKey(21);
  const make = (tier2: Int32Array) => {
    const s = sealAndSign({
      metadata: {},
      masterKey,
      modelId,
      sections: [[{ name: layer.name, indices: Int32Array.from([1, 4]), values: values(2) }], [{ name: layer.name, indices: tier2, values: values(tier2.length) }]],
      layers: [{ name: layer.name, dtype: layer.dtype, shape: [...layer.shape] }],
      weightsDigest: weightsDigest(original.tensors),
    });
    return verifyForUnlock({ tensors: new Map([...original.tensors, ...s.sections]), metadata: s.metadata });
  };
  const master = encodeKeyToken({ tier: 2, key: masterKey });
  assert.equal(make(Int32Array.from([2, 3])).unlock(master).restored, 4);
  for (const [tier2, why] of [
    [Int32Array.from([2, 4]), /restores kernel 4 of .* twice/],
    [Int32Array.from([2, layer.kernels]), /out of range/],
    [Int32Array.from([-1]), /out of range/],
  ] as const) {
    const v = make(tier2);
    assert.throws(
      () => v.unlock(master),
      (e: unknown) => e instanceof ProtectError && e.code === 'MALFORMED' && why.test(e.message),
    );
    assert.equal(v.unlock(master, { tier: 1 }).restored, 2, 'tier 1 alone is sound');
  }
});

test('leaks no tensors', checkLeaks);
