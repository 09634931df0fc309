// nnlock ⇄ nnlock_torch (python/nnlock_torch, the PyTorch user's side): a model protected by nnlock
// unlocks in Python at every tier bit for bit as nnlock unlocks it, gives the accuracy `nnlock model
// eval` gives at that tier, and every wrong key or modified file raises; images encrypted in Python
// decrypt in nnlock and the reverse. Runs /usr/bin/python3 (or $NNLOCK_TORCH_PYTHON), which must
// have torch, numpy and cryptography (scripts/setup.sh installs Debian's python3-torch,
// python3-numpy and python3-cryptography): without them these tests FAIL, they are never skipped.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scope, tensor, toBytes } from '../../src/tensor/index.ts';
import { type SafetensorsFile, readSafetensors, serializeSafetensors } from '../../src/io/safetensors.ts';
import { type ProtectedModel, protectModel, unlockModel } from '../../src/protect/index.ts';
import { BlockCipher, type CipherKind, createKeyFile } from '../../src/cipher/index.ts';
import { normalisationFrom } from '../../src/data/normalisation.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const repo = join(import.meta.dirname, '..', '..');
const python = process.env.NNLOCK_TORCH_PYTHON ?? '/usr/bin/python3';
const ARCH = 'vgg11-bn-w0.03';
const WIDTH = 0.03;
const dir = mkdtempSync(join(tmpdir(), 'nnlock-torch-'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function runPython(args: string[], input?: string) {
  const r = spawnSync(python, args, { cwd: repo, input, encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(repo, 'python'), PYTHONDONTWRITEBYTECODE: '1' }, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`cannot run ${python}: ${r.error.message}`);
  return r;
}

/** Runs requests through test/python/interop.py (one Python process for many checks). */
function nnlockTorch(requests: object[]): Record<string, unknown>[] {
  const r = runPython([join(import.meta.dirname, 'interop.py')], JSON.stringify(requests));
  assert.equal(r.status, 0, `interop.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

before(() => {
  const r = runPython(['-c', 'import torch, numpy, cryptography']);
  assert.equal(
    r.status,
    0,
    `${python} lacks torch, numpy or cryptography (apt-get install python3-torch python3-numpy python3-cryptography; scripts/setup.sh does): ${r.stderr.trim().split('\n').pop()}`,
  );
});

test("nnlock_torch's own tests (python/tests) pass", () => {
  const r = runPython(['-m', 'unittest', 'discover', '-s', 'python/tests']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\nOK\s*$/);
});

/** A small PRNG (mulberry32): the synthetic images are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * n synthetic CIFAR-10 records (a .bin file): class c is a colour of its own, split into a left and
 * a right half of two shades, under noise. Learnable in a few epochs by a tiny network.
 */
function syntheticCifar(name: string, n: number, seed: number): string {
  const random = prng(seed);
  const records = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    const label = i % 10;
    records[i * 3073] = label;
    for (let ch = 0; ch < 3; ch++) {
      const base = ((label * 7 + ch * 3) % 10) / 9;
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const shade = x < 16 ? base : 1 - base;
          records[i * 3073 + 1 + ch * 1024 + y * 32 + x] = Math.round(255 * (0.6 * shade + 0.4 * random()));
        }
      }
    }
  }
  const path = join(dir, name);
  writeFileSync(path, records);
  return path;
}

/** A tiny classifier trained by nnlock on synthetic data, protected with 3 tiers. */
async function protectedTinyModel(seed: number, train: string, epochs: number): Promise<{ plain: SafetensorsFile; protected: ProtectedModel; path: string; keys: string }> {
  const weights = join(dir, `model-${seed}.safetensors`);
  const trained = await runCli(['model', 'train', '-a', ARCH, '-d', train, '--epochs', String(epochs), '--lr', '0.02', '--batch', '50', '--no-augment', '--seed', String(seed), '-o', weights, '-q']);
  assert.equal(trained.code, 0, trained.err);
  const plain = await readSafetensors(weights);
  const p = await protectModel(plain, { tiers: 3, ratio: 0.3, architecture: ARCH });
  const path = join(dir, `model-${seed}.protected.safetensors`);
  const { keys } = await p.write(path, { keys: join(dir, `model-${seed}.keys`) });
  return { plain, protected: p, path, keys };
}

const tokenOf = (p: ProtectedModel, tier: number) => p.tokens[tier - 1];
const tensorHashes = (f: SafetensorsFile) => Object.fromEntries([...f.tensors].map(([n, e]) => [n, sha256(e.data)]));

test('a model protected by nnlock unlocks in Python at every tier as in nnlock, bit for bit, with the same accuracy', async (t) => {
  const m = await protectedTinyModel(3, syntheticCifar('train.bin', 500, 1), 5);
  const data = syntheticCifar('test.bin', 200, 2);
  const { mean, std } = normalisationFrom(m.plain.metadata);
  const tiers = [0, 1, 2, 3];
  const answers = nnlockTorch([
    ...tiers.map((tier) => ({ op: 'unlock', path: m.path, token: tokenOf(m.protected, 3), tier })),
    ...[1, 2, 3].map((tier) => ({ op: 'unlock', path: m.path, token: tokenOf(m.protected, tier), tier: null })),
    ...tiers.map((tier) => ({ op: 'eval', path: m.path, token: tokenOf(m.protected, 3), tier, data, width: WIDTH, mean, std })),
    ...[1, 2].map((tier) => ({ op: 'derive', token: tokenOf(m.protected, 3), tier, model: m.path })),
  ]);
  const accuracies: string[] = [];
  for (const tier of tiers) {
    const nnlock = await unlockModel(m.path, tokenOf(m.protected, 3), { tier });
    const py = answers[tier] as { sha256: Record<string, string>; writes: string[] };
    assert.deepEqual(py.sha256, tensorHashes(nnlock.file), `tier ${tier}: Python's unlocked weights differ from nnlock's`);
    assert.deepEqual(py.writes, [], `load_protected opened files for writing: ${py.writes.join(', ')}`);
    if (tier >= 1) assert.deepEqual((answers[3 + tier] as typeof py).sha256, py.sha256, `the tier-${tier} token alone`);
    const cli = await runCli(['model', 'eval', '-w', m.path, '--keys', m.keys, '--tier', String(tier), '-d', data, '--json']);
    assert.equal(cli.code, 0, cli.err);
    const nnlockAccuracy = JSON.parse(cli.out).accuracy as number;
    const pyEval = answers[7 + tier] as { accuracy: number; images: number };
    assert.equal(pyEval.images, 200);
    assert.equal(pyEval.accuracy, nnlockAccuracy, `tier ${tier}: PyTorch accuracy ${pyEval.accuracy}, nnlock model eval ${nnlockAccuracy}`);
    accuracies.push(`tier ${tier}: ${nnlockAccuracy}`);
  }
  assert.deepEqual(tensorHashes((await unlockModel(m.path, tokenOf(m.protected, 3))).file), tensorHashes(m.plain), 'the top tier is the original');
  assert.equal((answers[11] as { token: string }).token, tokenOf(m.protected, 1));
  assert.equal((answers[12] as { token: string }).token, tokenOf(m.protected, 2));
  t.diagnostic(`accuracy, nnlock model eval = PyTorch with nnlock_torch: ${accuracies.join(', ')}`);
});

/** A copy of a protected file with its tensors or metadata changed. */
async function tampered(path: string, name: string, change: (f: SafetensorsFile) => void): Promise<string> {
  const f = await readSafetensors(path);
  const copy: SafetensorsFile = { tensors: new Map([...f.tensors].map(([n, e]) => [n, { ...e, data: new Uint8Array(e.data) }])), metadata: { ...f.metadata } };
  change(copy);
  const out = join(dir, name);
  writeFileSync(out, serializeSafetensors(copy.tensors, copy.metadata));
  return out;
}

test('wrong keys, too high a tier and modified files raise in Python, never echoing the token', async () => {
  const train = syntheticCifar('train-small.bin', 50, 3);
  const m = await protectedTinyModel(4, train, 1);
  const other = await protectedTinyModel(5, train, 1);
  const header = m.protected.header;
  const layer = header.layers[0].name;
  const flipByte = (data: Uint8Array, at: number) => {
    data[at] ^= 0x01;
  };
  // Format v3: the sealed section of tier 2 is the U8 tensor __nnlock__/tier-2.
  const section = await tampered(m.path, 'section.safetensors', (f) => flipByte(f.tensors.get('__nnlock__/tier-2')!.data, 20)); // inside the ciphertext
  // A byte of a decoy: where the published layer differs from the original.
  const original = m.plain.tensors.get(layer)!.data;
  const decoyAt = m.protected.file.tensors.get(layer)!.data.findIndex((b, i) => b !== original[i]);
  assert.ok(decoyAt >= 0);
  const decoy = await tampered(m.path, 'decoy.safetensors', (f) => flipByte(f.tensors.get(layer)!.data, decoyAt));
  const bias = await tampered(m.path, 'bias.safetensors', (f) => flipByte(f.tensors.get([...f.tensors.keys()].find((n) => n.endsWith('bias'))!)!.data, 1));
  const version = await tampered(m.path, 'version.safetensors', (f) => {
    f.metadata['nnlock.protect'] = f.metadata['nnlock.protect'].replace('"version":3', '"version":4');
  });
  // Signed formats: edited metadata breaks the owner's signature, in Python too.
  const meta = await tampered(m.path, 'meta.safetensors', (f) => {
    f.metadata.architecture = 'resnet20';
  });
  const cases: { what: string; path: string; token: string; tier: number | null; error: string; message: RegExp }[] = [
    { what: 'a tier-1 token asking for tier 2', path: m.path, token: tokenOf(m.protected, 1), tier: 2, error: 'TierTooHighError', message: /tier-1 key cannot unlock tier 2/ },
    { what: 'a tier-2 token asking for tier 3', path: m.path, token: tokenOf(m.protected, 2), tier: 3, error: 'TierTooHighError', message: /tier-2 key cannot unlock tier 3/ },
    { what: "another model's token", path: m.path, token: tokenOf(other.protected, 3), tier: null, error: 'WrongKeyError', message: /wrong key/ },
    {
      what: 'a token with a typo',
      path: m.path,
      token: `${tokenOf(m.protected, 3).slice(0, -1)}${tokenOf(m.protected, 3).endsWith('0') ? '1' : '0'}`,
      tier: null,
      error: 'MalformedTokenError',
      message: /malformed key token/,
    },
    { what: 'a modified sealed section', path: section, token: tokenOf(m.protected, 3), tier: null, error: 'TamperedError', message: /section of tier 2 is not the one the owner signed/ },
    { what: 'edited metadata', path: meta, token: tokenOf(m.protected, 1), tier: null, error: 'TamperedError', message: /signature does not verify/ },
    { what: 'modified decoys', path: decoy, token: tokenOf(m.protected, 1), tier: null, error: 'TamperedError', message: /protected weights were modified/ },
    { what: 'a modified unprotected tensor', path: bias, token: tokenOf(m.protected, 1), tier: 0, error: 'TamperedError', message: /protected weights were modified/ },
    { what: 'an unknown format version', path: version, token: tokenOf(m.protected, 3), tier: null, error: 'UnsupportedVersionError', message: /version 4.*reads version 1, 2, 3/ },
  ];
  const answers = nnlockTorch(cases.map((c) => ({ op: 'error', path: c.path, token: c.token, tier: c.tier })));
  cases.forEach((c, i) => {
    const a = answers[i] as { error: string | null; message: string };
    assert.equal(a.error, c.error, `${c.what}: got ${a.error} (${a.message})`);
    assert.match(a.message, c.message, c.what);
    assert.ok(!a.message.includes(c.token.slice(10, 30)), `${c.what}: the message shows the token`);
  });
  // nnlock refuses the same files (the two readers agree on what is an error).
  for (const c of cases.slice(4)) await assert.rejects(unlockModel(c.path, c.token, c.tier === null ? {} : { tier: c.tier }), c.what);
});

test('images encrypted in Python decrypt in nnlock and the reverse; hill256 bit for bit', async () => {
  const kinds: { kind: CipherKind; k: number; shuffle: boolean }[] = [
    { kind: 'hill256', k: 4, shuffle: true },
    { kind: 'hill256', k: 2, shuffle: false },
    { kind: 'orthogonal', k: 4, shuffle: true },
    { kind: 'uniform', k: 2, shuffle: false },
  ];
  const shape = [3, 3, 16, 16];
  const count = shape.reduce((a, b) => a * b, 1);
  const requests: object[] = [];
  const setups = [];
  for (const [i, o] of kinds.entries()) {
    const path = join(dir, `cipher-${i}.key.json`);
    const key = await createKeyFile(path, { kind: o.kind, k: o.k, shuffle: o.shuffle });
    const hill = o.kind === 'hill256';
    const plain = Array.from({ length: count }, () => (hill ? Math.floor(Math.random() * 256) : Math.random()));
    const cipher = new BlockCipher(key);
    const nnlockCipher = scope(() => Array.from(new Float64Array(toBytes(cipher.encrypt(tensor(Float64Array.from(plain), shape, 'float64'))).buffer)));
    const dtype = hill ? 'uint8' : 'float64';
    requests.push({ op: 'encrypt', key: path, shape, values: plain, dtype }, { op: 'decrypt', key: path, shape, values: nnlockCipher, dtype });
    setups.push({ ...o, cipher, plain, nnlockCipher });
  }
  const answers = nnlockTorch(requests);
  setups.forEach((s, i) => {
    const fromPython = (answers[2 * i] as { values: number[] }).values;
    const decryptedInPython = (answers[2 * i + 1] as { values: number[] }).values;
    const decryptedInNnlock = scope(() => Array.from(new Float64Array(toBytes(s.cipher.decrypt(tensor(Float64Array.from(fromPython), shape, 'float64'))).buffer)));
    s.cipher.dispose();
    const worst = (a: number[], b: number[]) => a.reduce((w, v, j) => Math.max(w, Math.abs(v - b[j])), 0);
    const what = `${s.kind} k=${s.k}${s.shuffle ? ' shuffled' : ''}`;
    if (s.kind === 'hill256') {
      assert.deepEqual(fromPython, s.nnlockCipher, `${what}: Python's ciphertext differs from nnlock's`);
      assert.deepEqual(decryptedInNnlock, s.plain, `${what}: nnlock does not decrypt Python's ciphertext exactly`);
      assert.deepEqual(decryptedInPython, s.plain, `${what}: Python does not decrypt nnlock's ciphertext exactly`);
    } else {
      assert.ok(worst(fromPython, s.nnlockCipher) < 1e-12, `${what}: ciphertexts differ by ${worst(fromPython, s.nnlockCipher)}`);
      assert.ok(worst(decryptedInNnlock, s.plain) < 1e-10, `${what}: nnlock decrypts Python's ciphertext to within ${worst(decryptedInNnlock, s.plain)}`);
      assert.ok(worst(decryptedInPython, s.plain) < 1e-10, `${what}: Python decrypts nnlock's ciphertext to within ${worst(decryptedInPython, s.plain)}`);
    }
  });
});

test('leaks no tensors', checkLeaks);
