// Regenerates the interoperability vectors under test/vectors/ from nnlock itself (see
// test/vectors/README.md for what each file holds). The vectors are committed: nnlock's tests
// (test/python/vectors.test.ts) check that nnlock still reproduces them, and nnlock_torch's tests
// (python/tests/) check the independent Python reader against them, so a change of either side
// that breaks docs/FORMAT.md fails a test.
//
//   node --import tsx scripts/make-vectors.ts [--out test/vectors]
//
// Everything is deterministic (fixed keys, model ids and seeds) except the 12-byte nonces of the
// protected file's sealed sections, which protect() draws fresh: rerunning rewrites that file with
// other nonces (the unlocked weights stay the same). The protected file is written in the format
// protect writes now (version 3, `vgg-tiny-v3.*`); `vgg-tiny.*` is the same model in format
// version 1, made by nnlock 0.2 and kept as it was (this script no longer writes version 1).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { manualSeed, noGrad, scope, tensor, toBytes } from '../src/tensor/index.ts';
import { modelSpec } from '../src/models/index.ts';
import { entriesFromTensors } from '../src/io/tensor-file.ts';
import { type SafetensorsFile, serializeSafetensors } from '../src/io/safetensors.ts';
import { protectModel, unlockModel } from '../src/protect/index.ts';
import { encodeKeyToken, keyCheck, sectionKey, tierKey } from '../src/crypto/index.ts';
import { type CipherKind, blockPermutation, deriveKey, keyFromMatrices, serializeKey, BlockCipher } from '../src/cipher/index.ts';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'test/vectors' } } });
const out = values.out!;
mkdirSync(join(out, 'protect'), { recursive: true });
mkdirSync(join(out, 'cipher'), { recursive: true });

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** A fixed 32-byte value for a name (not a secret: these are test vectors). */
const fixed = (name: string) => new Uint8Array(createHash('sha256').update(`nnlock test vector ${name}`).digest());
const json = (path: string, value: unknown) => writeFileSync(join(out, path), `${JSON.stringify(value, null, 1)}\n`);

// ---- tokens and the tier-key chain ----------------------------------------------------------
const chains = [
  { modelId: hex(fixed('model a').subarray(0, 16)), tiers: 3 },
  { modelId: hex(fixed('model b').subarray(0, 16)), tiers: 1 },
  { modelId: hex(fixed('model c').subarray(0, 16)), tiers: 5 },
].map(({ modelId, tiers }) => {
  const id = new Uint8Array(Buffer.from(modelId, 'hex'));
  const master = fixed(`master ${modelId}`);
  const levels = Array.from({ length: tiers }, (_, i) => {
    const tier = i + 1;
    const k = tierKey(master, tiers, tier, id);
    return { tier, key: hex(k), token: encodeKeyToken({ tier, key: k }), keyCheck: keyCheck(k, id, tier), sectionKey: hex(sectionKey(k, id, tier)) };
  });
  return { modelId, tiers, master: levels[tiers - 1].token, levels };
});
const good = chains[0].levels[2].token;
const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
json('tier-keys.json', {
  about: 'docs/FORMAT.md §1.4 and §2.1: per model, every tier key (hex), token, keyCheck and section key, derived from the master (the top tier)',
  chains,
  malformedTokens: [
    { token: good.replace('nnlock1-', 'nnlock2-'), why: 'prefix' },
    { token: good.slice(0, -1), why: 'truncated checksum' },
    { token: flip(good, 14), why: 'a changed key character (checksum mismatch)' },
    { token: good.replace('-t3-', '-t4-'), why: 'a changed tier (checksum mismatch)' },
    { token: good.replace('-t3-', '-t03-'), why: 'leading zero in the tier' },
    {
      token: encodeKeyToken({ tier: 1, key: fixed('x') }).replace(/-(.{42})(.)-/, (_m, a: string, c: string) => `-${a}${String.fromCharCode(c.charCodeAt(0) ^ 1)}-`),
      why: 'non-canonical or changed last key character',
    },
  ],
  keyFile: {
    text: `# nnlock key file\n# model ${chains[0].modelId}, 3 tiers\n\ntier 3 (master): ${chains[0].levels[2].token}\ntier 2: ${chains[0].levels[1].token}\ntier 1:${chains[0].levels[0].token}\n`,
    highest: chains[0].levels[2].token,
  },
});

// ---- a protected tiny model -----------------------------------------------------------------
const ARCH = 'vgg11-bn-w0.015';
manualSeed(16);
const model = modelSpec(ARCH).create();
const plain: SafetensorsFile = { tensors: noGrad(() => entriesFromTensors(model.stateDict())), metadata: { architecture: ARCH } };
model.dispose();
const modelId = hex(fixed('protected model').subarray(0, 16));
const masterToken = encodeKeyToken({ tier: 3, key: fixed('protected model master') });
const p = await protectModel(plain, { tiers: 3, ratio: 0.3, masterToken, modelId, architecture: ARCH });
const NAME = `vgg-tiny-v${p.header.version}`;
writeFileSync(join(out, 'protect', `${NAME}.protected.safetensors`), serializeSafetensors(p.file.tensors, p.file.metadata));
const unlocked = [];
for (let tier = 0; tier <= 3; tier++) {
  const r = await unlockModel(p.file, p.tokens[2], { tier });
  unlocked.push({ tier, restored: r.restored, sha256: Object.fromEntries([...r.file.tensors].map(([n, e]) => [n, sha256(e.data)])) });
}
json(`protect/${NAME}.json`, {
  about: `docs/FORMAT.md §1, FORMAT-v3.md: ${NAME}.protected.safetensors (format version ${p.header.version}), its tier tokens, and per tier the SHA-256 of every tensor of the unlocked model (tier 3 = the original)`,
  file: `${NAME}.protected.safetensors`,
  version: p.header.version,
  architecture: ARCH,
  modelId,
  tiers: 3,
  tokens: p.tokens,
  original: Object.fromEntries([...plain.tensors].map(([n, e]) => [n, sha256(e.data)])),
  unlocked,
});

// ---- cipher keys and image pairs -----------------------------------------------------------
interface CipherCase {
  name: string;
  kind: CipherKind;
  k: number;
  channels: number;
  shuffle: boolean;
  form?: 'secret' | 'matrices';
  size: number;
}
const cases: CipherCase[] = [
  { name: 'uniform-k2', kind: 'uniform', k: 2, channels: 3, shuffle: false, size: 8 },
  { name: 'uniform-k4-shuffle', kind: 'uniform', k: 4, channels: 3, shuffle: true, size: 8 },
  { name: 'orthogonal-k2-shuffle', kind: 'orthogonal', k: 2, channels: 3, shuffle: true, size: 8 },
  { name: 'orthogonal-k4', kind: 'orthogonal', k: 4, channels: 3, shuffle: false, size: 8 },
  { name: 'orthogonal-k8-c1', kind: 'orthogonal', k: 8, channels: 1, shuffle: false, size: 16 },
  { name: 'orthogonal-k16-c1-shuffle', kind: 'orthogonal', k: 16, channels: 1, shuffle: true, size: 32 },
  { name: 'hill256-k2-shuffle', kind: 'hill256', k: 2, channels: 3, shuffle: true, size: 8 },
  { name: 'hill256-k4', kind: 'hill256', k: 4, channels: 3, shuffle: false, size: 8 },
  { name: 'orthogonal-k2-matrices-form', kind: 'orthogonal', k: 2, channels: 2, shuffle: true, form: 'matrices', size: 4 },
];
const cipherVectors = [];
for (const c of cases) {
  const derived = deriveKey(fixed(`cipher ${c.name}`), { kind: c.kind, k: c.k, channels: c.channels, shuffle: c.shuffle });
  const key = c.form === 'matrices' ? keyFromMatrices(c.kind, c.k, derived.matrices, { shuffleKey: derived.shuffleKey }) : derived;
  const file = `${c.name}.key.json`;
  writeFileSync(join(out, 'cipher', file), serializeKey(key, c.form ?? 'secret'));
  const shape = [c.size >= 32 ? 1 : 2, c.channels, c.size, c.size];
  const count = shape.reduce((a, b) => a * b, 1);
  const stream = fixed(`image ${c.name}`);
  const hill = c.kind === 'hill256';
  // Plaintext: bytes for hill256, pixels/255 (float64) for the real kinds.
  const bytes = Array.from({ length: count }, (_, i) => createHash('sha256').update(stream).update(String(i)).digest()[0]);
  const plainValues = hill ? bytes : bytes.map((b) => b / 255);
  const cipher = new BlockCipher(key);
  const cipherValues = scope(() => {
    const x = tensor(Float64Array.from(plainValues), shape, 'float64');
    return Array.from(new Float64Array(toBytes(cipher.encrypt(x)).buffer));
  });
  cipher.dispose();
  const grid = c.size / c.k;
  cipherVectors.push({
    name: c.name,
    keyFile: file,
    kind: c.kind,
    k: c.k,
    channels: c.channels,
    shuffle: c.shuffle,
    form: c.form ?? 'secret',
    fingerprint: key.fingerprint,
    // k = 8's 4096 numbers a channel are left out: the fingerprint pins them bit for bit.
    matrices: c.k <= 4 ? key.matrices.map((m) => Array.from(m)) : null,
    permutation: key.shuffle ? Array.from(blockPermutation(key, grid, grid)!) : null,
    shape,
    plaintext: plainValues,
    ciphertext: cipherValues,
  });
}
// One case per line: the matrices and images are long.
writeFileSync(
  join(out, 'cipher', 'cipher.json'),
  `{"about": ${JSON.stringify(
    'docs/FORMAT.md §3: per key file, its fingerprint, matrices (row-major), block permutation of the image grid, and an image pair [N, C, H, W] flattened in C order; float64 (hill256: byte values); real kinds: plaintext is pixels/255 and the ciphertext nnlock computed in float64',
  )},\n "cases": [\n${cipherVectors.map((c) => JSON.stringify(c)).join(',\n')}\n]}\n`,
);
process.stderr.write(`vectors written to ${out}\n`);
