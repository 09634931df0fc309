// Protect and unlock end to end on a tiny conv model: key chain, tiers, sealing, tamper cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { randn } from '../../src/ops/creation.ts';
import { allclose, equal } from '../../src/ops/compare.ts';
import { KeyError, decodeKeyToken, encodeKeyToken } from '../../src/crypto/index.ts';
import { readSafetensors, serializeSafetensors, parseSafetensors } from '../../src/io/safetensors.ts';
import { PROTECT_METADATA_KEY, ProtectError, convLayers, deriveKeys, inspectProtected, readKeyToken, unlockModel, weightsDigest, formatKeyFile, writeKeyFile } from '../../src/protect/index.ts';
import { sectionTensorName } from '../../src/protect/format.ts';
import { isReservedTensorName } from '../../src/io/safetensors.ts';
import { type ProtectResult, protect, tierTokens } from '../../src/protect/protect.ts';
import { unlock } from '../../src/protect/unlock.ts';
import { rankKernels } from '../../src/protect/selection.ts';
import { weightImportance } from '../../src/protect/importance/baselines.ts';
import { TinyNet, changedKernels, fileOf, sameBytes, testKey, tinyNet } from './fixtures.ts';
import { type SafetensorsFile } from '../../src/io/safetensors.ts';
import { loadWeightsSync } from '../../src/models/weights.ts';

const checkLeaks = trackLeaks();

const model = tinyNet(1);
const original = fileOf(model, { architecture: 'tiny', note: 'kept' });
model.dispose();
const layers = convLayers(original.tensors);
const importance = weightImportance('l1', original.tensors, layers);
const RATIO = 0.2;

let protectedResult: ProtectResult;
let tokens: string[];

async function protectedModel(): Promise<ProtectResult> {
  protectedResult ??= await protect(original, { importance, ratio: RATIO, tiers: 3, masterKey: testKey(), modelId: new Uint8Array(16).fill(5) });
  tokens ??= tierTokens(protectedResult.masterKey, protectedResult.modelId, 3);
  return protectedResult;
}

/** A copy of a file with one tensor's bytes replaced, or one metadata entry. */
function edited(file: SafetensorsFile, edit: { tensor?: [string, (b: Uint8Array) => void]; meta?: [string, string] }): SafetensorsFile {
  const tensors = new Map(file.tensors);
  if (edit.tensor) {
    const [name, change] = edit.tensor;
    const data = tensors.get(name)!.data.slice();
    change(data);
    tensors.set(name, { ...tensors.get(name)!, data });
  }
  const metadata = { ...file.metadata };
  if (edit.meta) metadata[edit.meta[0]] = edit.meta[1];
  return { tensors, metadata };
}

test('the protected file has the original names, shapes and dtypes, its sections as reserved tensors, and our metadata beside the original', async () => {
  const r = await protectedModel();
  assert.deepEqual([...r.file.tensors.keys()].filter((n) => !isReservedTensorName(n)).sort(), [...original.tensors.keys()].sort());
  for (const [name, e] of original.tensors) {
    const p = r.file.tensors.get(name)!;
    assert.equal(p.dtype, e.dtype);
    assert.deepEqual(p.shape, e.shape);
  }
  assert.equal(r.file.metadata.note, 'kept');
  assert.equal(r.file.metadata.architecture, 'tiny');
  for (let m = 1; m <= 3; m++) assert.equal(r.file.tensors.get(sectionTensorName(m))?.dtype, 'U8');
  assert.equal([...r.file.tensors.keys()].filter(isReservedTensorName).length, 3);
  const header = inspectProtected(r.file);
  assert.equal(header.tiers, 3);
  assert.equal(header.modelId, '05'.repeat(16));
  assert.equal(header.architecture, 'tiny');
  assert.deepEqual(
    header.layers.map((l) => l.name),
    ['conv1.weight', 'conv2.weight'],
  );
  assert.equal(header.weightsDigest, Buffer.from(weightsDigest(r.file.tensors)).toString('hex'));
  // A plain safetensors reader loads it, and it round-trips through bytes.
  const reread = parseSafetensors(serializeSafetensors(r.file.tensors, r.file.metadata));
  assert.deepEqual([...reread.tensors.keys()].sort(), [...r.file.tensors.keys()].sort());
  assert.equal(unlock(reread, tokens[2]).restored, unlock(r.file, tokens[2]).restored);
  // Only the selected kernels changed: ⌊N·ratio⌋ + 1 per layer; biases and the head are untouched.
  assert.deepEqual(
    r.layers.map((l) => l.selected),
    [Math.floor(24 * RATIO) + 1, Math.floor(128 * RATIO) + 1],
  );
  for (const l of layers) {
    const changed = changedKernels(original.tensors.get(l.name)!.data, r.file.tensors.get(l.name)!.data, l.kernelBytes);
    const ranked = [...rankKernels(importance.get(l.name)!)].slice(0, r.layers.find((s) => s.name === l.name)!.selected);
    assert.deepEqual(
      changed,
      ranked.sort((a, b) => a - b),
    );
  }
  for (const name of ['conv1.bias', 'head.weight', 'head.bias']) assert.ok(sameBytes(r.file.tensors.get(name)!.data, original.tensors.get(name)!.data));
});

test('the full tier restores every tensor bit-identically, and the original metadata', async () => {
  const r = await protectedModel();
  for (const key of [tokens[2], encodeKeyToken({ tier: 3, key: r.masterKey })]) {
    const u = unlock(r.file, key);
    assert.equal(u.tier, 3);
    assert.equal(
      u.restored,
      r.layers.reduce((n, l) => n + l.selected, 0),
    );
    for (const [name, e] of original.tensors) assert.ok(sameBytes(u.file.tensors.get(name)!.data, e.data), name);
    assert.deepEqual(u.file.metadata, original.metadata);
    assert.deepEqual(weightsDigest(u.file.tensors), weightsDigest(original.tensors));
    assert.deepEqual(serializeSafetensors(u.file.tensors, u.file.metadata), serializeSafetensors(original.tensors, original.metadata));
  }
});

test('intermediate tiers restore exactly their prefix of each ranking, nested', async () => {
  const r = await protectedModel();
  let prev: Map<string, number[]> | null = null;
  for (let m = 0; m <= 3; m++) {
    const u = unlock(r.file, tokens[2], { tier: m });
    assert.equal(u.tier, m);
    const still = new Map<string, number[]>();
    for (const l of layers) {
      const summary = r.layers.find((s) => s.name === l.name)!;
      const ranked = [...rankKernels(importance.get(l.name)!)].slice(0, summary.selected);
      const wrong = changedKernels(original.tensors.get(l.name)!.data, u.file.tensors.get(l.name)!.data, l.kernelBytes);
      // Kernels still holding decoys are exactly the ranks past this tier's prefix.
      assert.deepEqual(
        wrong,
        ranked.slice(summary.perTier[m]).sort((a, b) => a - b),
        `tier ${m} ${l.name}`,
      );
      still.set(l.name, wrong);
      if (prev) assert.ok(wrong.every((k) => prev!.get(l.name)!.includes(k)));
    }
    if (m < 3) assert.equal(u.file.metadata['nnlock.unlocked-tier'], `${m}/3`);
    prev = still;
  }
  // Each key unlocks its own tier by default, the same as the master key asked for that tier.
  for (let m = 1; m <= 3; m++) {
    const own = unlock(r.file, tokens[m - 1]);
    const viaMaster = unlock(r.file, tokens[2], { tier: m });
    assert.equal(own.tier, m);
    assert.equal(own.keyTier, m);
    for (const l of layers) assert.ok(sameBytes(own.file.tensors.get(l.name)!.data, viaMaster.file.tensors.get(l.name)!.data));
  }
});

test('tier-0 outputs differ from the original; the full tier gives identical outputs', () =>
  scope(async () => {
    const r = await protectedModel();
    const x = (manualSeed(3), randn([4, 3, 8, 8]));
    const net = (w: SafetensorsFile) => {
      const m = new TinyNet();
      loadWeightsSync(m, w);
      return m;
    };
    const [orig, tier0] = [original, r.file].map(net);
    const full = new TinyNet();
    loadWeightsSync(full, unlock(r.file, tokens[2]).file);
    try {
      noGrad(() => {
        const yo = orig.forward(x);
        assert.ok(!allclose(tier0.forward(x), yo, { atol: 1e-3 }));
        assert.ok(equal(full.forward(x), yo));
      });
    } finally {
      for (const m of [orig, tier0, full]) m.dispose();
    }
  }));

test('key chain: tokens of lower tiers derive from higher ones only', async () => {
  const r = await protectedModel();
  const header = inspectProtected(r.file);
  assert.deepEqual(await deriveKeys(header, tokens[2], [1]), [{ tier: 1, token: tokens[0] }]);
  assert.deepEqual(await deriveKeys(header, tokens[1], [1]), [{ tier: 1, token: tokens[0] }]);
  assert.deepEqual(await deriveKeys(header, tokens[1], [2]), [{ tier: 2, token: tokens[1] }]);
  await assert.rejects(deriveKeys(header, tokens[0], [2]), (e: unknown) => e instanceof KeyError && e.code === 'TIER_TOO_LOW');
  await assert.rejects(deriveKeys(header, encodeKeyToken({ tier: 3, key: testKey(8) }), [1]), (e: unknown) => e instanceof KeyError && e.code === 'WRONG_KEY');
});

test('a lower-tier key asking for a higher tier: TIER_TOO_LOW', async () => {
  const r = await protectedModel();
  assert.throws(
    () => unlock(r.file, tokens[0], { tier: 2 }),
    (e: unknown) => e instanceof KeyError && e.code === 'TIER_TOO_LOW' && /tier-1 key cannot unlock tier 2/.test(e.message),
  );
  assert.throws(
    () => unlock(r.file, tokens[1], { tier: 3 }),
    (e: unknown) => e instanceof KeyError && e.code === 'TIER_TOO_LOW',
  );
  assert.throws(
    () => unlock(r.file, tokens[2], { tier: 4 }),
    (e: unknown) => e instanceof ProtectError && e.code === 'BAD_TIER',
  );
});

test('a wrong key is reported as such before any decryption', async () => {
  const r = await protectedModel();
  const wrong = encodeKeyToken({ tier: 3, key: testKey(42) });
  assert.throws(
    () => unlock(r.file, wrong),
    (e: unknown) => e instanceof KeyError && e.code === 'WRONG_KEY' && /wrong key/.test(e.message),
  );
  // A right key presented as another tier is wrong too, and so is a tier the model lacks.
  const misTiered = encodeKeyToken({ tier: 2, key: decodeKeyToken(tokens[2]).key });
  assert.throws(
    () => unlock(r.file, misTiered),
    (e: unknown) => e instanceof KeyError && e.code === 'WRONG_KEY',
  );
  assert.throws(
    () => unlock(r.file, encodeKeyToken({ tier: 7, key: testKey() })),
    (e: unknown) => e instanceof KeyError && e.code === 'WRONG_KEY',
  );
  // The key of another protection of the same weights does not fit either.
  const other = await protect(original, { importance, ratio: RATIO, tiers: 3 });
  assert.throws(
    () => unlock(other.file, tokens[2]),
    (e: unknown) => e instanceof KeyError && e.code === 'WRONG_KEY',
  );
});

test('malformed tokens are refused without echoing them', async () => {
  const r = await protectedModel();
  const t = tokens[2];
  const typo = t.slice(0, 20) + (t[20] === 'A' ? 'B' : 'A') + t.slice(21);
  for (const bad of ['', 'hello', t.slice(0, -1), typo, t.replace('nnlock1', 'nnlock2')]) {
    assert.throws(
      () => unlock(r.file, bad),
      (e: unknown) => e instanceof KeyError && e.code === 'MALFORMED_TOKEN' && !e.message.includes(t.slice(15, 40)),
    );
  }
});

test('a flipped byte in a sealed section fails verification; lower tiers still open', async () => {
  const r = await protectedModel();
  const section = (tier: number) => sectionTensorName(tier);
  for (const tier of [1, 2, 3]) {
    const length = r.file.tensors.get(section(tier))!.data.length;
    for (const at of [0, 20, length - 1]) {
      const bad = edited(r.file, { tensor: [section(tier), (b) => void (b[at] ^= 0x01)] });
      // Signed versions: the section is not the one the owner signed (its AEAD tag would fail next).
      assert.throws(
        () => unlock(bad, tokens[2]),
        (e: unknown) => e instanceof ProtectError && e.code === 'BAD_SIGNATURE' && e.message.includes(`tier ${tier}`),
      );
      if (tier > 1) assert.equal(unlock(bad, tokens[2], { tier: tier - 1 }).tier, tier - 1);
    }
  }
  // Swapping two sections fails too (each is bound to its tier).
  const swapped = { tensors: new Map(r.file.tensors), metadata: r.file.metadata };
  swapped.tensors.set(section(1), r.file.tensors.get(section(2))!);
  swapped.tensors.set(section(2), r.file.tensors.get(section(1))!);
  assert.throws(
    () => unlock(swapped, tokens[2]),
    (e: unknown) => e instanceof ProtectError && e.code === 'BAD_SIGNATURE',
  );
  // A missing section, one of another dtype, or a reserved tensor that is no section is a clear format error.
  const without = new Map(r.file.tensors);
  without.delete(section(2));
  assert.throws(() => unlock({ tensors: without, metadata: r.file.metadata }, tokens[2]), /section of tier 2 .* is missing/);
  const asF32 = new Map(r.file.tensors);
  const s1 = r.file.tensors.get(section(1))!;
  asF32.set(section(1), { dtype: 'I8', shape: s1.shape, data: s1.data });
  assert.throws(() => unlock({ tensors: asF32, metadata: r.file.metadata }, tokens[2]), /1-D U8 tensor/);
  for (const extra of ['__nnlock__/other', '__nnlock__/tier-01', '__nnlock__/tier-0']) {
    const more = new Map(r.file.tensors).set(extra, { dtype: 'U8', shape: [1], data: new Uint8Array(1) });
    assert.throws(
      () => unlock({ tensors: more, metadata: r.file.metadata }, tokens[2]),
      (e: unknown) => e instanceof ProtectError && e.code === 'MALFORMED' && /reserved prefix/.test(e.message),
      extra,
    );
  }
});

test('a changed decoy (or any weight) is reported as modified weights', async () => {
  const r = await protectedModel();
  const decoyKernel = [...rankKernels(importance.get('conv2.weight')!)][0];
  const kb = layers[1].kernelBytes;
  const changedDecoy = edited(r.file, {
    tensor: [
      'conv2.weight',
      (b) => {
        b[decoyKernel * kb] ^= 0x01;
      },
    ],
  });
  const changedBias = edited(r.file, {
    tensor: [
      'head.bias',
      (b) => {
        b[0] ^= 0x80;
      },
    ],
  });
  for (const bad of [changedDecoy, changedBias]) {
    for (const tier of [1, 3]) {
      assert.throws(
        () => unlock(bad, tokens[2], { tier }),
        (e: unknown) => e instanceof ProtectError && e.code === 'WEIGHTS_MODIFIED' && /the protected weights were modified/.test(e.message),
      );
    }
  }
  // Changing the weights and recording their new digest is caught by the owner's signature (and,
  // for whoever cannot sign, by the sections' AAD: test/protect/integrity.test.ts).
  const header = JSON.parse(changedDecoy.metadata[PROTECT_METADATA_KEY]);
  header.weightsDigest = Buffer.from(weightsDigest(changedDecoy.tensors)).toString('hex');
  const forged = edited(changedDecoy, { meta: [PROTECT_METADATA_KEY, JSON.stringify(header)] });
  assert.throws(
    () => unlock(forged, tokens[2]),
    (e: unknown) => e instanceof ProtectError && e.code === 'BAD_SIGNATURE',
  );
});

test('files: key file (0600), its highest token, unlockModel from a path', async () => {
  const r = await protectedModel();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-vault-'));
  try {
    const prot = path.join(dir, 'model.protected.safetensors');
    fs.writeFileSync(prot, serializeSafetensors(r.file.tensors, r.file.metadata));
    const keyPath = path.join(dir, 'model.keys');
    await writeKeyFile(keyPath, formatKeyFile({ tokens, modelId: r.header.modelId, tiers: 3 }));
    assert.equal(fs.statSync(keyPath).mode & 0o777, 0o600);
    await assert.rejects(writeKeyFile(keyPath, 'x'), /refusing to overwrite/);
    const key = await readKeyToken(keyPath);
    assert.equal(key, tokens[2]);
    const u = await unlockModel(prot, key);
    assert.equal(u.tier, 3);
    const two = await unlockModel(prot, tokens[1]);
    assert.equal(two.file.metadata['nnlock.unlocked-tier'], '2/3');
    await assert.rejects(unlockModel(prot, encodeKeyToken({ tier: 3, key: testKey(9) })), /wrong key/);
    await assert.rejects(unlockModel(prot, tokens[0], { tier: 3 }), /cannot unlock tier 3/);
    await assert.rejects(unlockModel(path.join(dir, 'missing.safetensors'), tokens[2]), /no such file/);
    await assert.rejects(readKeyToken(path.join(dir, 'missing.keys')), /no such file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('files read from disk (Node Buffers, views into one file buffer) are never modified in place', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-vault-'));
  try {
    const plain = path.join(dir, 'plain.safetensors');
    fs.writeFileSync(plain, serializeSafetensors(original.tensors, original.metadata));
    const fromDisk = await readSafetensors(plain);
    const r = await protect(fromDisk, { importance, ratio: RATIO, tiers: 3, masterKey: testKey(), modelId: new Uint8Array(16).fill(5) });
    const expected = await protectedModel();
    for (const [name, e] of original.tensors) {
      assert.ok(sameBytes(fromDisk.tensors.get(name)!.data, e.data), `source ${name} untouched`);
      assert.ok(sameBytes(r.file.tensors.get(name)!.data, expected.file.tensors.get(name)!.data), `same decoys in ${name}`);
    }
    const prot = path.join(dir, 'prot.safetensors');
    fs.writeFileSync(prot, serializeSafetensors(r.file.tensors, r.file.metadata));
    const protFromDisk = await readSafetensors(prot);
    const u = unlock(protFromDisk, tokens[2]);
    for (const [name, e] of original.tensors) {
      assert.ok(sameBytes(u.file.tensors.get(name)!.data, e.data), name);
      assert.ok(sameBytes(protFromDisk.tensors.get(name)!.data, r.file.tensors.get(name)!.data), `protected ${name} untouched`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('protect refuses an already protected file and unknown layers; unlock refuses a plain file', async () => {
  const r = await protectedModel();
  await assert.rejects(protect(r.file, { importance, ratio: RATIO }), (e: unknown) => e instanceof ProtectError && e.code === 'ALREADY_PROTECTED');
  await assert.rejects(protect(original, { importance, ratio: RATIO, layers: ['head'] }), /cannot protect layer 'head': it is F32\[4, 16\], not a conv weight/);
  await assert.rejects(protect(original, { importance, ratio: RATIO, layers: ['nope'] }), /no such tensor/);
  assert.throws(
    () => unlock(original, tokens[2]),
    (e: unknown) => e instanceof ProtectError && e.code === 'NOT_PROTECTED',
  );
  // Layers named by module or weight name; the others stay untouched.
  const only = await protect(original, { importance, ratio: RATIO, layers: ['conv2'], tiers: 2 });
  assert.deepEqual(
    only.header.layers.map((l) => l.name),
    ['conv2.weight'],
  );
  assert.ok(sameBytes(only.file.tensors.get('conv1.weight')!.data, original.tensors.get('conv1.weight')!.data));
});

test('leaks no tensors', checkLeaks);
