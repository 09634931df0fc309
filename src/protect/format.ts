// The protected-model file format (version 3, signed, sections as tensors; versions 2, signed, and
// 1, unsigned, with the sections as base64 metadata, are still read).
//
// The normative specification is docs/FORMAT.md §1-2, docs/FORMAT-v2.md and docs/FORMAT-v3.md
// (complete enough to implement a reader from; python/nnlock_torch is one): this comment summarises
// them and they must agree. The vectors in test/vectors/ (scripts/make-vectors.ts) pin both
// implementations; a format change is a new version, and readers refuse versions they do not
// implement by naming them.
//
// A protected model is ONE safetensors file with the original tensors (same names, shapes and
// dtypes, the selected kernels holding decoys) and, in version 3, one U8 tensor per tier holding its
// sealed section, named `__nnlock__/tier-<m>` (SECTION_TENSOR_PREFIX: nnlock's reserved names, never
// a model's tensor; nnlock's loaders skip them, PyTorch users drop them, see docs/FORMAT-v3.md).
// Any safetensors reader opens it. The rest lives in the string map `__metadata__`, next to the
// original file's own entries (kept unchanged):
//
//   "nnlock.protect"   public JSON, readable without a key:
//     { "format": "nnlock-protect", "version": 3,
//       "modelId": 32 hex chars (16 random bytes),
//       "tiers": M,
//       "keyChecks": [keyCheck(K_1, modelId, 1), ..., keyCheck(K_M, modelId, M)]  (16 hex each),
//       "layers": [{ "name", "dtype" (safetensors code), "shape" }, ...]  the protected conv weights,
//       "architecture": "resnet20"  (when known),
//       "weightsDigest": 64 hex chars,
//       "cipher": "AES-256-GCM", "kdf": "HKDF-SHA-256",
//       "signer": "ed25519:" + 64 hex chars  (versions 2 and 3: the owner's Ed25519 public key) }
//
//   section m, for m = 1..M: seal(sectionKey(K_m, modelId, m), payload_m, AAD_m)
//     (AES-256-GCM: 12-byte random nonce || ciphertext || 16-byte tag; src/crypto/seal.ts), stored
//     version 3: as the bytes of the tensor "__nnlock__/tier-<m>" (dtype U8, shape [length]);
//     versions 1 and 2: base64 in the metadata entry "nnlock.tier.<m>";
//     versions 2 and 3: AAD_m = signedSectionAad({ modelId, tier: m, bodyDigest })
//     version 1: AAD_m = sectionAad({ modelId, tier: m, weightsDigest })
//
//   "nnlock.signature" (versions 2 and 3) JSON:
//     { "alg": "Ed25519", "sections": [sectionDigest_1, ..., sectionDigest_M] (64 hex each),
//       "signature": base64 of Ed25519(signing key, signatureMessage) (64 bytes) }
//
// Version 3 changes only where the sections are: version 2 kept them in the header as base64 JSON
// text (12.6 MB for a VGG19), which every reader parsed on every unlock, at about the cost of
// decrypting the whole file; as tensors they are bytes at an offset, and a reader reads the header
// (now small), the sections it opens and the tensors it restores. What is signed and bound is
// exactly version 2's (the same domain strings: the version number is in the signed header).
//
// What is signed and why (versions 2 and 3). The threat: a holder of a tier-m key can re-seal
// sections 1..m (he has their keys) over weights he changed, recompute the weights digest, and
// publish; in version 1 every user of tiers ≤ m accepted that (only sections above m, bound to the
// old digest, failed), and nothing bound the header or the other metadata (tier count,
// normalisation, class names) at all. In versions 2 and 3:
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
//   of its name, except the reserved "__nnlock__/" tensors (version 3's sections, bound by their
//   signed digests instead): u32 len(name) name, u32 len(dtype) dtype (safetensors code, e.g. "F32"),
//   u32 ndim, u64 each dim, u64 len(bytes) bytes  (integers big-endian).
// It covers the published (decoyed) weights. Version 1 binds the sections' AAD to it directly;
// versions 2 and 3 through the signed header. It is one stream in name order, so a reader hashes
// each tensor as its bytes arrive (read.ts): one pass over the weights, not a read and then a hash.
// Versions 1 and 2 have no reserved tensors; a file that does is refused, as is a version 3 file
// with any reserved tensor but its M sections.
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
import { endianness } from 'node:os';
import { RESERVED_TENSOR_PREFIX, type SafetensorsDtype, type SafetensorsFile, type TensorEntry, isReservedTensorName, isSafetensorsDtype } from '../io/safetensors.ts';

export const PROTECT_METADATA_KEY = 'nnlock.protect';
export const TIER_METADATA_PREFIX = 'nnlock.tier.';
/** Versions 2 and 3: the owner's signature (see "What is signed and why" at the top). */
export const SIGNATURE_METADATA_KEY = 'nnlock.signature';
/** Version 3: the sealed section of tier m is the U8 tensor `__nnlock__/tier-<m>`. */
export const SECTION_TENSOR_PREFIX = `${RESERVED_TENSOR_PREFIX}tier-`;
export const FORMAT_NAME = 'nnlock-protect';
/** The version protect writes: signed, the sections as tensors. */
export const FORMAT_VERSION = 3;
/** Signed, the sections as base64 metadata (nnlock 0.3): still read and unlocked. */
export const METADATA_SECTIONS_FORMAT_VERSION = 2;
/** The unsigned version of nnlock 0.1 and 0.2: still read and unlocked, reported as unsigned. */
export const UNSIGNED_FORMAT_VERSION = 1;
/** The versions this nnlock reads. */
export const READ_VERSIONS: readonly number[] = [UNSIGNED_FORMAT_VERSION, METADATA_SECTIONS_FORMAT_VERSION, FORMAT_VERSION];

/** Whether a version carries the owner's signature (2 and 3). */
export function isSignedVersion(version: number): boolean {
  return version !== UNSIGNED_FORMAT_VERSION;
}
const PAYLOAD_VERSION = 1;
const LITTLE_ENDIAN = endianness() === 'LE';
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
  /** Versions 2 and 3: the owner's Ed25519 public key, `ed25519:<64 hex>`; absent in version 1 (unsigned). */
  signer?: string;
}

/** Where versions 1 and 2 keep the sealed section of a tier (base64 metadata). */
export function tierMetadataKey(tier: number): string {
  return `${TIER_METADATA_PREFIX}${tier}`;
}

/** Where version 3 keeps the sealed section of a tier (a U8 tensor). */
export function sectionTensorName(tier: number): string {
  return `${SECTION_TENSOR_PREFIX}${tier}`;
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
  if (typeof h.version !== 'number' || !READ_VERSIONS.includes(h.version)) {
    throw malformed(`version ${JSON.stringify(h.version)} is not supported (this nnlock reads versions ${READ_VERSIONS.join(', ')})`);
  }
  const version: number = h.version;
  if (isSignedVersion(version) && (typeof h.signer !== 'string' || !SIGNER.test(h.signer))) throw malformed('signer must be "ed25519:" and 64 hex characters');
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
    ...(isSignedVersion(version) ? { signer: h.signer as string } : {}),
  };
}

export function serializeHeader(h: ProtectHeader): string {
  const { format, version, modelId, tiers, keyChecks, layers, architecture, weightsDigest, cipher, kdf, signer } = h;
  return JSON.stringify({ format, version, modelId, tiers, keyChecks, layers, ...(architecture ? { architecture } : {}), weightsDigest, cipher, kdf, ...(signer ? { signer } : {}) });
}

/**
 * Checks that the header's layers exist in the file as recorded, and that the reserved
 * `__nnlock__/` tensors are exactly version 3's sections (none in versions 1 and 2): nothing in the
 * file escapes both the weights digest and the signature.
 */
export function checkHeaderLayers(h: ProtectHeader, tensors: Map<string, TensorEntry>): void {
  for (const name of tensors.keys()) {
    if (!isReservedTensorName(name)) continue;
    const tier = h.version === FORMAT_VERSION && name.startsWith(SECTION_TENSOR_PREFIX) ? Number(name.slice(SECTION_TENSOR_PREFIX.length)) : Number.NaN;
    // Any tier number: a section beyond the header's count is ignored, as in version 2 (an edited
    // count is then reported as what it is, a broken signature).
    if (!(Number.isInteger(tier) && tier >= 1 && tier <= 255 && name === sectionTensorName(tier))) {
      throw malformed(`tensor ${JSON.stringify(name)} uses the reserved prefix ${RESERVED_TENSOR_PREFIX} but is not a section of this version ${h.version} file`);
    }
  }
  for (const l of h.layers) {
    if (isReservedTensorName(l.name)) throw malformed(`protected layer ${l.name} has a reserved name`);
    const e = tensors.get(l.name);
    if (!e) throw malformed(`protected layer ${l.name} is not in the file`);
    if (e.dtype !== l.dtype || e.shape.join() !== l.shape.join()) {
      throw malformed(`protected layer ${l.name} is ${e.dtype}[${e.shape.join(', ')}] in the file but ${l.dtype}[${l.shape.join(', ')}] in the header`);
    }
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The sealed bytes of tier m's section: in version 3 the bytes of its U8 tensor (a view, no copy),
 * in versions 1 and 2 its base64 metadata entry decoded.
 */
export function readSection(file: SafetensorsFile, version: number, tier: number): Uint8Array {
  if (version === FORMAT_VERSION) {
    const e = file.tensors.get(sectionTensorName(tier));
    if (!e) throw malformed(`the sealed section of tier ${tier} (tensor '${sectionTensorName(tier)}') is missing`);
    if (e.dtype !== 'U8' || e.shape.length !== 1) throw malformed(`the sealed section of tier ${tier} must be a 1-D U8 tensor, not ${e.dtype}[${e.shape.join(', ')}]`);
    return e.data;
  }
  const text = file.metadata[tierMetadataKey(tier)];
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

/** Stores tier m's sealed section in `file` where its version keeps it (see readSection). */
export function writeSection(file: SafetensorsFile, version: number, tier: number, sealed: Uint8Array): void {
  if (version === FORMAT_VERSION) file.tensors.set(sectionTensorName(tier), { dtype: 'U8', shape: [sealed.byteLength], data: sealed });
  else file.metadata[tierMetadataKey(tier)] = encodeSection(sealed);
}

/** Removes every section of `file` (both layouts): what an unlocked file, or a rewrite in another version, starts from. */
export function removeSections(file: SafetensorsFile): void {
  for (const name of [...file.tensors.keys()]) if (name.startsWith(SECTION_TENSOR_PREFIX)) file.tensors.delete(name);
  for (const k of Object.keys(file.metadata)) if (k.startsWith(TIER_METADATA_PREFIX)) delete file.metadata[k];
}

/** Versions 1 and 2: a sealed section as its metadata text. */
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

/** The tensors the weights digest covers, in the order it hashes them: all but the reserved ones, by UTF-8 name. */
export function digestOrder(names: Iterable<string>): string[] {
  // Each name encoded once (a comparator that encodes both sides encodes n·log n times).
  const keyed = [...names].filter((n) => !isReservedTensorName(n)).map((n) => ({ n, b: Buffer.from(n, 'utf8') }));
  return keyed.sort((x, y) => Buffer.compare(x.b, y.b)).map((k) => k.n);
}

/**
 * The weights digest as a stream: `add` the tensors in digestOrder, each as soon as its bytes are
 * there (read.ts hashes a file as it reads it), then `digest`.
 */
export class WeightsHasher {
  private readonly h = createHash('sha256').update('nnlock weights digest v1\0');
  add(name: string, e: Pick<TensorEntry, 'dtype' | 'shape'>, data: Uint8Array): void {
    // The framing in one buffer, one update (a model has hundreds of small tensors), the 64-bit
    // integers as two 32-bit halves (BigInt per dimension cost more than the hash of a small tensor).
    const d = e.dtype;
    const frame = Buffer.allocUnsafe(4 + 3 * name.length + 4 + d.length + 4 + 8 * e.shape.length + 8);
    const nameBytes = frame.write(name, 4, 'utf8');
    frame.writeUInt32BE(nameBytes, 0);
    let at = 4 + nameBytes;
    at = frame.writeUInt32BE(d.length, at);
    at += frame.write(d, at, 'latin1'); // dtype codes are ASCII
    at = frame.writeUInt32BE(e.shape.length, at);
    for (const dim of e.shape) at = writeU64(frame, dim, at);
    at = writeU64(frame, data.byteLength, at);
    this.h.update(frame.subarray(0, at)).update(data);
  }
  digest(): Uint8Array {
    return new Uint8Array(this.h.digest());
  }
}

/** A non-negative safe integer as 8 bytes big-endian at `at`; returns the offset after it. */
function writeU64(b: Buffer, n: number, at: number): number {
  b.writeUInt32BE(Math.floor(n / 0x1_0000_0000), at);
  return b.writeUInt32BE(n % 0x1_0000_0000, at + 4);
}

/** SHA-256 of the published weights (every tensor but the reserved `__nnlock__/` ones; see the top). */
export function weightsDigest(tensors: Map<string, TensorEntry>): Uint8Array {
  const h = new WeightsHasher();
  for (const name of digestOrder(tensors.keys())) {
    const e = tensors.get(name)!;
    h.add(name, e, e.data);
  }
  return h.digest();
}

// ---------------------------------------------------------------------------
// Versions 2 and 3: the signed body, the section digests and the signature entry

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

/** Reads and checks the shape of the signature entry of a signed file of `tiers` tiers (BAD_SIGNATURE when it signs another count). */
export function parseSignature(metadata: Record<string, string>, tiers: number): SignatureEntry {
  const raw = metadata[SIGNATURE_METADATA_KEY];
  if (raw === undefined) throw malformed(`a signed (version ${METADATA_SECTIONS_FORMAT_VERSION} or ${FORMAT_VERSION}) file must have the owner's signature ('${SIGNATURE_METADATA_KEY}')`);
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
 * Where a payload's fields come from: `take(n)` gives the next n bytes (fewer at the end), and
 * `finish()` gives what is left once the reader is done, after authenticating it all when the
 * bytes come from a section being decrypted (openInParts in src/crypto/seal.ts): nothing taken is
 * looked at but the lengths that steer the next take until finish() has returned.
 */
export interface PayloadSource {
  readonly remaining: number;
  take(n: number): Uint8Array;
  finish(): Uint8Array;
}

/**
 * Parses a payload; `kernelBytesOf(name)` gives the bytes per kernel of a layer of the file (or
 * undefined when there is no such layer). Sections are authenticated before they are parsed, so a
 * failure here means a faulty writer, and it says so.
 */
export function decodePayload(payload: Uint8Array, kernelBytesOf: (name: string) => number | undefined, tier: number): SectionLayer[] {
  // Read in place (the bytes are authentic already): the lengths straight from the bytes and the
  // names through one Buffer view, so only each layer's indices and values become arrays. Through
  // a PayloadSource every field was a view of its own, which made decoding a ResNet-20's three
  // small sections cost about as much as decrypting them.
  const bad = (d: string) => malformed(`the section of tier ${tier} is inconsistent with the file (${d})`);
  const n = payload.length;
  if (n < 5) throw bad('truncated payload');
  if (payload[0] !== PAYLOAD_VERSION) throw bad(`payload version ${payload[0]}`);
  const count = u32leAt(payload, 1);
  const text = Buffer.from(payload.buffer, payload.byteOffset, n);
  const out: SectionLayer[] = [];
  // Where each layer's indices are, to copy them into one aligned array below (an array of its own
  // per layer cost more than the copies: a typed array over 64 bytes is an allocation outside the heap).
  const indexAt: number[] = [];
  let indexCount = 0;
  let at = 5;
  for (let i = 0; i < count; i++) {
    if (at + 4 > n) throw bad('truncated payload');
    const nameLength = u32leAt(payload, at);
    at += 4;
    if (at + nameLength + 4 > n) throw bad('truncated payload');
    const name = text.toString('utf8', at, at + nameLength);
    at += nameLength;
    const k = u32leAt(payload, at);
    at += 4;
    const kernelBytes = kernelBytesOf(name);
    if (kernelBytes === undefined) throw bad(`layer ${name} is not a protected layer of this file`);
    const values = at + 4 * k;
    const end = values + k * kernelBytes;
    if (end > n) throw bad('truncated payload');
    out.push({ name, indices: EMPTY_INDICES, values: payload.subarray(values, end) });
    indexAt.push(at, k);
    indexCount += k;
    at = end;
  }
  if (at < n) throw bad('trailing bytes');
  if (LITTLE_ENDIAN) {
    const all = new Int32Array(indexCount);
    const bytes = new Uint8Array(all.buffer);
    for (let i = 0, to = 0; i < out.length; i++) {
      const [from, k] = [indexAt[2 * i], indexAt[2 * i + 1]];
      bytes.set(payload.subarray(from, from + 4 * k), 4 * to);
      out[i].indices = all.subarray(to, to + k);
      to += k;
    }
  } else for (let i = 0; i < out.length; i++) out[i].indices = int32s(payload.subarray(indexAt[2 * i], indexAt[2 * i] + 4 * indexAt[2 * i + 1]));
  return out;
}

const EMPTY_INDICES = new Int32Array(0);

function u32leAt(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

const u32le = (b: Uint8Array) => u32leAt(b, 0);
const utf8 = new TextDecoder();

/**
 * Reads a payload field by field from `source` (a section decrypted as it is read: each layer's
 * indices and values then arrive in memory of their own, aligned, and are used without a copy),
 * then, once `source.finish()` has authenticated it, checks it as decodePayload does.
 */
export function readPayload(source: PayloadSource, kernelBytesOf: (name: string) => number | undefined, tier: number): SectionLayer[] {
  const bad = (d: string) => malformed(`the section of tier ${tier} is inconsistent with the file (${d})`);
  // What was read, as it was read (lengths as the bytes say, unchecked until the bytes are authentic).
  const raw: { name: string; count: number; indices: Uint8Array; values: Uint8Array; kernelBytes: number | undefined }[] = [];
  let short = false;
  const field = (n: number) => {
    const b = source.take(n);
    if (b.length < n) short = true;
    return b;
  };
  const head = field(5);
  const count = short ? 0 : u32le(head.subarray(1));
  for (let i = 0; i < count && !short && source.remaining > 0; i++) {
    const nameLength = u32le(field(4));
    if (short) break;
    // Decoding the name before the bytes are authentic is harmless (it only says how long the values are).
    const name = utf8.decode(field(nameLength));
    const n = short ? 0 : u32le(field(4));
    if (short) break;
    const kernelBytes = kernelBytesOf(name);
    const indices = field(4 * n);
    const values = short || kernelBytes === undefined ? new Uint8Array(0) : field(n * kernelBytes);
    raw.push({ name, count: n, indices, values, kernelBytes });
    if (kernelBytes === undefined) break;
  }
  const trailing = source.finish().length;
  // Authentic from here on.
  if (head.length < 5) throw bad('truncated payload');
  if (head[0] !== PAYLOAD_VERSION) throw bad(`payload version ${head[0]}`);
  const out: SectionLayer[] = [];
  for (const r of raw) {
    if (r.kernelBytes === undefined) throw bad(`layer ${r.name} is not a protected layer of this file`);
    if (r.indices.length < 4 * r.count || r.values.length < r.count * r.kernelBytes) throw bad('truncated payload');
    out.push({ name: r.name, indices: int32s(r.indices), values: r.values });
  }
  if (short || out.length < count) throw bad('truncated payload');
  if (trailing > 0) throw bad('trailing bytes');
  return out;
}

/** Little-endian 32-bit integers as an Int32Array: a view when the bytes are aligned on a little-endian machine, else a copy. */
function int32s(bytes: Uint8Array): Int32Array {
  const n = bytes.length / 4;
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Int32Array(n);
  // One copy of the little-endian bytes on a little-endian machine (hundreds of thousands of
  // indices: a read call each costs more than opening the section).
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let j = 0; j < n; j++) out[j] = view.getInt32(4 * j, true);
  }
  return out;
}
