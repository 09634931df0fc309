// Unlocking: a key of tier t opens the sections of tiers 1..m (m ≤ t, default t) and puts their
// original kernels back, in memory (unlockModel in api.ts adds reading and loading; read.ts reads a
// file hashing its weights as they arrive). Every check runs before anything is returned or
// written, cheapest first (and steps 1-3 and 5 before any kernel is put back; a reader that owns
// the buffer may put a tensor's kernels back once that tensor is hashed, before step 4 has seen the
// rest, and they are wiped if step 4 or the read fails: restoreLayerInPlace):
//   1. the header's shape, and (versions 2 and 3) the owner's signature over the header, every
//      metadata entry and the section digests: a few hundred bytes, no weights;
//   2. the key's fingerprint ("wrong key") and the tier;
//   3. the signer pinned by the caller or carried by the token: a model signed by anyone else, or
//      an unsigned (version 1) file, is refused;
//   4. the digest of the published weights ("the protected weights were modified"), unless the
//      caller says it checked them already (verifyWeights: false, see below);
//   5. each section needed: its digest against the signed one, then its AEAD tag.
//
// What unlock touches: the sections it opens and the kernels it restores. Step 4 is the one pass
// over all the weights; it is what a user who takes a file from a third party needs, and what
// verifyProtected does without a key. A file checked once (when it was downloaded, or loaded by a
// long-running service) is unlocked again and again from the handle verifyForUnlock returns
// (verified.ts), which shares openSections with this file and records that the check was made;
// verifyWeights: false is the older way, the caller's word for it.
import { type SafetensorsFile, type TensorEntry, isReservedTensorName } from '../io/safetensors.ts';
import {
  type DecodedKeyToken,
  KeyError,
  decodeKeyToken,
  formatSigner,
  open,
  openInParts,
  parseSigner,
  sameSigner,
  sectionAad,
  sectionKeysDown,
  signedSectionAad,
  verifyKeyCheck,
  verifySignature,
} from '../crypto/index.ts';
import { type ConvLayer, convLayerOf } from './layers.ts';
import {
  ProtectError,
  type ProtectHeader,
  type SectionLayer,
  bodyDigest,
  checkHeaderLayers,
  decodePayload,
  isProtectMetadataKey,
  isSignedVersion,
  parseHeader,
  parseSignature,
  readPayload,
  readSection,
  sectionDigest,
  signatureMessage,
  weightsDigest,
} from './format.ts';

/** Metadata entry of a file unlocked below its top tier: "m/M" (it still holds decoys). */
export const UNLOCKED_TIER_METADATA_KEY = 'nnlock.unlocked-tier';

export interface VerifyOptions {
  /**
   * The owner's signer the file must carry, `ed25519:<64 hex>` (as `protect info` shows it). A file
   * signed by anyone else, or unsigned (version 1), is refused. Unlock also pins the signer its
   * token carries.
   */
  expectedSigner?: string;
  /**
   * Recompute the digest of every published tensor (default true): the one pass over all the
   * weights. false when the caller verified this very file already (verifyProtected) and holds it
   * in memory since: unlock then touches only the sections it opens and the kernels it restores.
   * Version 1 files are always checked (their sections are bound to the digest, not to a signature).
   */
  verifyWeights?: boolean;
}

export interface UnlockOptions extends VerifyOptions {
  /** Tier to restore (default: the key's tier). 0 restores nothing but still checks the key. */
  tier?: number;
  /**
   * Restore the kernels into the file's own buffers instead of copies of the layers (the input is
   * then modified). For a file the caller owns and gives up, e.g. one just read from disk: it saves
   * a copy of every protected layer.
   */
  inPlace?: boolean;
}

/**
 * Writes kernel j of `values` (kernelBytes each) over kernel indices[j] of `data`. Hundreds of
 * thousands of small copies to scattered places (each one a cache miss): 32-bit words when the
 * layer's bytes allow it (bit-exact, unlike float views, which may change NaN payloads), else
 * bytes; a subarray and set() per kernel costs several times as much. A large section's values are
 * decrypted into memory of their own (openInParts), so they are aligned; a small section's sit at
 * any offset of its payload and are read through a DataView in the machine's byte order (the same
 * bits): for a ResNet-20 that took half the time of copying them to aligned memory first.
 */
function copyKernels(data: Uint8Array, values: Uint8Array, indices: Int32Array, kernelBytes: number): void {
  if (kernelBytes % 4 === 0 && data.byteOffset % 4 === 0) {
    const to = new Uint32Array(data.buffer, data.byteOffset, Math.floor(data.byteLength / 4));
    const w = kernelBytes / 4;
    if (values.byteOffset % 4 !== 0) {
      const from = new DataView(values.buffer, values.byteOffset, values.byteLength);
      if (w === 9) copy3x3Unaligned(to, from, indices);
      else {
        for (let j = 0, b = 0; j < indices.length; j++) {
          const a = indices[j] * w;
          for (let i = 0; i < w; i++, b += 4) to[a + i] = from.getUint32(b, HOST_LITTLE_ENDIAN);
        }
      }
      return;
    }
    const from = new Uint32Array(values.buffer, values.byteOffset, values.byteLength / 4);
    if (w === 9) copy3x3(to, from, indices);
    else {
      for (let j = 0, b = 0; j < indices.length; j++, b += w) {
        const a = indices[j] * w;
        for (let i = 0; i < w; i++) to[a + i] = from[b + i];
      }
    }
    return;
  }
  for (let j = 0; j < indices.length; j++) {
    const a = indices[j] * kernelBytes;
    const b = j * kernelBytes;
    for (let i = 0; i < kernelBytes; i++) data[a + i] = values[b + i];
  }
}

/**
 * The reverse of copyKernels: kernels `indices` of a layer's bytes `data` into `out`, one after
 * another from kernel slot `at` (the published values a server keeps beside the restored ones).
 * In 32-bit words when both sides allow it, else bytes: a subarray and set() per kernel cost
 * several times as much (about 150 µs for a ResNet-20's 2,385 kernels, against 17 µs in words).
 */
export function gatherKernels(data: Uint8Array, indices: Int32Array, out: Uint8Array, at: number, kernelBytes: number): void {
  if (kernelBytes % 4 === 0 && data.byteOffset % 4 === 0 && out.byteOffset % 4 === 0) {
    const from = new Uint32Array(data.buffer, data.byteOffset, Math.floor(data.byteLength / 4));
    const to = new Uint32Array(out.buffer, out.byteOffset, Math.floor(out.byteLength / 4));
    const w = kernelBytes / 4;
    for (let j = 0, b = at * w; j < indices.length; j++, b += w) {
      const a = indices[j] * w;
      for (let i = 0; i < w; i++) to[b + i] = from[a + i];
    }
    return;
  }
  for (let j = 0, b = at * kernelBytes; j < indices.length; j++, b += kernelBytes) {
    const a = indices[j] * kernelBytes;
    for (let i = 0; i < kernelBytes; i++) out[b + i] = data[a + i];
  }
}

/** The machine's byte order, for DataView reads that give the words a Uint32Array would. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * 3×3 kernels of 32-bit values (nearly every protected kernel): nine stores written out, which
 * lets the engine keep several kernels' cache misses in flight (about twice as fast as the loop).
 */
function copy3x3(to: Uint32Array, from: Uint32Array, indices: Int32Array): void {
  for (let j = 0, b = 0; j < indices.length; j++, b += 9) {
    const a = indices[j] * 9;
    to[a] = from[b];
    to[a + 1] = from[b + 1];
    to[a + 2] = from[b + 2];
    to[a + 3] = from[b + 3];
    to[a + 4] = from[b + 4];
    to[a + 5] = from[b + 5];
    to[a + 6] = from[b + 6];
    to[a + 7] = from[b + 7];
    to[a + 8] = from[b + 8];
  }
}

/** copy3x3 from values at any offset (a small section's payload), read in the machine's byte order. */
function copy3x3Unaligned(to: Uint32Array, from: DataView, indices: Int32Array): void {
  const le = HOST_LITTLE_ENDIAN;
  for (let j = 0, b = 0; j < indices.length; j++, b += 36) {
    const a = indices[j] * 9;
    to[a] = from.getUint32(b, le);
    to[a + 1] = from.getUint32(b + 4, le);
    to[a + 2] = from.getUint32(b + 8, le);
    to[a + 3] = from.getUint32(b + 12, le);
    to[a + 4] = from.getUint32(b + 16, le);
    to[a + 5] = from.getUint32(b + 20, le);
    to[a + 6] = from.getUint32(b + 24, le);
    to[a + 7] = from.getUint32(b + 28, le);
    to[a + 8] = from.getUint32(b + 32, le);
  }
}

/**
 * Sections from this size on are decrypted field by field (openInParts: the values land aligned,
 * without a copy); smaller ones in one call (a VGG19's sections are megabytes, a ResNet-20's tens
 * of kilobytes, where a decryption call per field costs more than the unaligned copies).
 */
export const PARTS_FROM_BYTES = 256 << 10;

/** What verification established about a protected file. */
export interface Verification {
  /** The file's format version (1: unsigned; 2: signed; 3: signed, the sections as tensors). */
  version: number;
  /** Whether the owner's signature was checked and holds (false for version 1 files). */
  signed: boolean;
  /** The signer, `ed25519:<64 hex>` (versions 2 and 3). */
  signer?: string;
  /** Whether the signer was pinned (by expectedSigner or the key token) and matched. */
  signerPinned: boolean;
  /** Whether the digest of all published weights was recomputed and matched. */
  weightsVerified: boolean;
}

export interface UnlockResult extends Verification {
  /** The restored model: tensors and the original metadata (this format's entries removed). */
  file: SafetensorsFile;
  tier: number;
  tiers: number;
  keyTier: number;
  /** Kernels put back. */
  restored: number;
  header: ProtectHeader;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Refuses tier m's sealed bytes unless their SHA-256 is the digest the owner signed. */
export function checkSectionDigest(signed: Signed, tier: number, sealed: Uint8Array): void {
  if (!sameBytes(sectionDigest(sealed), signed.sections[tier - 1])) {
    throw new ProtectError('BAD_SIGNATURE', `the sealed section of tier ${tier} is not the one the owner signed: the file was modified`);
  }
}

function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** The public facts of a protected file (no key needed; nothing is verified but their shape). */
export function inspectProtected(file: SafetensorsFile): ProtectHeader {
  const header = parseHeader(file.metadata);
  checkHeaderLayers(header, file.tensors);
  return header;
}

/** A checked signed file: its body digest and the signed section digests. */
export interface Signed {
  body: Uint8Array;
  /** The signed section digests of tiers 1..M (index tier − 1). */
  sections: Uint8Array[];
}

/**
 * Signatures that verified, as signer, signature and message: Ed25519 verification is a pure
 * function of the three, so a file unlocked again (another tier, the same file reloaded) is not
 * verified twice. The message is recomputed from the file every time (its body digest hashes the
 * metadata as it is now), so any change to the header, the metadata or the section digests misses
 * the cache and is verified. Bounded: the oldest entries go first.
 */
const verifiedSignatures = new Set<string>();
const VERIFIED_SIGNATURES_KEPT = 256;

function verifiedBefore(signer: string, message: Uint8Array, signature: string): boolean {
  return verifiedSignatures.has(`${signer} ${signature} ${Buffer.from(message).toString('hex')}`);
}

function rememberVerified(signer: string, message: Uint8Array, signature: string): void {
  if (verifiedSignatures.size >= VERIFIED_SIGNATURES_KEPT) verifiedSignatures.delete(verifiedSignatures.values().next().value!);
  verifiedSignatures.add(`${signer} ${signature} ${Buffer.from(message).toString('hex')}`);
}

/** Step 1: the owner's signature of a signed file (undefined for version 1). */
function checkSignature(file: SafetensorsFile, header: ProtectHeader): Signed | undefined {
  if (!isSignedVersion(header.version)) return undefined;
  const entry = parseSignature(file.metadata, header.tiers);
  const body = bodyDigest(file.metadata);
  const digests = entry.sections.map(hex);
  const message = signatureMessage(body, digests);
  if (verifiedBefore(header.signer!, message, entry.signature)) return { body, sections: digests };
  if (verifySignature(parseSigner(header.signer!), message, new Uint8Array(Buffer.from(entry.signature, 'base64')))) rememberVerified(header.signer!, message, entry.signature);
  else {
    throw new ProtectError('BAD_SIGNATURE', "the owner's signature does not verify: the header, the metadata or a sealed section was modified after the model was protected");
  }
  return { body, sections: digests };
}

/** Step 3: the pinned signers (the caller's and the token's) against the file's. */
export function checkPins(header: ProtectHeader, pins: readonly Uint8Array[]): boolean {
  if (pins.length === 0) return false;
  for (const pin of pins) {
    if (!header.signer) {
      throw new ProtectError(
        'UNSIGNED',
        `the model is unsigned (format version ${header.version}), but the owner's signer ${formatSigner(pin)} was expected: an unsigned copy of a signed model is what a forger would make`,
      );
    }
    if (!sameSigner(parseSigner(header.signer), pin)) {
      throw new ProtectError('WRONG_SIGNER', `the model is signed by ${header.signer}, not by the expected owner ${formatSigner(pin)}: it is not the owner's model`);
    }
  }
  return true;
}

/**
 * Step 4: the digest of every published tensor. `hashed` is the digest read.ts computed while it
 * read these very bytes (one pass over them instead of a read and then a hash).
 */
export function checkWeights(file: SafetensorsFile, header: ProtectHeader, hashed?: Uint8Array): void {
  if (Buffer.from(hashed ?? weightsDigest(file.tensors)).toString('hex') !== header.weightsDigest) {
    throw new ProtectError('WEIGHTS_MODIFIED', 'the protected weights were modified: their digest differs from the one recorded when the model was protected');
  }
}

export function pinOf(expectedSigner: string | undefined): Uint8Array[] {
  return expectedSigner === undefined ? [] : [parseSigner(expectedSigner)];
}

/**
 * Checks a protected file without a key: its header, the owner's signature (versions 2 and 3), the
 * pinned signer, and the digest of all its published weights. A file that passes is exactly what
 * its signer published (the sections are checked against their signed digests when opened).
 * Version 1 files pass unsigned (`signed: false`) unless a signer is pinned.
 */
export function verifyProtected(file: SafetensorsFile, options: VerifyOptions = {}, hashed?: Uint8Array): Verification & { header: ProtectHeader } {
  const header = inspectProtected(file);
  const signed = checkSignature(file, header);
  const signerPinned = checkPins(header, pinOf(options.expectedSigner));
  const weightsVerified = options.verifyWeights !== false || !signed;
  if (weightsVerified) checkWeights(file, header, hashed);
  return { header, version: header.version, signed: signed !== undefined, signer: header.signer, signerPinned, weightsVerified };
}

/** One opened section's kernels of one layer, checked (in range, never twice), not yet put back. */
interface Restoration {
  layer: ConvLayer;
  indices: Int32Array;
  values: Uint8Array;
}

/**
 * An unlock whose checks of steps 1-3 and 5 passed and whose sections are open, not yet applied:
 * it holds original kernels, so it is applied (applyUnlock) or discarded, which wipes them.
 */
export interface OpenedUnlock {
  header: ProtectHeader;
  /** The tier to restore, and the key's. */
  tier: number;
  keyTier: number;
  signed: boolean;
  signerPinned: boolean;
  /** Whether step 4 (the digest of all weights) is required: applyUnlock does it when not done yet. */
  weightsVerified: boolean;
  /** Whether step 4 ran already (openUnlock with `weights: 'now'`). */
  weightsChecked: boolean;
  restorations: Restoration[];
  /**
   * Puts one layer's kernels back into `file`'s own buffer now (in place), before step 4 when it
   * is still to come: for a reader that owns the buffer and calls it as each tensor's bytes are
   * final (read.ts `settled`), so the kernels are written while the bytes are in the cache.
   * applyUnlock then skips the layer; if anything fails before it returns, discard wipes it.
   */
  restoreLayerInPlace(file: SafetensorsFile, name: string): void;
  /** The layers restoreLayerInPlace put back so far, with their (restored) bytes. */
  readonly restoredInPlace: ReadonlyMap<string, Uint8Array>;
  /** Wipes the opened sections (their original kernels): once they are applied, or given up. */
  wipeSections(): void;
  /** Wipes what the unlock holds: the opened sections, and any kernels already put back in place. */
  discard(): void;
}

/**
 * What an unlock needs of a file before any key is looked at: the checked header, the model id,
 * the checked signature (step 1), the protected layers and where each tier's sealed section is. An
 * unlock of a file builds it each time (openUnlock); a file verified once keeps it (verified.ts).
 */
export interface UnlockContext {
  header: ProtectHeader;
  modelId: Uint8Array;
  /** The checked signature: the body digest and the signed section digests (undefined for version 1). */
  signed: Signed | undefined;
  layers: ReadonlyMap<string, ConvLayer>;
  /** The 32-bit words of one bit per kernel of every protected layer, and where each layer's start. */
  markWords: number;
  markAt: ReadonlyMap<string, number>;
  /** Tier m's sealed bytes as the file holds them (checked against the signed digest when opened). */
  sealed(tier: number): Uint8Array;
  /**
   * True when sealed() returns private copies already checked against the signed digests
   * (verifyForUnlock): nobody can change them after that check, so an unlock need not hash them
   * again. The AEAD tag is still checked at every open.
   */
  sectionsChecked?: boolean;
  /** The associated data tier m's section is sealed with (version 1: bound to the weights digest; 2 and 3: to the signed body). */
  aad(tier: number): Uint8Array;
}

/** Step 1 and what every unlock of `file` needs before the key (see UnlockContext). */
export function unlockContext(file: SafetensorsFile): UnlockContext {
  const header = inspectProtected(file);
  const signed = checkSignature(file, header);
  const modelId = hex(header.modelId);
  const layers = new Map(header.layers.map((l) => [l.name, convLayerOf(l.name, file.tensors.get(l.name)!)]));
  const markAt = new Map<string, number>();
  let markWords = 0;
  for (const l of layers.values()) {
    markAt.set(l.name, markWords);
    markWords += (l.kernels + 31) >>> 5;
  }
  return {
    header,
    modelId,
    signed,
    layers,
    markWords,
    markAt,
    sealed: (tier) => readSection(file, header.version, tier),
    aad: (tier) => (signed ? signedSectionAad({ modelId, tier, bodyDigest: signed.body }) : sectionAad({ modelId, tier, weightsDigest: hex(header.weightsDigest) })),
  };
}

/**
 * Marks the kernels a section restores in `done` from word `at` on (one bit per kernel of the layer,
 * across all tiers), refusing one out of range or restored twice. Its own function: inside openSections the
 * loop ran several times slower (about 15 ns per kernel for a ResNet-20).
 */
function markKernels(indices: Int32Array, layer: ConvLayer, done: Uint32Array, at: number, tier: number): void {
  const kernels = layer.kernels;
  for (let j = 0; j < indices.length; j++) {
    const kernel = indices[j];
    const bit = 1 << (kernel & 31);
    if (kernel < 0 || kernel >= kernels || done[at + (kernel >>> 5)] & bit) {
      const twice = kernel >= 0 && kernel < kernels;
      throw new ProtectError('MALFORMED', `malformed protected file: tier ${tier} restores kernel ${kernel} of ${layer.name} ${twice ? 'twice' : 'out of range'}`);
    }
    done[at + (kernel >>> 5)] |= bit;
  }
}

/**
 * Steps 1-3 and 5 of an unlock: everything but putting kernels back. With `weights: 'now'` step 4
 * runs in its place, before any section is opened (unlock of a file in memory); with 'later' the
 * caller needs no weight bytes yet (only the header, the metadata and the sections: read.ts opens
 * the sections while the weights are still being read) and applyUnlock checks them.
 */
export function openUnlock(file: SafetensorsFile, key: string | DecodedKeyToken, options: UnlockOptions, weights: 'now' | 'later', hashed?: Uint8Array): OpenedUnlock {
  const context = unlockContext(file);
  const step: WeightsStep = options.verifyWeights === false && context.signed ? 'skipped' : weights === 'later' ? 'later' : { check: () => checkWeights(file, context.header, hashed) };
  return openSections(context, key, options, step);
}

/**
 * Step 4 in an unlock: `{ check }` runs it now, before any section is opened; 'later': applyUnlock
 * runs it; 'done': the file was verified before by the caller holding the context (verified.ts);
 * 'skipped': the caller said it checked the weights itself (verifyWeights: false).
 */
export type WeightsStep = { check: () => void } | 'later' | 'done' | 'skipped';

/**
 * Steps 2, 3 and 5 on a checked context (step 1 done): the key, the tier, the pins, then each
 * needed section's signed digest and AEAD tag, and its kernels checked (in range, never twice).
 * `weights` says where step 4 stands (WeightsStep).
 */
export function openSections(context: UnlockContext, key: string | DecodedKeyToken, options: Pick<UnlockOptions, 'tier' | 'expectedSigner'>, weights: WeightsStep): OpenedUnlock {
  const { header, modelId, signed, layers } = context;
  const M = header.tiers;
  const token = typeof key === 'string' ? decodeKeyToken(key) : { tier: key.tier, key: new Uint8Array(key.key), signer: key.signer };
  /** The opened sections' plaintext, in parts (wiped when applied or given up). */
  const payloads: { wipe(): void }[] = [];
  /** The section keys of tiers 1..m, index tier − 1 (each wiped once its section is open). */
  const keys: Uint8Array[] = [];
  const restoredInPlace = new Map<string, Uint8Array>();
  const discard = () => {
    for (const p of payloads) p.wipe();
    for (const data of restoredInPlace.values()) data.fill(0);
    restoredInPlace.clear();
  };
  try {
    const t = token.tier;
    if (t < 1 || t > M) {
      throw new KeyError('WRONG_KEY', `wrong key: it is a tier-${t} key, but this model has tiers 1..${M}`);
    }
    verifyKeyCheck(token.key, modelId, t, header.keyChecks[t - 1]);
    const m = options.tier ?? t;
    if (!Number.isInteger(m) || m < 0 || m > M) throw new ProtectError('BAD_TIER', `tier ${m} does not exist: this model has tiers 0..${M}`);
    if (m > t) throw new KeyError('TIER_TOO_LOW', `a tier-${t} key cannot unlock tier ${m}: keys unlock their own tier and the tiers below`);
    const signerPinned = checkPins(header, [...pinOf(options.expectedSigner), ...(token.signer ? [token.signer] : [])]);
    const weightsVerified = weights !== 'skipped';
    const weightsChecked = weights === 'done' || typeof weights === 'object';
    if (typeof weights === 'object') weights.check();

    // One bit per kernel of every protected layer, across all tiers (one array: a typed array
    // over 64 bytes is an allocation outside the heap, and there is a layer per conv layer).
    const marks = new Uint32Array(context.markWords);
    const restorations: Restoration[] = [];
    // The chain walked once, from the key's tier down to 1, with each needed tier's section key on the way.
    if (m >= 1) keys.push(...sectionKeysDown(token.key, t, m, modelId));
    for (let tier = 1; tier <= m; tier++) {
      const sealed = context.sealed(tier);
      if (signed && !context.sectionsChecked) checkSectionDigest(signed, tier, sealed);
      const aad = context.aad(tier);
      const sk = keys[tier - 1];
      let sections: SectionLayer[];
      try {
        // Decrypted field by field (each layer's indices and values into aligned memory of their
        // own, used without a copy); nothing is looked at until the tag has verified.
        // A small section in one piece: a decryption call per field costs more than it saves.
        const kernelBytesOf = (name: string) => layers.get(name)?.kernelBytes;
        if (sealed.length < PARTS_FROM_BYTES) {
          const payload = open(sk, sealed, aad);
          payloads.push({ wipe: () => payload.fill(0) });
          sections = decodePayload(payload, kernelBytesOf, tier);
        } else {
          const parts = openInParts(sk, sealed, aad);
          payloads.push(parts);
          sections = readPayload(parts, kernelBytesOf, tier);
        }
      } catch (e) {
        if (e instanceof KeyError) throw new KeyError(e.code, `the sealed section of tier ${tier} failed authentication: the file was modified`);
        throw e;
      } finally {
        sk.fill(0);
      }
      for (const s of sections) {
        const layer = layers.get(s.name)!;
        // One bit per kernel of the layer, across all tiers: in range, never restored twice.
        markKernels(s.indices, layer, marks, context.markAt.get(s.name)!, tier);
        restorations.push({ layer, indices: s.indices, values: s.values });
      }
    }
    const restoreLayerInPlace = (f: SafetensorsFile, name: string) => {
      if (!layers.has(name) || restoredInPlace.has(name)) return;
      const data = f.tensors.get(name)!.data;
      for (const r of restorations) if (r.layer.name === name) copyKernels(data, r.values, r.indices, r.layer.kernelBytes);
      restoredInPlace.set(name, data);
    };
    return {
      header,
      tier: m,
      keyTier: t,
      signed: signed !== undefined,
      signerPinned,
      weightsVerified,
      weightsChecked,
      restorations,
      restoreLayerInPlace,
      restoredInPlace,
      wipeSections: () => {
        for (const p of payloads) p.wipe();
      },
      discard,
    };
  } catch (e) {
    discard();
    throw e;
  } finally {
    token.key.fill(0);
    for (const k of keys) k.fill(0);
  }
}

/**
 * A copy of a layer to restore into, in memory of its own (aligned): not zeroed first, since the
 * copy overwrites every byte at once (a third faster for a VGG19's megabyte layers than a zeroed
 * array, and the copies are nearly all of its weights).
 */
function layerCopy(bytes: Uint8Array): Uint8Array {
  const b = Buffer.allocUnsafeSlow(bytes.byteLength);
  const copy = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  copy.set(bytes);
  return copy;
}

/**
 * Puts the opened sections' kernels back into `file` (the one openUnlock saw, its weights now all
 * read), after step 4 when openUnlock left it for later (`hashed`: the digest read.ts computed
 * while reading these bytes). The opened sections are wiped either way.
 */
export function applyUnlock(file: SafetensorsFile, opened: OpenedUnlock, options: Pick<UnlockOptions, 'inPlace'> = {}, hashed?: Uint8Array): UnlockResult {
  const { header } = opened;
  let returned = false;
  try {
    if (opened.weightsVerified && !opened.weightsChecked) checkWeights(file, header, hashed);
    const restored = new Map<string, Uint8Array>(opened.restoredInPlace);
    let count = 0;
    // Layer by layer, each tier's kernels of a layer one after the other (the restorations come
    // tier by tier): a VGG19 layer is megabytes, so the tiers after the first find it in the cache
    // instead of missing on every kernel again.
    const byLayer = new Map<string, Restoration[]>();
    for (const r of opened.restorations) {
      count += r.indices.length;
      if (opened.restoredInPlace.has(r.layer.name)) continue;
      const list = byLayer.get(r.layer.name);
      if (list) list.push(r);
      else byLayer.set(r.layer.name, [r]);
    }
    for (const [name, list] of byLayer) {
      const published = file.tensors.get(name)!.data;
      const data = options.inPlace ? published : layerCopy(published);
      restored.set(name, data);
      for (const r of list) copyKernels(data, r.values, r.indices, r.layer.kernelBytes);
    }
    const tensors = new Map<string, TensorEntry>();
    for (const [name, e] of file.tensors) if (!isReservedTensorName(name)) tensors.set(name, restored.has(name) ? { ...e, data: restored.get(name)! } : e);
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(file.metadata)) if (!isProtectMetadataKey(k)) metadata[k] = v;
    if (opened.tier < header.tiers) metadata[UNLOCKED_TIER_METADATA_KEY] = `${opened.tier}/${header.tiers}`;
    const result: UnlockResult = {
      file: { tensors, metadata },
      tier: opened.tier,
      tiers: header.tiers,
      keyTier: opened.keyTier,
      restored: count,
      header,
      version: header.version,
      signed: opened.signed,
      signer: header.signer,
      signerPinned: opened.signerPinned,
      weightsVerified: opened.weightsVerified,
    };
    returned = true;
    return result;
  } finally {
    // Success: only the opened sections are wiped (the kernels put back are the result); failure:
    // the kernels already put back in place too.
    if (returned) opened.wipeSections();
    else opened.discard();
  }
}

/**
 * Restores tiers 1..m of a protected file in memory. The input is not modified unless inPlace
 * (unlockModel is the API). `hashed`: the weights digest read.ts computed while reading `file`
 * (internal: it replaces recomputing it, it never skips the comparison).
 */
export function unlock(file: SafetensorsFile, key: string | DecodedKeyToken, options: UnlockOptions = {}, hashed?: Uint8Array): UnlockResult {
  return applyUnlock(file, openUnlock(file, key, options, 'now', hashed), options);
}
