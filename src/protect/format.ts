// The protected-model file format (version 1).
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
//     { "format": "nnlock-protect", "version": 1,
//       "modelId": 32 hex chars (16 random bytes),
//       "tiers": M,
//       "keyChecks": [keyCheck(K_1, modelId, 1), ..., keyCheck(K_M, modelId, M)]  (16 hex each),
//       "layers": [{ "name", "dtype" (safetensors code), "shape" }, ...]  the protected conv weights,
//       "architecture": "resnet20"  (when known),
//       "weightsDigest": 64 hex chars,
//       "cipher": "AES-256-GCM", "kdf": "HKDF-SHA-256" }
//
//   "nnlock.tier.<m>"  for m = 1..M: base64 of
//     seal(sectionKey(K_m, modelId, m), payload_m, sectionAad({ modelId, tier: m, weightsDigest }))
//     (AES-256-GCM: 12-byte random nonce || ciphertext || 16-byte tag; src/crypto/seal.ts).
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
// It covers the published (decoyed) weights. Unlock recomputes it first (a changed decoy gives
// "the protected weights were modified"), and the sections' AAD binds each section to it, so
// neither the weights nor the recorded digest can be swapped without failing authentication.
//
// payload_m: the kernels of rank in (prefix_{m−1}, prefix_m] of each protected layer, little-endian:
//   u8 version (1), u32 layerCount, then per layer:
//     u32 len(name), name (UTF-8), u32 count,
//     count × i32 flat kernel index (a·B + b of weight [A, B, kh, kw]), in ranking order,
//     count × kh·kw original values as raw bytes of the layer's dtype (bit-exact).
// Layers are named inside the sealed payload, so editing the public layer list cannot redirect
// restored kernels.
import { createHash } from 'node:crypto';
import { type SafetensorsDtype, type TensorEntry, isSafetensorsDtype } from '../io/safetensors.ts';

export const PROTECT_METADATA_KEY = 'nnlock.protect';
export const TIER_METADATA_PREFIX = 'nnlock.tier.';
export const FORMAT_NAME = 'nnlock-protect';
export const FORMAT_VERSION = 1;
const PAYLOAD_VERSION = 1;
const CIPHER = 'AES-256-GCM';
const KDF = 'HKDF-SHA-256';

export type ProtectErrorCode = 'NOT_PROTECTED' | 'ALREADY_PROTECTED' | 'MALFORMED' | 'WEIGHTS_MODIFIED' | 'BAD_TIER';

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
}

export function tierMetadataKey(tier: number): string {
  return `${TIER_METADATA_PREFIX}${tier}`;
}

/** True for metadata entries this format owns (dropped when a file is unlocked). */
export function isProtectMetadataKey(key: string): boolean {
  return key === PROTECT_METADATA_KEY || key.startsWith(TIER_METADATA_PREFIX);
}

const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);

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
  if (h.version !== FORMAT_VERSION) throw malformed(`version ${JSON.stringify(h.version)} is not supported (this nnlock reads version ${FORMAT_VERSION})`);
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
    version: FORMAT_VERSION,
    modelId: h.modelId,
    tiers,
    keyChecks: h.keyChecks as string[],
    layers,
    architecture: h.architecture as string | undefined,
    weightsDigest: h.weightsDigest,
    cipher: 'AES-256-GCM',
    kdf: 'HKDF-SHA-256',
  };
}

export function serializeHeader(h: ProtectHeader): string {
  const { format, version, modelId, tiers, keyChecks, layers, architecture, weightsDigest, cipher, kdf } = h;
  return JSON.stringify({ format, version, modelId, tiers, keyChecks, layers, ...(architecture ? { architecture } : {}), weightsDigest, cipher, kdf });
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
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw malformed(`the sealed section of tier ${tier} is not valid base64`);
  return new Uint8Array(Buffer.from(text, 'base64'));
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
// Section payloads

export interface SectionLayer {
  name: string;
  /** Flat kernel indices, ranking order. */
  indices: Int32Array;
  /** indices.length × kernelBytes original bytes. */
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
    out.push({ name, indices, values: new Uint8Array(payload.subarray(at, at + n * kernelBytes)) });
    at += n * kernelBytes;
  }
  if (at !== buf.length) throw bad('trailing bytes');
  return out;
}
