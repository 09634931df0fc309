// The protected-model file format (version 2, signed; version 1, unsigned, is still read).
//
// The normative specification is docs/FORMAT.md §1-2 (complete enough to implement a reader from;
// python/nnlock_torch is one): this comment summarises it and the two must agree. The vectors in
// test/vectors/ (scripts/make-vectors.ts) pin both implementations; a format change is a new
// version, and readers refuse versions they do not implement by naming them.
//
// A protected model is ONE safetensors file with exactly the original tensors: same names, shapes
// and dtypes, the selected kernels holding decoys. Any safetensors reader loads it, and PyTorch's
// load_state_dict(strict=True) accepts it (no extra tensors): it runs, badly. Everything else lives
// in the string map `__metadata__`, next to the original file's own entries (kept unchanged):
//
//   "nnlock.protect"   public JSON, readable without a key:
//     { "format": "nnlock-protect", "version": 2,
//       "modelId": 32 hex chars (16 random bytes),
//       "tiers": M,
//       "keyChecks": [keyCheck(K_1, modelId, 1), ..., keyCheck(K_M, modelId, M)]  (16 hex each),
//       "layers": [{ "name", "dtype" (safetensors code), "shape" }, ...]  the protected conv weights,
//       "architecture": "resnet20"  (when known),
//       "weightsDigest": 64 hex chars,
//       "cipher": "AES-256-GCM", "kdf": "HKDF-SHA-256",
//       "signer": "ed25519:" + 64 hex chars  (version 2: the owner's Ed25519 public key) }
//
//   "nnlock.tier.<m>"  for m = 1..M: base64 of
//     seal(sectionKey(K_m, modelId, m), payload_m, AAD_m)
//     (AES-256-GCM: 12-byte random nonce || ciphertext || 16-byte tag; src/crypto/seal.ts), where
//     version 2: AAD_m = signedSectionAad({ modelId, tier: m, bodyDigest })
//     version 1: AAD_m = sectionAad({ modelId, tier: m, weightsDigest })
//
//   "nnlock.signature" (version 2) JSON:
//     { "alg": "Ed25519", "sections": [sectionDigest_1, ..., sectionDigest_M] (64 hex each),
//       "signature": base64 of Ed25519(signing key, signatureMessage) (64 bytes) }
//
// Version 2, what is signed and why. The threat: a holder of a tier-m key can re-seal sections
// 1..m (he has their keys) over weights he changed, recompute the weights digest, and publish; in
// version 1 every user of tiers ≤ m accepted that (only sections above m, bound to the old digest,
// failed), and nothing bound the header or the other metadata (tier count, normalisation, class
// names) at all. In version 2:
//   bodyDigest = SHA-256 of "nnlock signed body v2" 0x00, u32 count, then for every metadata entry
//     except "nnlock.tier.*" and "nnlock.signature", in UTF-8 byte order of the keys:
//     u32 len(key) key u32 len(value) value   (UTF-8; integers big-endian)
//     i.e. the header verbatim (tier count, keyChecks, layers, architecture, weights digest, signer)
//     and every entry the original file had (architecture, class_names, input_mean, input_std, ...);
//   sectionDigest_m = SHA-256 of section m's sealed bytes (nonce || ciphertext || tag);
//   signatureMessage = "nnlock signature v2" 0x00 || bodyDigest || u32 M || sectionDigest_1..M.
// The signing key derives from the master key (src/crypto/signing.ts, which says why): only the
// owner can sign, no lower tier's key can. Readers check, before anything is restored: the signature
// (a few hundred bytes to hash, no weights), the signer pinned by the caller or carried by the key
// token (a model signed by anyone else, or an unsigned version 1 copy, is refused), the weights
// digest (the one pass over all weights; skipped only when the caller verified the file already),
// and for each section opened its signed digest and its AEAD tag. Binding the AAD to bodyDigest
// means that someone without the section keys cannot even replace the signer: changing the header
// breaks every section. A tier-m holder can re-sign with a key of his own, and is then refused by
// every user who pins the owner's signer, which every token the owner issues does.
//
// Version 1 files (nnlock 0.2 and before) are read and unlocked as before and reported unsigned
// (`signed: false`, `protect info` says UNSIGNED): refusing them would break every existing model,
// and they are no weaker than they were. A pinned signer refuses them, since stripping the
// signature is exactly what a forger would do.
//
// Keys: K_M is the owner's master key; K_{m−1} = HKDF(K_m) down the one-way chain of
// src/crypto/tier-keys.ts. A key of tier m opens sections 1..m and nothing above:
//   K_{m−1}            = HKDF-SHA-256(ikm K_m, salt modelId (16 raw bytes), info "nnlock tier-chain v1", 32)
//   sectionKey(K_m, m) = HKDF-SHA-256(ikm K_m, salt modelId, info "nnlock section v1" 0x00 u32be(m), 32)
//   keyCheck(K_m, m)   = hex(SHA-256("nnlock key id v1" 0x00 u32be(m) u32be(16) modelId K_m)[:8])
//   sectionAad         = "nnlock section aad v1" 0x00 u32be(m) u32be(16) modelId u32be(32) digest
// (digest: the 32 raw bytes of weightsDigest). Tokens and key files: docs/FORMAT.md §2.
//
// weightsDigest = SHA-256 of
//   "nnlock weights digest v1" 0x00, then for every tensor of the file in ascending UTF-8 byte order
//   of its name: u32 len(name) name, u32 len(dtype) dtype (safetensors code, e.g. "F32"),
//   u32 ndim, u64 each dim, u64 len(bytes) bytes  (integers big-endian).
// It covers the published (decoyed) weights. Version 1 binds the sections' AAD to it directly;
// version 2 through the signed header.
//
// payload_m: the kernels of rank in (prefix_{m−1}, prefix_m] of each protected layer, little-endian:
//   u8 version (1), u32 layerCount, then per layer:
//     u32 len(name), name (UTF-8), u32 count,
//     count × i32 flat kernel index (a·B + b of weight [A, B, kh, kw]): ascending (version 2
//       writers; version 1 wrote ranking order; readers take any order, never an index twice),
//     count × kh·kw original values as raw bytes of the layer's dtype (bit-exact).
// Layers are named inside the sealed payload, so editing the public layer list cannot redirect
// restored kernels.
import { createHash } from 'node:crypto';
import { type SafetensorsDtype, type TensorEntry, isSafetensorsDtype } from '../io/safetensors.ts';

export const PROTECT_METADATA_KEY = 'nnlock.protect';
export const TIER_METADATA_PREFIX = 'nnlock.tier.';
/** Version 2: the owner's signature (see "Version 2" at the top). */
export const SIGNATURE_METADATA_KEY = 'nnlock.signature';
export const FORMAT_NAME = 'nnlock-protect';
/** The version protect writes. */
export const FORMAT_VERSION = 2;
/** The unsigned version of nnlock 0.1 and 0.2: still read and unlocked, reported as unsigned. */
export const UNSIGNED_FORMAT_VERSION = 1;
const PAYLOAD_VERSION = 1;
const CIPHER = 'AES-256-GCM';
const KDF = 'HKDF-SHA-256';

export type ProtectErrorCode =
  | 'NOT_PROTECTED'
  | 'ALREADY_PROTECTED'
  | 'MALFORMED'
  | 'WEIGHTS_MODIFIED'
  | 'BAD_TIER'
  /** Version 2: the owner's signature does not verify (the header, metadata or a section changed). */
  | 'BAD_SIGNATURE'
  /** A signer was pinned (by the caller or the key token) and the file is signed by another. */
  | 'WRONG_SIGNER'
  /** A signer was pinned and the file is unsigned (version 1). */
  | 'UNSIGNED';

/** Problems with a protected file itself (key problems are KeyError, from src/crypto). */
export class ProtectError extends Error {
  constructor(
    readonly code: ProtectErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtectError';
  }
}

export interface ProtectedLayerInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface ProtectHeader {
  format: typeof FORMAT_NAME;
  version: number;
  modelId: string;
  tiers: number;
  keyChecks: string[];
  layers: ProtectedLayerInfo[];
  architecture?: string;
  weightsDigest: string;
  cipher: 'AES-256-GCM';
  kdf: 'HKDF-SHA-256';
  /** Version 2: the owner's Ed25519 public key, `ed25519:<64 hex>`; absent in version 1 (unsigned). */
  signer?: string;
}

export function tierMetadataKey(tier: number): string {
  return `${TIER_METADATA_PREFIX}${tier}`;
}

/** True for metadata entries this format owns (dropped when a file is unlocked). */
export function isProtectMetadataKey(key: string): boolean {
  return key === PROTECT_METADATA_KEY || key === SIGNATURE_METADATA_KEY || key.startsWith(TIER_METADATA_PREFIX);
}

const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);
const SIGNER = /^ed25519:[0-9a-f]{64}$/;

function malformed(detail: string): ProtectError {
  return new ProtectError('MALFORMED', `malformed protected file: ${detail}`);
}

/** Reads and checks the public header (does not look at the weights). */
export function parseHeader(metadata: Record<string, string>): ProtectHeader {
  const raw = metadata[PROTECT_METADATA_KEY];
  if (raw === undefined) throw new ProtectError('NOT_PROTECTED', `not a protected model: the file has no '${PROTECT_METADATA_KEY}' metadata`);
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(raw);
  } catch {
    throw malformed(`'${PROTECT_METADATA_KEY}' is not valid JSON`);
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw malformed('the header is not a JSON object');
  if (h.format !== FORMAT_NAME) throw malformed(`format is ${JSON.stringify(h.format)}, expected "${FORMAT_NAME}"`);
  if (h.version !== FORMAT_VERSION && h.version !== UNSIGNED_FORMAT_VERSION) {
    throw malformed(`version ${JSON.stringify(h.version)} is not supported (this nnlock reads versions ${UNSIGNED_FORMAT_VERSION} and ${FORMAT_VERSION})`);
  }
  const version: number = h.version;
  if (version === FORMAT_VERSION && (typeof h.signer !== 'string' || !SIGNER.test(h.signer))) throw malformed('signer must be "ed25519:" and 64 hex characters');
  if (version === UNSIGNED_FORMAT_VERSION && h.signer !== undefined) throw malformed('a version 1 header has no signer');
  if (typeof h.modelId !== 'string' || !HEX(32).test(h.modelId)) throw malformed('modelId must be 32 hex characters');
  if (typeof h.weightsDigest !== 'string' || !HEX(64).test(h.weightsDigest)) throw malformed('weightsDigest must be 64 hex characters');
  const tiers = h.tiers;
  if (typeof tiers !== 'number' || !Number.isInteger(tiers) || tiers < 1 || tiers > 255) throw malformed('tiers must be an integer in [1, 255]');
  if (!Array.isArray(h.keyChecks) || h.keyChecks.length !== tiers || !h.keyChecks.every((c) => typeof c === 'string' && HEX(16).test(c))) {
    throw malformed(`keyChecks must list ${tiers} fingerprints of 16 hex characters`);
  }
  if (!Array.isArray(h.layers) || h.layers.length === 0) throw malformed('layers must be a non-empty list');
  const layers: ProtectedLayerInfo[] = h.layers.map((l: unknown, i: number) => {
    const o = l as Record<string, unknown>;
    if (
      typeof o !== 'object' ||
      o === null ||
      typeof o.name !== 'string' ||
      !isSafetensorsDtype(o.dtype) ||
      !Array.isArray(o.shape) ||
      o.shape.length !== 4 ||
      !o.shape.every((d) => Number.isInteger(d) && (d as number) > 0)
    ) {
      throw malformed(`layer ${i} must be { name, dtype, shape: 4 positive integers }`);
    }
    return { name: o.name, dtype: o.dtype, shape: o.shape as number[] };
  });
  if (h.architecture !== undefined && typeof h.architecture !== 'string') throw malformed('architecture must be a string');
  // The algorithms are recorded so that a file of another scheme is refused by name, not
  // unlocked with the wrong one (or reported as a wrong key).
  if (h.cipher !== CIPHER) throw malformed(`cipher ${JSON.stringify(h.cipher)} is not supported (this nnlock reads "${CIPHER}")`);
  if (h.kdf !== KDF) throw malformed(`kdf ${JSON.stringify(h.kdf)} is not supported (this nnlock reads "${KDF}")`);
  return {
    format: FORMAT_NAME,
    version,
    modelId: h.modelId,
    tiers,
    keyChecks: h.keyChecks as string[],
    layers,
    architecture: h.architecture as string | undefined,
    weightsDigest: h.weightsDigest,
    cipher: 'AES-256-GCM',
    kdf: 'HKDF-SHA-256',
    ...(version === FORMAT_VERSION ? { signer: h.signer as string } : {}),
  };
}

export function serializeHeader(h: ProtectHeader): string {
  const { format, version, modelId, tiers, keyChecks, layers, architecture, weightsDigest, cipher, kdf, signer } = h;
  return JSON.stringify({ format, version, modelId, tiers, keyChecks, layers, ...(architecture ? { architecture } : {}), weightsDigest, cipher, kdf, ...(signer ? { signer } : {}) });
}

/** Checks that the header's layers exist in the file as recorded. */
export function checkHeaderLayers(h: ProtectHeader, tensors: Map<string, TensorEntry>): void {
  for (const l of h.layers) {
    const e = tensors.get(l.name);
    if (!e) throw malformed(`protected layer ${l.name} is not in the file`);
    if (e.dtype !== l.dtype || e.shape.join() !== l.shape.join()) {
      throw malformed(`protected layer ${l.name} is ${e.dtype}[${e.shape.join(', ')}] in the file but ${l.dtype}[${l.shape.join(', ')}] in the header`);
    }
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The sealed bytes of tier m's section. */
export function readSection(metadata: Record<string, string>, tier: number): Uint8Array {
  const text = metadata[tierMetadataKey(tier)];
  if (text === undefined) throw malformed(`the sealed section of tier ${tier} ('${tierMetadataKey(tier)}') is missing`);
  // Buffer skips what is not base64, so every character is valid exactly when the decoded length
  // is the one the text's length and padding give (a regular expression over megabytes of base64
  // would cost more than opening the section). Buffer also takes the URL-safe alphabet; that is
  // harmless, as the bytes are authenticated (signed digest, AEAD tag) before anything is used.
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = text.length % 4 === 0 ? Buffer.from(text, 'base64') : undefined;
  if (!bytes || bytes.length !== (text.length / 4) * 3 - padding) {
    throw malformed(`the sealed section of tier ${tier} is not valid base64`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeSection(sealed: Uint8Array): string {
  return Buffer.from(sealed).toString('base64');
}

// ---------------------------------------------------------------------------
// Digest of the published weights

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u64be(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export function weightsDigest(tensors: Map<string, TensorEntry>): Uint8Array {
  const h = createHash('sha256');
  h.update('nnlock weights digest v1\0');
  const names = [...tensors.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  for (const name of names) {
    const e = tensors.get(name)!;
    const n = Buffer.from(name, 'utf8');
    const d = Buffer.from(e.dtype, 'utf8');
    h.update(u32be(n.length)).update(n).update(u32be(d.length)).update(d).update(u32be(e.shape.length));
    for (const dim of e.shape) h.update(u64be(dim));
    h.update(u64be(e.data.byteLength)).update(e.data);
  }
  return new Uint8Array(h.digest());
}

// ---------------------------------------------------------------------------
// Version 2: the signed body, the section digests and the signature entry

/** UTF-8 byte order of strings (JavaScript's default sort is UTF-16 order). */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * SHA-256 of every metadata entry the owner signs: all of `__metadata__` except the sections
 * (nnlock.tier.*) and the signature itself. That is the header (verbatim: tiers, keyChecks, layers,
 * architecture, weights digest, signer) and every entry the file came with (architecture,
 * normalisation, class names, anything a user relies on), in UTF-8 byte order of the keys:
 *   "nnlock signed body v2" 0x00, u32 count, then per entry u32 len(key) key u32 len(value) value
 * (UTF-8, integers big-endian). Small: no weights are hashed here.
 */
export function bodyDigest(metadata: Record<string, string>): Uint8Array {
  const keys = Object.keys(metadata)
    .filter((k) => k !== SIGNATURE_METADATA_KEY && !k.startsWith(TIER_METADATA_PREFIX))
    .sort(byUtf8);
  const h = createHash('sha256');
  h.update('nnlock signed body v2\0').update(u32be(keys.length));
  for (const k of keys) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(metadata[k], 'utf8');
    h.update(u32be(kb.length)).update(kb).update(u32be(vb.length)).update(vb);
  }
  return new Uint8Array(h.digest());
}

/** SHA-256 of a section's sealed bytes (nonce || ciphertext || tag). */
export function sectionDigest(sealed: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(sealed).digest());
}

/**
 * The message the owner signs: "nnlock signature v2" 0x00 || bodyDigest (32) || u32 M ||
 * sectionDigest of tiers 1..M (32 each). Compact (a few hundred bytes), so checking it costs
 * nothing next to the weights; each section is checked against its digest only when it is opened.
 */
export function signatureMessage(body: Uint8Array, sections: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat([Buffer.from('nnlock signature v2\0'), body, u32be(sections.length), ...sections]));
}

/** The signature entry: the section digests the signature covers, and the signature. */
export interface SignatureEntry {
  alg: 'Ed25519';
  /** sectionDigest of tiers 1..M, hex. */
  sections: string[];
  /** 64 bytes, base64. */
  signature: string;
}

export function serializeSignature(e: SignatureEntry): string {
  return JSON.stringify({ alg: e.alg, sections: e.sections, signature: e.signature });
}

/** Reads and checks the shape of the signature entry of a version-2 file of `tiers` tiers (BAD_SIGNATURE when it signs another count). */
export function parseSignature(metadata: Record<string, string>, tiers: number): SignatureEntry {
  const raw = metadata[SIGNATURE_METADATA_KEY];
  if (raw === undefined) throw malformed(`a version ${FORMAT_VERSION} file must have the owner's signature ('${SIGNATURE_METADATA_KEY}')`);
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(raw);
  } catch {
    throw malformed(`'${SIGNATURE_METADATA_KEY}' is not valid JSON`);
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e)) throw malformed('the signature entry is not a JSON object');
  if (e.alg !== 'Ed25519') throw malformed(`signature algorithm ${JSON.stringify(e.alg)} is not supported (this nnlock reads "Ed25519")`);
  if (!Array.isArray(e.sections) || e.sections.length === 0 || e.sections.length > 255 || !e.sections.every((d) => typeof d === 'string' && HEX(64).test(d))) {
    throw malformed('the signature must list the section digests, 64 hex characters each');
  }
  if (e.sections.length !== tiers) {
    // A well-formed signature of another tier count: the header's tier count was edited.
    throw new ProtectError('BAD_SIGNATURE', `the owner signed ${e.sections.length} tiers, but the header says ${tiers}: the header was modified`);
  }
  if (typeof e.signature !== 'string' || e.signature.length !== 88 || !BASE64.test(e.signature)) throw malformed('the signature must be 64 bytes in base64');
  return { alg: 'Ed25519', sections: e.sections as string[], signature: e.signature };
}

// ---------------------------------------------------------------------------
// Section payloads

export interface SectionLayer {
  name: string;
  /** Flat kernel indices (ascending as protect writes them; any order is read). */
  indices: Int32Array;
  /** indices.length × kernelBytes original bytes (decodePayload: a view into the payload). */
  values: Uint8Array;
}

export function encodePayload(layers: readonly SectionLayer[]): Uint8Array {
  const names = layers.map((l) => Buffer.from(l.name, 'utf8'));
  const size = 1 + 4 + layers.reduce((n, l, i) => n + 4 + names[i].length + 4 + 4 * l.indices.length + l.values.byteLength, 0);
  const out = Buffer.alloc(size);
  let at = out.writeUInt8(PAYLOAD_VERSION, 0);
  at = out.writeUInt32LE(layers.length, at);
  layers.forEach((l, i) => {
    at = out.writeUInt32LE(names[i].length, at);
    at += names[i].copy(out, at);
    at = out.writeUInt32LE(l.indices.length, at);
    for (const k of l.indices) at = out.writeInt32LE(k, at);
    out.set(l.values, at);
    at += l.values.byteLength;
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Parses a payload; `kernelBytesOf(name)` gives the bytes per kernel of a layer of the file (or
 * undefined when there is no such layer). Sections are authenticated before they are parsed, so a
 * failure here means a faulty writer, and it says so.
 */
export function decodePayload(payload: Uint8Array, kernelBytesOf: (name: string) => number | undefined, tier: number): SectionLayer[] {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const bad = (d: string) => malformed(`the section of tier ${tier} is inconsistent with the file (${d})`);
  const need = (at: number, n: number) => {
    if (at + n > buf.length) throw bad('truncated payload');
  };
  need(0, 5);
  if (buf.readUInt8(0) !== PAYLOAD_VERSION) throw bad(`payload version ${buf.readUInt8(0)}`);
  const count = buf.readUInt32LE(1);
  let at = 5;
  const out: SectionLayer[] = [];
  for (let i = 0; i < count; i++) {
    need(at, 4);
    const nameLength = buf.readUInt32LE(at);
    at += 4;
    need(at, nameLength);
    const name = buf.toString('utf8', at, at + nameLength);
    at += nameLength;
    const kernelBytes = kernelBytesOf(name);
    if (kernelBytes === undefined) throw bad(`layer ${name} is not a protected layer of this file`);
    need(at, 4);
    const n = buf.readUInt32LE(at);
    at += 4;
    need(at, 4 * n);
    const indices = new Int32Array(n);
    for (let j = 0; j < n; j++, at += 4) indices[j] = buf.readInt32LE(at);
    need(at, n * kernelBytes);
    out.push({ name, indices, values: payload.subarray(at, at + n * kernelBytes) });
    at += n * kernelBytes;
  }
  if (at !== buf.length) throw bad('trailing bytes');
  return out;
}
