// Unlocking from a path (format version 3): the file is read once, its weights hashed as they are
// read (src/protect/read.ts over readSafetensors' onTensor), and the result is what unlocking the
// same file in memory gives; a byte changed on disk is still caught, in any tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { type TensorEntry, readSafetensors, serializeSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { ProtectError, protectModel, unlockModel, verifyModel, weightsDigest } from '../../src/protect/index.ts';
import { readProtectedFile } from '../../src/protect/read.ts';
import { SIGNATURE_METADATA_KEY, bodyDigest, parseSignature, sectionDigest, sectionTensorName, serializeSignature, signatureMessage } from '../../src/protect/format.ts';
import { PARTS_FROM_BYTES, openUnlock, unlock } from '../../src/protect/unlock.ts';
import { KeyError, encodeKeyToken, ownerSigningKey, signMessage } from '../../src/crypto/index.ts';
import { fileOf, sameBytes, tinyNet } from './fixtures.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-unlock-read-'));

/** A model whose weights span several 4 MiB read chunks, with an I64 tensor that the file puts first but the digest takes in name order. */
async function bigProtected(): Promise<{ path: string; tokens: string[]; original: Map<string, TensorEntry> }> {
  const net = tinyNet(6);
  const file = fileOf(net, { architecture: 'tiny' });
  net.dispose();
  const big = new Uint8Array(4 * 2_600_000).map((_, i) => (i * 31 + (i >> 9)) & 255);
  file.tensors.set('aaa.extra', { dtype: 'F32', shape: [2_600_000], data: big });
  file.tensors.set('m.steps', { dtype: 'I64', shape: [], data: new Uint8Array(8).fill(3) });
  const p = await protectModel(file, { ratio: 0.25, tiers: 3 });
  const path = join(dir, `big-${Math.random().toString(16).slice(2)}.safetensors`);
  await writeSafetensors(path, p.file.tensors, p.file.metadata);
  return { path, tokens: p.tokens, original: file.tensors };
}

test('readSafetensors onTensor: every tensor once, in file order, with its bytes already read, however many chunks are in flight', async () => {
  const { path } = await bigProtected();
  const plain = await readSafetensors(path);
  const orders: string[][] = [];
  for (const readsAhead of [undefined, 1, 64]) {
    const seen: string[] = [];
    const file = await readSafetensors(path, {
      readsAhead,
      onTensor(name, e, f) {
        assert.equal(f.tensors.get(name), e);
        seen.push(name);
        // The bytes handed over are final: compare them with the file on disk now.
        assert.ok(sameBytes(e.data, new Uint8Array(readFileSync(path)).subarray(e.data.byteOffset, e.data.byteOffset + e.data.byteLength)), name);
      },
    });
    assert.deepEqual([...seen].sort(), [...file.tensors.keys()].sort());
    assert.equal(new Set(seen).size, seen.length);
    for (const [name, e] of plain.tensors) assert.ok(sameBytes(e.data, file.tensors.get(name)!.data), name);
    orders.push(seen);
  }
  assert.deepEqual(orders[1], orders[0]);
  assert.deepEqual(orders[2], orders[0]);
});

test('readSafetensors first/onFirst: the first tensors are read before the rest, and every tensor still arrives once', async () => {
  const { path } = await bigProtected();
  const disk = new Uint8Array(readFileSync(path));
  const seen: string[] = [];
  let firstSeen = false;
  const file = await readSafetensors(path, {
    first: (layout) => {
      assert.equal(layout.tensors.size > 3, true);
      return [sectionTensorName(2), 'm.steps'];
    },
    onFirst(f) {
      firstSeen = true;
      assert.equal(seen.length, 0, 'before any tensor is delivered');
      for (const name of [sectionTensorName(2), 'm.steps']) {
        const e = f.tensors.get(name)!;
        assert.ok(sameBytes(e.data, disk.subarray(e.data.byteOffset, e.data.byteOffset + e.data.byteLength)), name);
      }
    },
    onTensor: (name) => void seen.push(name),
  });
  assert.ok(firstSeen);
  assert.deepEqual([...seen].sort(), [...file.tensors.keys()].sort());
  assert.ok(sameBytes(new Uint8Array(disk.buffer, 0, disk.byteLength), new Uint8Array(file.tensors.get('aaa.extra')!.data.buffer)));
  await assert.rejects(readSafetensors(path, { first: () => ['nope'] }), /no tensor "nope" to read first/);
});

test('the digest hashed while reading is the weights digest of the bytes read', async () => {
  const { path } = await bigProtected();
  const { file, hashed } = await readProtectedFile(path);
  assert.deepEqual(hashed, weightsDigest(file.tensors));
  assert.equal((await readProtectedFile(path, { hash: false })).hashed, undefined);
  // A file with no tensors at all still gets the digest of nothing.
  const empty = join(dir, 'empty.safetensors');
  writeFileSync(empty, serializeSafetensors(new Map(), { a: 'b' }));
  assert.deepEqual((await readProtectedFile(empty)).hashed, weightsDigest(new Map()));
});

test('unlockModel from a path restores bit-exactly, verified; a byte changed on disk anywhere in the weights is refused', async () => {
  const { path, tokens, original } = await bigProtected();
  const u = await unlockModel(path, tokens[2]);
  assert.equal(u.weightsVerified, true);
  assert.equal(u.version, 3);
  assert.deepEqual([...u.file.tensors.keys()].sort(), [...original.keys()].sort());
  for (const [name, e] of original) assert.ok(sameBytes(u.file.tensors.get(name)!.data, e.data), name);
  assert.equal((await verifyModel(path)).weightsVerified, true);
  const bytes = new Uint8Array(readFileSync(path));
  const layout = await readSafetensors(path);
  for (const name of ['aaa.extra', 'm.steps', 'head.bias']) {
    const e = layout.tensors.get(name)!;
    for (const at of [e.data.byteOffset, e.data.byteOffset + e.data.byteLength - 1]) {
      const changed = bytes.slice();
      changed[at] ^= 0x10;
      const bad = join(dir, 'changed.safetensors');
      writeFileSync(bad, changed);
      await assert.rejects(unlockModel(bad, tokens[0]), (err: unknown) => err instanceof ProtectError && err.code === 'WEIGHTS_MODIFIED', `${name} @${at}`);
      await assert.rejects(verifyModel(bad), (err: unknown) => err instanceof ProtectError && err.code === 'WEIGHTS_MODIFIED', `${name} @${at}`);
      // Told the weights were verified before, unlock skips exactly that check (and no other).
      assert.equal((await unlockModel(bad, tokens[0], { verifyWeights: false })).weightsVerified, false);
    }
  }
  // A changed section byte is refused by its signed digest, not by the weights digest.
  const s = layout.tensors.get(sectionTensorName(1))!;
  const changed = bytes.slice();
  changed[s.data.byteOffset + 5] ^= 1;
  const bad = join(dir, 'section.safetensors');
  writeFileSync(bad, changed);
  await assert.rejects(unlockModel(bad, tokens[0], { verifyWeights: false }), (err: unknown) => err instanceof ProtectError && err.code === 'BAD_SIGNATURE');
});

test('a signature verified once is not verified again, and any change to what it signs is still refused', async () => {
  const net = tinyNet(8);
  const p = await protectModel(fileOf(net, { input_mean: '[0.5]' }), { ratio: 0.25, tiers: 2 });
  net.dispose();
  for (let i = 0; i < 3; i++) assert.equal(unlock(p.file, p.tokens[1]).signed, true);
  const edited = { tensors: p.file.tensors, metadata: { ...p.file.metadata, input_mean: '[0.4]' } };
  assert.throws(
    () => unlock(edited, p.tokens[1]),
    (e: unknown) => e instanceof ProtectError && e.code === 'BAD_SIGNATURE',
  );
  const entry = JSON.parse(p.file.metadata[SIGNATURE_METADATA_KEY]);
  const other = Buffer.from(entry.signature, 'base64');
  other[10] ^= 1;
  const badSignature = { tensors: p.file.tensors, metadata: { ...p.file.metadata, [SIGNATURE_METADATA_KEY]: JSON.stringify({ ...entry, signature: other.toString('base64') }) } };
  assert.throws(
    () => unlock(badSignature, p.tokens[1]),
    (e: unknown) => e instanceof ProtectError && e.code === 'BAD_SIGNATURE',
  );
  assert.equal(unlock(p.file, p.tokens[0]).tier, 1);
});

test('a protected file loads as published (tier 0): the section tensors are not model tensors', async () => {
  const net = tinyNet(2);
  const p = await protectModel(fileOf(net), { ratio: 0.25, tiers: 2 });
  const { loadWeightsSync } = await import('../../src/models/weights.ts');
  loadWeightsSync(net, p.file); // strict: an unexpected __nnlock__/ tensor would throw
  net.dispose();
});

test('a small file is read in one read: first, onFirst, then every tensor once, as for a large one', async () => {
  const net = tinyNet(4);
  const p = await protectModel(fileOf(net, { architecture: 'tiny' }), { ratio: 0.25, tiers: 2 });
  net.dispose();
  const path = join(dir, 'small.safetensors');
  await writeSafetensors(path, p.file.tensors, p.file.metadata);
  const events: string[] = [];
  const file = await readSafetensors(path, {
    first: () => [sectionTensorName(1)],
    onFirst: (f) => {
      events.push('first');
      assert.ok(sameBytes(f.tensors.get(sectionTensorName(1))!.data, p.file.tensors.get(sectionTensorName(1))!.data));
    },
    onTensor: (name) => void events.push(name),
  });
  assert.equal(events[0], 'first');
  assert.deepEqual(events.slice(1).sort(), [...file.tensors.keys()].sort());
  for (const [name, e] of p.file.tensors) assert.ok(sameBytes(file.tensors.get(name)!.data, e.data), name);
  await assert.rejects(readSafetensors(path, { first: () => ['nope'] }), /no tensor "nope" to read first/);
  // The result is the in-memory unlock's, for each tier's key.
  for (const token of p.tokens) {
    const fromPath = await unlockModel(path, token);
    const inMemory = unlock(p.file, token);
    assert.equal(fromPath.restored, inMemory.restored);
    for (const [name, e] of inMemory.file.tensors) assert.ok(sameBytes(fromPath.file.tensors.get(name)!.data, e.data), name);
  }
});

test('kernels put back while the file is read: each tier like the in-memory unlock, and wiped when a later check fails', async () => {
  const { path, tokens } = await bigProtected();
  const parsed = await readSafetensors(path);
  for (const [i, token] of tokens.entries()) {
    for (const verifyWeights of [true, false]) {
      const fromPath = await unlockModel(path, token, { verifyWeights });
      const inMemory = unlock(parsed, token, { verifyWeights });
      assert.equal(fromPath.restored, inMemory.restored, `tier ${i + 1}`);
      for (const [name, e] of inMemory.file.tensors) assert.ok(sameBytes(fromPath.file.tensors.get(name)!.data, e.data), `tier ${i + 1} ${name}`);
    }
  }
  // Restored in place, then given up (as when the weights digest or the read fails): wiped.
  const own = await readSafetensors(path);
  const opened = openUnlock(own, tokens[2], {}, 'later');
  const layer = opened.header.layers[0].name;
  const published = own.tensors.get(layer)!.data.slice();
  opened.restoreLayerInPlace(own, layer);
  assert.ok(!sameBytes(own.tensors.get(layer)!.data, published), 'kernels were put back');
  assert.deepEqual([...opened.restoredInPlace.keys()], [layer]);
  opened.discard();
  assert.ok(
    own.tensors.get(layer)!.data.every((b) => b === 0),
    'wiped',
  );
  // A weight changed on disk in a protected layer: refused although its kernels were put back as it was read.
  const bytes = new Uint8Array(readFileSync(path));
  const e = (await readSafetensors(path)).tensors.get(layer)!;
  bytes[e.data.byteOffset + 3] ^= 0x40;
  const bad = join(dir, 'changed-layer.safetensors');
  writeFileSync(bad, bytes);
  await assert.rejects(unlockModel(bad, tokens[2]), (err: unknown) => err instanceof ProtectError && err.code === 'WEIGHTS_MODIFIED');
});

test('sections of a large layer are decrypted field by field: bit-exact at every tier; a section the owner signed whose tag fails is refused', async () => {
  const net = tinyNet(8);
  const file = fileOf(net, { architecture: 'tiny' });
  net.dispose();
  // 131,072 kernels: 30% of them makes both sections larger than PARTS_FROM_BYTES.
  file.tensors.set('wide.weight', { dtype: 'F32', shape: [512, 256, 3, 3], data: new Uint8Array(Float32Array.from({ length: 512 * 256 * 9 }, (_, i) => Math.sin(i * 0.37)).buffer) });
  const masterKey = new Uint8Array(32).fill(11);
  const modelId = new Uint8Array(16).fill(12);
  const p = await protectModel(file, { ratio: 0.3, tiers: 2, masterToken: encodeKeyToken({ tier: 2, key: masterKey }), modelId });
  for (const tier of [1, 2]) assert.ok(p.file.tensors.get(sectionTensorName(tier))!.data.length >= PARTS_FROM_BYTES, `tier ${tier}'s section is decrypted in parts`);
  const path = join(dir, 'wide.safetensors');
  await writeSafetensors(path, p.file.tensors, p.file.metadata);
  const full = await unlockModel(path, p.tokens[1]);
  for (const [name, e] of file.tensors) assert.ok(sameBytes(full.file.tensors.get(name)!.data, e.data), name);
  const parsed = await readSafetensors(path);
  for (const token of p.tokens) {
    const fromPath = await unlockModel(path, token, { verifyWeights: false });
    const inMemory = unlock(parsed, token);
    assert.equal(fromPath.restored, inMemory.restored);
    for (const [name, e] of inMemory.file.tensors) assert.ok(sameBytes(fromPath.file.tensors.get(name)!.data, e.data), name);
  }
  // The owner's signature over a section whose ciphertext changed: only the AEAD tag can refuse it.
  const tampered = await readSafetensors(path);
  const sealed = tampered.tensors.get(sectionTensorName(2))!.data;
  sealed[sealed.length >> 1] ^= 0x20;
  const entry = parseSignature(tampered.metadata, 2);
  const digests = [1, 2].map((t) => sectionDigest(tampered.tensors.get(sectionTensorName(t))!.data));
  const signature = signMessage(ownerSigningKey(masterKey, modelId, 2), signatureMessage(bodyDigest(tampered.metadata), digests));
  tampered.metadata[SIGNATURE_METADATA_KEY] = serializeSignature({ ...entry, sections: digests.map((d) => Buffer.from(d).toString('hex')), signature: Buffer.from(signature).toString('base64') });
  const refusedTag = (err: unknown) => err instanceof KeyError && err.code === 'TAMPERED_OR_WRONG_KEY' && /tier 2 failed authentication/.test(err.message);
  assert.throws(() => unlock(tampered, p.tokens[1]), refusedTag);
  const bad = join(dir, 'wide-tampered.safetensors');
  await writeSafetensors(bad, tampered.tensors, tampered.metadata);
  await assert.rejects(unlockModel(bad, p.tokens[1], { verifyWeights: false }), refusedTag);
  // Tier 1's section is intact: its key still unlocks.
  assert.equal((await unlockModel(bad, p.tokens[0])).tier, 1);
});

test('leaks no tensors', checkLeaks);
