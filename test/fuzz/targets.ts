// The inputs the fuzz harness mutates, one target per kind of file nnlock reads. A target makes a
// valid input (in `dir`), names its structure-aware positions, and runs one mutated input through
// the public function that reads it, the way a command would (and writes the output where that
// command writes one). `run` resolves when the input was accepted and the result is consistent;
// it throws Inconsistent when an accepted input gave a wrong result, and whatever the reader threw
// otherwise.
import { basename, join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { type SafetensorsFile, parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { readCifar10, CIFAR_RECORD_BYTES } from '../../src/io/cifar.ts';
import { readImage, writePng } from '../../src/io/image.ts';
import { PROTECT_METADATA_KEY, deriveKeys, inspectProtected, protectModel, unlockModel } from '../../src/protect/index.ts';
import { decodeKeyToken, encodeKeyToken, open, ownerSigningKey, sectionKey, signMessage, signedSectionAad, tierKey } from '../../src/crypto/index.ts';
import {
  FORMAT_VERSION,
  METADATA_SECTIONS_FORMAT_VERSION,
  SIGNATURE_METADATA_KEY,
  bodyDigest,
  parseHeader,
  readSection,
  removeSections,
  sectionDigest,
  sectionTensorName,
  serializeHeader,
  serializeSignature,
  signatureMessage,
  writeSection,
} from '../../src/protect/format.ts';
import { sealWithNonce } from '../../src/crypto/seal.ts';
import { formatKeyFile, readKeyToken } from '../../src/protect/keys.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { loadKey, serializeKey } from '../../src/cipher/key-file.ts';
import { decryptImageFile, encryptImageFile } from '../../src/cipher/data.ts';
import { fileOf, tinyNet } from '../protect/fixtures.ts';
import { TorchScriptModel } from '../../src/models/torchscript.ts';
import { noGrad, scope } from '../../src/tensor/index.ts';
import { zeros } from '../../src/ops/creation.ts';

export class Inconsistent extends Error {
  override name = 'Inconsistent';
}

export interface Valid {
  bytes: Uint8Array;
  /** File name of the input (its extension matters to some readers). */
  name: string;
  hotspots: number[];
  /** Number tokens are looked for before this offset (a JSON header's end). */
  textLimit?: number;
  /** The file from the mutated bytes, when `bytes` is a part of it (a header, a sealed payload). */
  assemble?: (mutated: Uint8Array) => Uint8Array;
}

export interface Target {
  /** Valid inputs (mutation i mutates valid[i % valid.length]). */
  setup(dir: string): Promise<Valid[]>;
  /** Reads `input` (in `dir`) as a command would; writes `out` (in `dir`) where a command writes. */
  run(input: string, dir: string, valid: Valid): Promise<void>;
  /** The output file `run` writes, when it writes one (checked for partial files). */
  output?: string;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Offsets of a safetensors file's structure: the length prefix, the JSON, each tensor's first and last bytes. */
function safetensorsHotspots(bytes: Uint8Array, tensorsOfInterest?: readonly string[]): { hotspots: number[]; textLimit: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const file = parseSafetensors(bytes);
  const spots = [...range(0, 8), 8, 8 + n - 1];
  const header = Buffer.from(bytes.subarray(8, 8 + n)).toString('latin1');
  for (const m of header.matchAll(/[[\],:{}"]/g)) spots.push(8 + m.index);
  for (const [name, e] of file.tensors) {
    if (tensorsOfInterest && !tensorsOfInterest.includes(name)) continue;
    const at = e.data.byteOffset - bytes.byteOffset;
    spots.push(at, at + 1, at + e.data.byteLength - 1);
  }
  return { hotspots: spots, textLimit: 8 + n };
}

// ---- safetensors files (the reader every weights file goes through) ----

const safetensors: Target = {
  output: 'out.safetensors',
  async setup() {
    const f = (n: number) => new Uint8Array(new Float32Array(n).map((_, i) => i * 0.5 - 1).buffer);
    const bytes = serializeSafetensors(
      {
        'conv.weight': { dtype: 'F32', shape: [2, 1, 3, 3], data: f(18) },
        'conv.bias': { dtype: 'F32', shape: [2], data: f(2) },
        steps: { dtype: 'I64', shape: [], data: new Uint8Array(8).fill(1) },
        mask: { dtype: 'BOOL', shape: [4], data: new Uint8Array([1, 0, 1, 0]) },
        half: { dtype: 'F16', shape: [3], data: new Uint8Array(6).fill(0x3c) },
        empty: { dtype: 'U8', shape: [0, 5], data: new Uint8Array(0) },
      },
      { architecture: 'tiny', note: 'fuzz' },
    );
    return [{ bytes, name: 'in.safetensors', ...safetensorsHotspots(bytes) }];
  },
  async run(input, dir) {
    const file = await readSafetensors(input);
    const size = (await readFile(input)).byteLength;
    for (const [name, e] of file.tensors) {
      const elements = e.shape.reduce((a, b) => a * b, 1);
      const per = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 }[e.dtype];
      if (e.data.byteLength !== elements * per || e.data.byteLength > size) throw new Inconsistent(`${name}: ${e.data.byteLength} bytes for ${e.dtype} ${JSON.stringify(e.shape)}`);
    }
    // What was read writes back and reads again as the same tensors.
    const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
    for (const [name, e] of file.tensors) if (!same(again.tensors.get(name)!.data, e.data)) throw new Inconsistent(`${name} changed in a round trip`);
    await writeSafetensors(join(dir, 'out.safetensors'), file.tensors, file.metadata);
  },
};

// ---- protected files: `protect unlock --keys K -o OUT` with the right master key ----
// Format version 3 (the sections as U8 tensors, what protect writes) for every part of the file;
// version 2 (the sections as base64 metadata) still read, as a whole file.

type SectionLayout = typeof FORMAT_VERSION | typeof METADATA_SECTIONS_FORMAT_VERSION;
const protectedState = new Map<SectionLayout, { token: string; unlocked: Map<string, Uint8Array> }>();

/**
 * A protected TinyNet that is the same bytes on every run (so mutation i is the same input on
 * every run): a fixed model id and master key, and the sections sealed again with fixed nonces,
 * in format `version`.
 */
async function fixedProtectedFile(version: SectionLayout): Promise<{ bytes: Uint8Array; token: string; layers: string[] }> {
  const model = tinyNet(3);
  const masterKey = new Uint8Array(32).map((_, i) => (i * 29 + 1) & 255);
  const p = await protectModel(fileOf(model, { architecture: 'tiny-fuzz' }), { ratio: 0.25, tiers: 3, modelId: '5e'.repeat(16), masterToken: encodeKeyToken({ tier: 3, key: masterKey }) });
  model.dispose();
  const modelId = new Uint8Array(Buffer.from(p.header.modelId, 'hex'));
  const file = resealed(p.file, masterKey, modelId, p.header.tiers, (_tier, payload) => payload, version);
  return { bytes: serializeSafetensors(file.tensors, file.metadata), token: p.tokens[2], layers: p.header.layers.map((l) => l.name) };
}

/**
 * A protected file with every section sealed again with a fixed nonce (and the payload `change`
 * gives), in format `version`, and signed again by the owner, as the master key's holder can: a
 * file that is the same bytes on every run (Ed25519 signatures are deterministic).
 */
function resealed(
  source: SafetensorsFile,
  masterKey: Uint8Array,
  modelId: Uint8Array,
  tiers: number,
  change: (tier: number, payload: Uint8Array) => Uint8Array,
  version: SectionLayout,
): SafetensorsFile {
  const from = parseHeader(source.metadata).version;
  const sealed = Array.from({ length: tiers }, (_, i) => readSection(source, from, i + 1));
  const file: SafetensorsFile = { tensors: new Map(source.tensors), metadata: { ...source.metadata } };
  const oldBody = bodyDigest(file.metadata);
  removeSections(file);
  file.metadata[PROTECT_METADATA_KEY] = serializeHeader({ ...parseHeader(file.metadata), version });
  const body = bodyDigest(file.metadata);
  const digests: Uint8Array[] = [];
  for (let tier = 1; tier <= tiers; tier++) {
    const key = sectionKey(tierKey(masterKey, tiers, tier, modelId), modelId, tier);
    const payload = change(tier, open(key, sealed[tier - 1], signedSectionAad({ modelId, tier, bodyDigest: oldBody })));
    const again = sealWithNonce(key, new Uint8Array(12).fill(tier), payload, signedSectionAad({ modelId, tier, bodyDigest: body }));
    writeSection(file, version, tier, again);
    digests.push(sectionDigest(again));
  }
  const signature = signMessage(ownerSigningKey(masterKey, modelId, tiers), signatureMessage(body, digests));
  file.metadata[SIGNATURE_METADATA_KEY] = serializeSignature({ alg: 'Ed25519', sections: digests.map((d) => Buffer.from(d).toString('hex')), signature: Buffer.from(signature).toString('base64') });
  return file;
}

/** Unlocks a mutated file from its path (read.ts: one pass, hashed as read) and checks it gave exactly the original weights. */
async function unlockAndCompare(input: string, dir: string, version: SectionLayout): Promise<void> {
  const state = protectedState.get(version)!;
  const r = await unlockModel(input, state.token);
  for (const [name, data] of state.unlocked) {
    const got = r.file.tensors.get(name);
    if (!got || !same(got.data, data)) throw new Inconsistent(`a mutated protected file unlocked to different weights (${name})`);
  }
  if (r.file.tensors.size !== state.unlocked.size) throw new Inconsistent('a mutated protected file unlocked to other tensors');
  await writeSafetensors(join(dir, 'unlocked.safetensors'), r.file.tensors, r.file.metadata);
}

function protectedFileOf(version: SectionLayout): Target {
  return {
    output: 'unlocked.safetensors',
    async setup() {
      const { bytes, token, layers } = await fixedProtectedFile(version);
      const u = await unlockModel(parseSafetensors(bytes), token);
      protectedState.set(version, { token, unlocked: new Map([...u.file.tensors].map(([n, e]) => [n, e.data.slice()])) });
      // Structure: the length prefix and JSON, the decoy tensors' bytes, and the sealed sections.
      const sections = Array.from({ length: 3 }, (_, i) => sectionTensorName(i + 1));
      const { hotspots, textLimit } = safetensorsHotspots(bytes, version === FORMAT_VERSION ? [...layers, ...sections] : layers);
      const text = Buffer.from(bytes.subarray(0, textLimit)).toString('latin1');
      for (const m of text.matchAll(/nnlock\.tier\.\d":"|__nnlock__\/tier-\d"/g)) hotspots.push(...range(m.index, m.index + 60));
      return [{ bytes, name: 'model.protected.safetensors', hotspots, textLimit }];
    },
    run: (input, dir) => unlockAndCompare(input, dir, version),
  };
}

const protectedFile = protectedFileOf(FORMAT_VERSION);
const protectedV2File = protectedFileOf(METADATA_SECTIONS_FORMAT_VERSION);

/** Checks an unlock of a file whose sections were re-sealed by the key's owner: same tensors. */
function sameLayout(got: Map<string, { dtype: string; shape: number[]; data: Uint8Array }>, want: Map<string, Uint8Array>): void {
  if (got.size !== want.size) throw new Inconsistent('the unlocked file has other tensors');
  for (const [name, data] of want) if (got.get(name)?.data.byteLength !== data.byteLength) throw new Inconsistent(`${name} unlocked to another size`);
}

/**
 * Protected files with the public header mutated as JSON text (the file stays a valid safetensors
 * file, so the mutation reaches the header's parser instead of the safetensors reader).
 */
const protectedHeader: Target = {
  output: 'unlocked.safetensors',
  async setup(dir) {
    const [v] = await protectedFile.setup(dir);
    const file = parseSafetensors(v.bytes);
    const header = new TextEncoder().encode(file.metadata[PROTECT_METADATA_KEY]);
    const hotspots: number[] = [];
    for (const m of new TextDecoder().decode(header).matchAll(/[[\],:{}"]/g)) hotspots.push(m.index);
    const assemble = (mutated: Uint8Array) => serializeSafetensors(file.tensors, { ...file.metadata, [PROTECT_METADATA_KEY]: new TextDecoder().decode(mutated) });
    return [{ bytes: header, name: 'model.protected.safetensors', hotspots, assemble }];
  },
  run: protectedFile.run,
};

/**
 * Protected files whose sealed payloads are mutated and sealed again with the right key: what a
 * buggy or hostile writer holding the key could make. Reaches the payload decoder, which
 * authentication otherwise shields.
 */
const protectedPayload: Target = {
  output: 'unlocked.safetensors',
  async setup(dir) {
    const [v] = await protectedFile.setup(dir);
    const file = parseSafetensors(v.bytes);
    const header = inspectProtected(file);
    const modelId = new Uint8Array(Buffer.from(header.modelId, 'hex'));
    const master = decodeKeyToken(protectedState.get(FORMAT_VERSION)!.token);
    const aad = (tier: number) => signedSectionAad({ modelId, tier, bodyDigest: bodyDigest(file.metadata) });
    const keyOf = (tier: number) => sectionKey(tierKey(master.key, master.tier, tier, modelId), modelId, tier);
    return Array.from({ length: header.tiers }, (_, i) => {
      const tier = i + 1;
      const payload = open(keyOf(tier), readSection(file, header.version, tier), aad(tier));
      // The version byte, the layer count, and each layer's name length and kernel count.
      const hotspots = [...range(0, 5)];
      let at = 5;
      while (at + 4 <= payload.length) {
        const nameLength = Buffer.from(payload.buffer, payload.byteOffset).readUInt32LE(at);
        hotspots.push(...range(at, at + 4));
        at += 4 + nameLength;
        if (at + 4 > payload.length) break;
        const n = Buffer.from(payload.buffer, payload.byteOffset).readUInt32LE(at);
        hotspots.push(...range(at, at + 8));
        at += 4 + 4 * n + n * 9 * 4;
      }
      // Sealed again and signed by the master key's holder: the owner's own faulty writer.
      const assemble = (mutated: Uint8Array) => {
        const f = resealed(file, master.key, modelId, header.tiers, (t, p) => (t === tier ? mutated : p), FORMAT_VERSION);
        return serializeSafetensors(f.tensors, f.metadata);
      };
      return { bytes: payload, name: 'model.protected.safetensors', hotspots: hotspots.filter((p) => p < payload.length), assemble };
    });
  },
  async run(input, dir) {
    const r = await unlockModel(input, protectedState.get(FORMAT_VERSION)!.token);
    sameLayout(r.file.tensors, protectedState.get(FORMAT_VERSION)!.unlocked);
    await writeSafetensors(join(dir, 'unlocked.safetensors'), r.file.tensors, r.file.metadata);
  },
};

// ---- tier key files (`--keys`): read, then checked against the model ----

let keyState: { tokens: string[]; header: Parameters<typeof deriveKeys>[0] } | null = null;

const tierKeyFile: Target = {
  async setup() {
    const model = tinyNet(4);
    const masterToken = encodeKeyToken({ tier: 3, key: new Uint8Array(32).fill(77) });
    const p = await protectModel(fileOf(model), { ratio: 0.25, tiers: 3, modelId: '4b'.repeat(16), masterToken });
    model.dispose();
    keyState = { tokens: p.tokens, header: p.header };
    const text = formatKeyFile({ tokens: p.tokens, modelId: p.header.modelId, tiers: 3, model: 'model.protected.safetensors' });
    const bytes = new TextEncoder().encode(text);
    const hotspots: number[] = [];
    for (const m of text.matchAll(/nnlock1-t\d-|tier \d|\n|#/g)) hotspots.push(...range(m.index, m.index + m[0].length));
    return [{ bytes, name: 'model.keys', hotspots }];
  },
  async run(input) {
    const state = keyState!;
    const token = await readKeyToken(input);
    // A genuine token of another tier is a right answer; anything else must fail the key check.
    if (state.tokens.includes(token)) return;
    await deriveKeys(state.header, token);
    throw new Inconsistent(`a mutated key file gave a token that passed the model's key check: ${token.slice(0, 12)}…`);
  },
};

// ---- cipher key files (`-K`): loaded, then used to decrypt an image (`cipher decrypt -o`) ----

let cipherState: { fingerprints: Set<string>; encrypted: Map<string, string> } | null = null;

const cipherKeyFile: Target = {
  output: 'plain.png',
  async setup(dir) {
    const hill = deriveKey(new Uint8Array(32).fill(9), { kind: 'hill256', k: 4, channels: 3 });
    const ortho = deriveKey(new Uint8Array(32).fill(5), { kind: 'orthogonal', k: 2, channels: 1, shuffle: true });
    const plain = join(dir, 'plain-source.png');
    await writePng(
      plain,
      new Uint8Array(3 * 8 * 8).map((_, i) => (i * 37) & 255),
      3,
      8,
      8,
    );
    const encrypted = new Map<string, string>();
    await encryptImageFile(plain, join(dir, 'cipher-hill.png'), hill);
    encrypted.set(hill.fingerprint, join(dir, 'cipher-hill.png'));
    await encryptImageFile(plain, join(dir, 'cipher-ortho.safetensors'), ortho);
    encrypted.set(ortho.fingerprint, join(dir, 'cipher-ortho.safetensors'));
    cipherState = { fingerprints: new Set([hill.fingerprint, ortho.fingerprint]), encrypted };
    return [hill, ortho].map((key, i) => {
      const text = serializeKey(key, i === 0 ? 'secret' : 'matrices');
      const bytes = new TextEncoder().encode(text);
      const hotspots: number[] = [];
      for (const m of text.matchAll(/[:",[\]{}]/g)) hotspots.push(m.index);
      return { bytes, name: `key${i}.json`, hotspots };
    });
  },
  async run(input, dir) {
    const state = cipherState!;
    const key = await loadKey(input);
    if (!state.fingerprints.has(key.fingerprint)) throw new Inconsistent(`a mutated key file loaded as another key (${key.fingerprint.slice(0, 12)}…)`);
    const out = join(dir, 'plain.png');
    await decryptImageFile(state.encrypted.get(key.fingerprint)!, out, key);
    const img = await readImage(out, { channels: 3 });
    if (img.height !== 8 || img.width !== 8) throw new Inconsistent('decrypted image has the wrong size');
  },
};

// ---- images (PNG, JPEG): read, then `cipher decrypt -o` of the image with a hill256 key ----

let imageKey: ReturnType<typeof deriveKey> | null = null;

/** Offsets of a PNG's chunk structure: lengths, types, IHDR fields, CRCs. */
function pngHotspots(bytes: Uint8Array): number[] {
  const spots = range(0, 8);
  let at = 8;
  while (at + 8 <= bytes.length) {
    const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(at);
    spots.push(...range(at, at + 8), ...range(at + 8, at + 8 + Math.min(len, 13)), at + 8 + len, at + 8 + len + 3);
    at += 12 + len;
  }
  return spots.filter((p) => p < bytes.length);
}

/** Offsets of a JPEG's markers (0xFF xx) and the two bytes after each (segment lengths, SOF sizes). */
function jpegHotspots(bytes: Uint8Array): number[] {
  const spots: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] !== 0 && bytes[i + 1] !== 0xff) spots.push(...range(i, Math.min(i + 9, bytes.length)));
  return spots;
}

const image: Target = {
  output: 'decrypted.png',
  async setup() {
    imageKey = deriveKey(new Uint8Array(32).fill(3), { kind: 'hill256', k: 4, channels: 3 });
    const pixels = Buffer.from(new Uint8Array(16 * 16 * 3).map((_, i) => (i * 13) & 255));
    const raw = { raw: { width: 16, height: 16, channels: 3 as const } };
    const png = new Uint8Array(await sharp(pixels, raw).png().toBuffer());
    const jpeg = new Uint8Array(await sharp(pixels, raw).jpeg({ quality: 80 }).toBuffer());
    const gray = new Uint8Array(await sharp(pixels, raw).grayscale().png().toBuffer());
    return [
      { bytes: png, name: 'in.png', hotspots: pngHotspots(png) },
      { bytes: jpeg, name: 'in.jpg', hotspots: jpegHotspots(jpeg) },
      { bytes: gray, name: 'gray.png', hotspots: pngHotspots(gray) },
    ];
  },
  async run(input, dir) {
    const img = await readImage(input, { channels: 3 });
    if (img.data.length !== 3 * img.height * img.width || img.height < 1 || img.width < 1) throw new Inconsistent(`${img.data.length} bytes for 3×${img.height}×${img.width}`);
    const out = join(dir, 'decrypted.png');
    await decryptImageFile(input, out, imageKey!);
    const back = await readImage(out, { channels: 3 });
    if (back.height !== img.height || back.width !== img.width) throw new Inconsistent('decrypted image has another size');
  },
};

// ---- CIFAR-10 .bin files ----

const cifar: Target = {
  async setup() {
    const records = 3;
    const bytes = new Uint8Array(records * CIFAR_RECORD_BYTES).map((_, i) => (i * 7) & 255);
    for (let r = 0; r < records; r++) bytes[r * CIFAR_RECORD_BYTES] = r;
    const hotspots = range(0, records).flatMap((r) => [r * CIFAR_RECORD_BYTES, r * CIFAR_RECORD_BYTES + 1, (r + 1) * CIFAR_RECORD_BYTES - 1]);
    return [{ bytes, name: 'data_batch_1.bin', hotspots }];
  },
  async run(input) {
    const bytes = await readFile(input);
    const d = await readCifar10([input]);
    if (d.count * CIFAR_RECORD_BYTES !== bytes.length) throw new Inconsistent(`${d.count} records from ${bytes.length} bytes`);
    for (let r = 0; r < d.count; r++) {
      if (d.labels[r] !== bytes[r * CIFAR_RECORD_BYTES] || d.labels[r] > 9) throw new Inconsistent(`record ${r}: label ${d.labels[r]}`);
      if (!same(d.images.subarray(r * 3072, (r + 1) * 3072), bytes.subarray(r * CIFAR_RECORD_BYTES + 1, (r + 1) * CIFAR_RECORD_BYTES))) throw new Inconsistent(`record ${r}: image differs`);
    }
  },
};

// ---- TorchScript files (a user's own model, `--module model.pt`) ----

const torchscript: Target = {
  async setup() {
    // Written by test/models/fixtures/make_tiny_scripted.py: a zip archive of pickles and code.
    const bytes = new Uint8Array(await readFile(new URL('../models/fixtures/tiny-scripted.pt', import.meta.url)));
    // Zip structure: local headers (PK 3 4), central directory entries (PK 1 2), the end record (PK 5 6), with their length fields.
    const signature = (i: number) => bytes[i] === 0x50 && bytes[i + 1] === 0x4b && [1, 3, 5].includes(bytes[i + 2]) && bytes[i + 3] === bytes[i + 2] + 1;
    const hotspots = range(0, bytes.length - 3)
      .filter(signature)
      .flatMap((i) => range(i, Math.min(i + 30, bytes.length)));
    return [{ bytes, name: 'model.pt', hotspots }];
  },
  async run(input) {
    const model = await TorchScriptModel.load(input);
    try {
      // Accepted: it must run as a model or fail with an Error; its output is a [1, 3] batch.
      const shape = noGrad(() => scope(() => model.forward(zeros([1, 1, 4, 4])).shape));
      if (shape.length !== 2 || shape[0] !== 1) throw new Inconsistent(`forward gave shape [${shape.join(', ')}]`);
    } finally {
      model.dispose();
    }
  },
};

// ---- the harness's own test: one input of each failure (mutation index = the folder's name) ----

const selfTest: Target = {
  output: 'out.bin',
  async setup() {
    return [{ bytes: new Uint8Array(16), name: 'in.bin', hotspots: [] }];
  },
  async run(_input, dir) {
    const i = Number(basename(dir));
    if (i === 1) process.abort(); // a native crash
    if (i === 2) for (;;); // a hang
    if (i === 3) {
      await writeFile(join(dir, '.out.bin.tmp-1'), 'half');
      throw new Error('failed after leaving a temporary');
    }
    if (i === 4) throw new Inconsistent('accepted with a wrong result');
    if (i === 0) throw new Error('refused');
  },
};

/** Targets the harness knows but the fuzz test does not iterate. */
export const HARNESS_TARGETS = { 'self-test': selfTest } as const;

export const TARGETS = {
  safetensors,
  protected: protectedFile,
  'protected-v2': protectedV2File,
  'protected-header': protectedHeader,
  'protected-payload': protectedPayload,
  'tier-key-file': tierKeyFile,
  'cipher-key-file': cipherKeyFile,
  image,
  cifar,
  torchscript,
} as const;
export type TargetKind = keyof typeof TARGETS;

export async function writeInput(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}
