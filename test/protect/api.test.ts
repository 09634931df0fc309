// The protection API (src/protect/api.ts, `nnlock/protect`): tokens only, every tier, `into`,
// the one-way key chain, the one importance dispatcher, atomic writing, and the README snippet.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { isReservedTensorName } from '../../src/io/safetensors.ts';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { type Tensor, keep, manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { randn, randint } from '../../src/ops/creation.ts';
import { equal } from '../../src/ops/compare.ts';
import { narrow } from '../../src/ops/shape.ts';
import type { Batch, BatchSource } from '../../src/data/batch-source.ts';
import { KeyError, decodeKeyToken, encodeKeyToken } from '../../src/crypto/index.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { STRATEGIES, computeImportance, convLayers, deriveKeys, isWeightOnly, defaultKeysPath, protectModel, readKeyToken, unlockModel } from '../../src/protect/index.ts';
import { taskLoss } from '../../src/protect/importance/data.ts';
import { weightImportance } from '../../src/protect/importance/baselines.ts';
import { pssImportance } from '../../src/protect/importance/pss.ts';
import { taylorImportance } from '../../src/protect/importance/taylor.ts';
import { TinyNet, changedKernels, fileOf, sameBytes, testKey, tinyNet } from './fixtures.ts';

const checkLeaks = trackLeaks();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-api-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const net = tinyNet(2);
const original = fileOf(net, { note: 'kept' });
net.dispose();

/** Uint8Arrays anywhere in a value, except the tensors' own bytes. */
function byteArrays(v: unknown, where = 'result', seen = new Set<unknown>()): string[] {
  if (v instanceof Uint8Array) return [where];
  if (typeof v !== 'object' || v === null || seen.has(v)) return [];
  seen.add(v);
  if (v instanceof Map) return [...v].flatMap(([k, x]) => (k === 'tensors' ? [] : byteArrays(x, `${where}.${String(k)}`, seen)));
  return Object.entries(v).flatMap(([k, x]) => (k === 'tensors' ? [] : byteArrays(x, `${where}.${k}`, seen)));
}

test('protectModel gives tokens only: no key bytes in the result, a token per tier', async () => {
  const p = await protectModel(original, { ratio: 0.2, tiers: 3 });
  assert.deepEqual(byteArrays(p), []);
  assert.equal(p.tokens.length, 3);
  p.tokens.forEach((t, i) => assert.match(t, new RegExp(`^nnlock1-t${i + 1}-`)));
  assert.equal(p.header.tiers, 3);
  assert.equal(p.strategy, 'l1');
  assert.equal(p.file.metadata.note, 'kept');
  // A fixed master token reproduces the same protected file; a fresh key does not.
  const masterToken = encodeKeyToken({ tier: 2, key: testKey() });
  const a = await protectModel(original, { ratio: 0.2, tiers: 2, masterToken, modelId: '05'.repeat(16) });
  const b = await protectModel(original, { ratio: 0.2, masterToken, modelId: '05'.repeat(16) });
  // The tokens given back carry the model's signer (the owner's public key); the key is the one given.
  const back = decodeKeyToken(a.tokens[1]);
  assert.equal(back.tier, 2);
  assert.ok(sameBytes(back.key, testKey()));
  assert.equal(`ed25519:${Buffer.from(back.signer!).toString('hex')}`, a.header.signer);
  // The same weights and decoys; the sealed sections (reserved tensors) differ by their random nonces.
  for (const [name, e] of a.file.tensors) if (!isReservedTensorName(name)) assert.ok(sameBytes(e.data, b.file.tensors.get(name)!.data), name);
  assert.ok(!sameBytes(p.file.tensors.get('conv2.weight')!.data, a.file.tensors.get('conv2.weight')!.data));
  await assert.rejects(protectModel(original, { tiers: 3, masterToken }), /master token is of tier 2/);
  await assert.rejects(protectModel(a.file), /already protected/);
  await assert.rejects(protectModel(original, { importance: 'pss' }), /does not say its architecture/);
});

test('unlockModel: every tier with its token, nested; wrong tokens refused; `into` loads the model', async () => {
  const p = await protectModel(original, { ratio: 0.2, tiers: 3 });
  const layer = convLayers(original.tensors).find((l) => l.name === 'conv2.weight')!;
  let before = Infinity;
  for (let m = 1; m <= 3; m++) {
    const u = await unlockModel(p.file, p.tokens[m - 1]);
    assert.equal(u.tier, m);
    assert.equal(u.keyTier, m);
    const wrong = changedKernels(original.tensors.get(layer.name)!.data, u.file.tensors.get(layer.name)!.data, layer.kernelBytes).length;
    assert.ok(wrong < before, `tier ${m} restores more than tier ${m - 1}`);
    before = wrong;
  }
  assert.equal(before, 0);
  const low = await unlockModel(p.file, p.tokens[2], { tier: 1 });
  assert.equal(low.tier, 1);
  await assert.rejects(unlockModel(p.file, p.tokens[0], { tier: 2 }), (e: unknown) => e instanceof KeyError && e.code === 'TIER_TOO_LOW');
  await assert.rejects(unlockModel(p.file, encodeKeyToken({ tier: 3, key: testKey(9) })), /wrong key/);
  await assert.rejects(unlockModel(p.file, 'nnlock1-t1-nope'), /malformed key token/);
  const other = await protectModel(original, { ratio: 0.2, tiers: 3 });
  await assert.rejects(unlockModel(other.file, p.tokens[2]), /wrong key/);

  const into = new TinyNet();
  const ref = new TinyNet();
  try {
    const s = await unlockModel(p.file, p.tokens[2], { into });
    assert.equal(s.tier, 3);
    assert.ok(!('file' in s));
    (await import('../../src/models/weights.ts')).loadWeightsSync(ref, original);
    scope(() => {
      manualSeed(5);
      const x = randn([2, 3, 6, 6]);
      assert.ok(equal(into.forward(x), ref.forward(x)));
    });
  } finally {
    into.dispose();
    ref.dispose();
  }
});

test('deriveKeys: lower tiers only, the same tokens protectModel gave', async () => {
  const p = await protectModel(original, { ratio: 0.2, tiers: 3 });
  assert.deepEqual(
    await deriveKeys(p.file, p.tokens[2]),
    p.tokens.map((token, i) => ({ tier: i + 1, token })),
  );
  assert.deepEqual(
    await deriveKeys(p.header, p.tokens[1]),
    p.tokens.slice(0, 2).map((token, i) => ({ tier: i + 1, token })),
  );
  assert.deepEqual(await deriveKeys(p.file, p.tokens[2], [1]), [{ tier: 1, token: p.tokens[0] }]);
  await assert.rejects(deriveKeys(p.file, p.tokens[1], [3]), (e: unknown) => e instanceof KeyError && e.code === 'TIER_TOO_LOW');
  await assert.rejects(deriveKeys(p.file, encodeKeyToken({ tier: 2, key: testKey(3) })), /wrong key/);
});

/** A few fixed classification batches for TinyNet (3 channels in, 4 classes out). */
function tinyData(): BatchSource & { dispose(): void } {
  manualSeed(21);
  const batches: Batch[] = [0, 1].map(() => keep(noGrad(() => ({ x: randn([8, 3, 6, 6]), y: randint(0, 4, [8]) }))));
  return {
    batchCount: batches.length,
    *epoch() {
      for (const b of batches) yield noGrad(() => ({ x: narrow(b.x, 0, 0, 8) as Tensor, y: narrow(b.y, 0, 0, 8) as Tensor }));
    },
    dispose: () =>
      batches.forEach((b) => {
        b.x.dispose();
        b.y.dispose();
      }),
  };
}

test('computeImportance gives what the strategy functions give when called directly', async () => {
  const layers = convLayers(original.tensors);
  for (const s of STRATEGIES.filter(isWeightOnly)) {
    const imp = await computeImportance(s, original, undefined, { seed: 4 });
    const direct = weightImportance(s, original.tensors, layers, 4);
    for (const [name, v] of direct) assert.deepEqual(Array.from(imp.scores.get(name)!.scores), Array.from(v.scores), `${s} ${name}`);
    assert.equal(imp.strategy, s);
    assert.match(imp.source!, /^[0-9a-f]{64}$/);
  }
  const data = tinyData();
  const model = new TinyNet();
  try {
    (await import('../../src/models/weights.ts')).loadWeightsSync(model, original);
    const loss = taskLoss('classification');
    const pss = await computeImportance('pss', model, data, { pss: { epochs: 1 }, seed: 2, layers: ['conv2'] });
    const pssDirect = await pssImportance(model, data, { loss, epochs: 1, seed: 2, layers: ['conv2.weight'] });
    assert.deepEqual([...pss.scores.keys()], ['conv2.weight']);
    assert.deepEqual(Array.from(pss.scores.get('conv2.weight')!.scores), Array.from(pssDirect.get('conv2.weight')!.scores));
    const taylor = await computeImportance('taylor', model, data, { batches: 2 });
    const taylorDirect = await taylorImportance(model, data, { loss, batches: 2, layers: ['conv1.weight', 'conv2.weight'] });
    for (const [name, v] of taylorDirect) assert.deepEqual(Array.from(taylor.scores.get(name)!.scores), Array.from(v.scores), name);
    // The computed scores protect exactly as the map they hold.
    const viaFile = await protectModel(original, { importance: taylor, masterToken: encodeKeyToken({ tier: 3, key: testKey() }), modelId: '01'.repeat(16) });
    const viaMap = await protectModel(original, { importance: taylorDirect, masterToken: encodeKeyToken({ tier: 3, key: testKey() }), modelId: '01'.repeat(16) });
    for (const [name, e] of viaFile.file.tensors) if (!isReservedTensorName(name)) assert.ok(sameBytes(e.data, viaMap.file.tensors.get(name)!.data), name);
    const otherNet = tinyNet(9);
    const otherWeights = fileOf(otherNet);
    otherNet.dispose();
    await assert.rejects(protectModel(otherWeights, { importance: taylor }), /computed on other weights/);
  } finally {
    model.dispose();
    data.dispose();
  }
  await assert.rejects(computeImportance('taylor', original), /needs training data/);
  await assert.rejects(computeImportance('bogus', original), /unknown importance strategy 'bogus'/);
});

test('write: key file outside the folder (0600), never over existing files, no key file left for a model that failed', async () => {
  const p = await protectModel(original, { ratio: 0.2 });
  const model = path.join(dir, 'm.protected.safetensors');
  const keysDir = path.join(dir, 'keys-home');
  const w = await p.write(model, { keysDir });
  assert.deepEqual(w, { model, keys: defaultKeysPath(model, keysDir) });
  assert.ok(!w.keys.startsWith(`${dir}/m.`) && path.dirname(w.keys) === keysDir, 'the key file is not beside the model');
  assert.equal(fs.statSync(w.keys).mode & 0o777, 0o600);
  assert.equal(fs.statSync(keysDir).mode & 0o777, 0o700);
  assert.equal(await readKeyToken(w.keys), p.tokens[2]);
  assert.equal((await unlockModel(model, await readKeyToken(w.keys))).tier, 3);
  await assert.rejects(p.write(model, { keysDir }), /exists \(use --force/);
  await p.write(model, { keysDir, force: true });
  const keys = path.join(dir, 'lost.keys');
  await assert.rejects(p.write(path.join(dir, 'no-such-dir', 'm.safetensors'), { keys }), /folder .*no-such-dir does not exist/);
  assert.ok(!fs.existsSync(keys));
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.includes('nnlock-')),
    [],
    'no temporaries, journal or backup left',
  );
});

/** The README's "protect and unlock in code" example, run as written against nnlock/protect. */
export const SNIPPET = `import { protectModel, unlockModel } from 'nnlock/protect';

const locked = await protectModel('model.safetensors', { ratio: 0.08, tiers: 3 });
await locked.write('model.protected.safetensors'); // and its key file (0600), outside the folder
const [tier1] = locked.tokens; // hand tokens[m - 1] to a user of tier m

const user = await unlockModel('model.protected.safetensors', tier1);
console.log(\`tier \${user.tier} of \${user.tiers}: \${user.restored} kernels restored\`);

const owner = await unlockModel('model.protected.safetensors', locked.tokens.at(-1)!);
console.log(owner.file.tensors.size, 'tensors, bit-identical to the original');
// unlockModel(file, token, { into: model }) loads the weights into a model instead
`;

test('the "protect and unlock in code" snippet runs as written', async () => {
  assert.ok(SNIPPET.split('\n').filter((l) => l.trim()).length <= 15);
  const work = fs.mkdtempSync(path.join(dir, 'snippet-'));
  await writeSafetensors(path.join(work, 'model.safetensors'), original.tensors, original.metadata);
  const api = path.resolve(import.meta.dirname, '../../src/protect/index.ts');
  fs.writeFileSync(path.join(work, 'snippet.mts'), SNIPPET.replace("'nnlock/protect'", JSON.stringify(api)));
  const keysDir = path.join(work, 'keys');
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), 'snippet.mts'], { cwd: work, encoding: 'utf8', env: { ...process.env, NNLOCK_KEYS_DIR: keysDir } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tier 1 of 3: \d+ kernels restored/);
  assert.match(r.stdout, new RegExp(`^${original.tensors.size} tensors`, 'm'));
  assert.equal(decodeKeyToken(await readKeyToken(defaultKeysPath(path.join(fs.realpathSync(work), 'model.protected.safetensors'), keysDir))).tier, 3);
});

test('leaks no tensors', checkLeaks);
