/**
 * Tier keys for nnlock.
 *
 * Keys form a one-way chain per model: the key of tier m derives the key of
 * tier m-1 with HKDF-SHA-256, and never the reverse (inverting HKDF would mean
 * inverting HMAC-SHA-256). A user holding the key of tier m can therefore open
 * the sections of tier m and every tier below it, and nothing above.
 *
 *   K_top = master key (tier topTier)
 *   K_{m-1} = HKDF-SHA-256(ikm = K_m, salt = modelId, info = "nnlock tier-chain v1", 32)
 *
 * Chain keys are never used directly: each purpose gets its own sub-key with a
 * distinct HKDF info string (domain separation), so no sub-key equals a chain key
 * and learning a sub-key reveals nothing about the chain.
 *
 * Keys never appear in error messages or logs. Only a short fingerprint
 * (`keyCheck`) may be stored or shown.
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** Length in bytes of every nnlock key (256 bits). */
export const KEY_BYTES = 32;

/** Highest tier number accepted by the chain and by key tokens. */
export const MAX_TIER = 255;

export type KeyErrorCode = 'MALFORMED_TOKEN' | 'MALFORMED_SIGNER' | 'WRONG_KEY' | 'TIER_TOO_LOW' | 'TAMPERED_OR_WRONG_KEY' | 'TRUNCATED' | 'INVALID_KEY';

/**
 * Error raised for anything key related: malformed tokens, wrong keys, keys of
 * too low a tier, failed authentication. The message never contains key material.
 */
export class KeyError extends Error {
  readonly code: KeyErrorCode;
  constructor(code: KeyErrorCode, message: string) {
    super(message);
    this.name = 'KeyError';
    this.code = code;
  }
}

const enc = new TextEncoder();

const INFO_CHAIN = 'nnlock tier-chain v1';
const INFO_SECTION = 'nnlock section v1';
const INFO_DECOY = 'nnlock decoy v1';
const KEY_ID_LABEL = 'nnlock key id v1';
const TOKEN_CHECK_LABEL = 'nnlock token v1';
const SIGNED_TOKEN_CHECK_LABEL = 'nnlock signed token v2';
/** Bytes of the owner's Ed25519 public key a token may carry (src/crypto/signing.ts). */
const SIGNER_BYTES = 32;
const TOKEN_PREFIX = 'nnlock1';

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** label || 0x00 || rest. Labels are fixed ASCII without NUL, so this is unambiguous. */
function labelled(label: string, ...rest: Uint8Array[]): Uint8Array {
  return concatBytes(enc.encode(label), new Uint8Array([0]), ...rest);
}

export function assertKey(key: Uint8Array, what = 'key'): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new KeyError('INVALID_KEY', `${what} must be ${KEY_BYTES} bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
  }
}

function assertModelId(modelId: Uint8Array): void {
  if (!(modelId instanceof Uint8Array) || modelId.length === 0) {
    throw new TypeError('modelId must be a non-empty Uint8Array');
  }
}

function assertTier(tier: number, what = 'tier'): void {
  if (!Number.isInteger(tier) || tier < 0 || tier > MAX_TIER) {
    throw new RangeError(`${what} must be an integer in [0, ${MAX_TIER}], got ${tier}`);
  }
}

/** HKDF-SHA-256 (RFC 5869) via node:crypto. Returns `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/** A fresh random 256-bit master key (the key of the top tier). */
export function generateMasterKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

/** One step down the chain: key of tier m -> key of tier m-1. */
export function deriveLowerKey(key: Uint8Array, modelId: Uint8Array): Uint8Array {
  assertKey(key);
  assertModelId(modelId);
  return hkdfSha256(key, modelId, enc.encode(INFO_CHAIN), KEY_BYTES);
}

/**
 * The key of `tier`, from the key of `topTier` (walks topTier - tier steps down).
 * Throws KeyError 'TIER_TOO_LOW' when tier > topTier (the chain only goes down).
 */
export function tierKey(topKey: Uint8Array, topTier: number, tier: number, modelId: Uint8Array): Uint8Array {
  assertKey(topKey);
  assertTier(topTier, 'topTier');
  assertTier(tier);
  if (tier > topTier) {
    throw new KeyError('TIER_TOO_LOW', `a tier-${topTier} key cannot derive the key of tier ${tier}: keys only grant their own tier and lower`);
  }
  let k: Uint8Array = new Uint8Array(topKey);
  for (let t = topTier; t > tier; t--) k = deriveLowerKey(k, modelId);
  return k;
}

/** AEAD key for the sealed section of `tier`, derived from that tier's chain key. */
export function sectionKey(tierKey: Uint8Array, modelId: Uint8Array, tier: number): Uint8Array {
  assertKey(tierKey, 'tier key');
  assertModelId(modelId);
  assertTier(tier);
  return hkdfSha256(tierKey, modelId, labelled(INFO_SECTION, u32be(tier)), KEY_BYTES);
}

/**
 * The section keys of tiers 1..tier from the key of topTier (index tier − 1), in one walk down the
 * chain: what an unlock of `tier` needs, the same bytes as sectionKey(tierKey(topKey, topTier, m,
 * modelId), modelId, m) for each m. Each chain key K_m is the input of two HKDFs with the same salt
 * (modelId): the step down (INFO_CHAIN) and its section key (INFO_SECTION, m). Their HKDF-Extract,
 * PRK = HMAC-SHA-256(modelId, K_m), is the same, so it is computed once per tier, and a 32-byte
 * HKDF-Expand is one HMAC, T(1) = HMAC-SHA-256(PRK, info || 0x01) (RFC 5869, L = HashLen). Three
 * HMACs per tier instead of two hkdfSync calls, each of which builds key objects and costs about
 * as much as three HMACs: this is a fixed cost of every unlock, and for a small model a large share.
 */
export function sectionKeysDown(topKey: Uint8Array, topTier: number, tier: number, modelId: Uint8Array): Uint8Array[] {
  assertKey(topKey);
  assertTier(topTier, 'topTier');
  assertTier(tier);
  assertModelId(modelId);
  if (tier > topTier) {
    throw new KeyError('TIER_TOO_LOW', `a tier-${topTier} key cannot derive the key of tier ${tier}: keys only grant their own tier and lower`);
  }
  const keys: Uint8Array[] = [];
  let k: Uint8Array = new Uint8Array(topKey);
  try {
    for (let m = topTier; m >= 1; m--) {
      const prk = createHmac('sha256', modelId).update(k).digest();
      try {
        if (m <= tier) keys[m - 1] = new Uint8Array(expand32(prk, SECTION_INFOS[m] ?? sectionInfo(m)));
        if (m > 1) {
          const next = expand32(prk, CHAIN_INFO);
          k.fill(0);
          k = new Uint8Array(next);
          next.fill(0);
        }
      } finally {
        prk.fill(0);
      }
    }
    return keys;
  } catch (e) {
    for (const key of keys) key.fill(0);
    throw e;
  } finally {
    k.fill(0);
  }
}

/** HKDF-Expand to 32 bytes (one block): HMAC-SHA-256(prk, info || 0x01). */
function expand32(prk: Uint8Array, info: Uint8Array): Buffer {
  return createHmac('sha256', prk).update(info).update(ONE).digest();
}

const ONE = new Uint8Array([1]);
const CHAIN_INFO = enc.encode(INFO_CHAIN);
function sectionInfo(tier: number): Uint8Array {
  return labelled(INFO_SECTION, u32be(tier));
}
/** The section infos of the first tiers, made once. */
const SECTION_INFOS = Array.from({ length: 17 }, (_, m) => sectionInfo(m));

/** Key for the keyed stream that generates the decoy kernels of one layer. */
export function decoyKey(masterKey: Uint8Array, modelId: Uint8Array, layerName: string): Uint8Array {
  assertKey(masterKey, 'master key');
  assertModelId(modelId);
  return hkdfSha256(masterKey, modelId, labelled(INFO_DECOY, enc.encode(layerName)), KEY_BYTES);
}

/**
 * Public fingerprint of a tier key: hex of the first 8 bytes of
 * SHA-256("nnlock key id v1" || 0 || tier(u32be) || len(modelId)(u32be) || modelId || key).
 * Stored in protected files so a wrong key can be reported clearly before any
 * decryption is attempted. With a 256-bit random key, 64 bits of hash reveal
 * nothing usable about the key.
 */
export function keyCheck(tierKey: Uint8Array, modelId: Uint8Array, tier: number): string {
  assertKey(tierKey, 'tier key');
  assertModelId(modelId);
  assertTier(tier);
  const h = createHash('sha256');
  h.update(labelled(KEY_ID_LABEL, u32be(tier), u32be(modelId.length), modelId, tierKey));
  return h.digest().subarray(0, 8).toString('hex');
}

/**
 * Compare a candidate key's fingerprint to the expected one (constant time).
 * Throws KeyError 'WRONG_KEY' on mismatch.
 */
export function verifyKeyCheck(tierKey: Uint8Array, modelId: Uint8Array, tier: number, expected: string): void {
  const got = Buffer.from(keyCheck(tierKey, modelId, tier), 'utf8');
  const want = Buffer.from(expected, 'utf8');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new KeyError('WRONG_KEY', `wrong key: this key does not match the tier-${tier} key of this model`);
  }
}

// ---------------------------------------------------------------------------
// Printable key tokens
// ---------------------------------------------------------------------------

export interface KeyTokenInput {
  tier: number;
  key: Uint8Array;
  /**
   * Accepted for convenience but not encoded: the token format is model
   * independent. Whether a token belongs to a given model is checked against
   * the file's `keyCheck` fingerprint (KeyError 'WRONG_KEY').
   */
  modelId?: Uint8Array;
  /**
   * The owner's Ed25519 public key (32 bytes), carried by the token so that its holder pins the
   * model's signer without doing anything: a model signed by anyone else is refused.
   */
  signer?: Uint8Array;
}

export interface DecodedKeyToken {
  tier: number;
  key: Uint8Array;
  /** The signer the token pins, when it carries one. */
  signer?: Uint8Array;
}

function tokenChecksum(tier: number, key: Uint8Array, signer?: Uint8Array): string {
  const h = createHash('sha256');
  h.update(signer ? labelled(SIGNED_TOKEN_CHECK_LABEL, u32be(tier), key, signer) : labelled(TOKEN_CHECK_LABEL, u32be(tier), key));
  return h.digest().subarray(0, 4).toString('hex');
}

/**
 * `nnlock1-t<tier>-<base64url(key), 43 chars>-<8 hex checksum>`, or with a signer
 * `nnlock1-t<tier>-<base64url(key), 43 chars>-s<base64url(signer), 43 chars>-<8 hex checksum>`.
 * The checksum covers tier, key (and signer) so that a typo gives "malformed key token".
 */
export function encodeKeyToken({ tier, key, signer }: KeyTokenInput): string {
  assertTier(tier);
  assertKey(key);
  if (signer !== undefined && (!(signer instanceof Uint8Array) || signer.length !== SIGNER_BYTES)) {
    throw new RangeError(`a token's signer is an Ed25519 public key of ${SIGNER_BYTES} bytes`);
  }
  const b64 = Buffer.from(key).toString('base64url');
  const s = signer ? `-s${Buffer.from(signer).toString('base64url')}` : '';
  return `${TOKEN_PREFIX}-t${tier}-${b64}${s}-${tokenChecksum(tier, key, signer)}`;
}

const TOKEN_RE = /^([^-]*)-t(0|[1-9][0-9]{0,2})-([A-Za-z0-9_-]{43})(?:-s([A-Za-z0-9_-]{43}))?-([0-9a-f]{8})$/;

function malformed(detail: string): KeyError {
  return new KeyError('MALFORMED_TOKEN', `malformed key token: ${detail}`);
}

/** The 32 bytes of a canonical base64url text of 43 characters, or undefined. */
function canonical32(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  // Reject non-canonical base64 (the last character carries 2 unused bits that
  // Buffer would silently ignore), so any changed character is detected.
  return bytes.length === KEY_BYTES && Buffer.from(bytes).toString('base64url') === text ? bytes : undefined;
}

/**
 * Parse and validate a key token (surrounding whitespace ignored).
 * Throws KeyError 'MALFORMED_TOKEN' with a message that never echoes the token.
 */
export function decodeKeyToken(token: string): DecodedKeyToken {
  if (typeof token !== 'string') throw malformed('expected a string');
  const t = token.trim();
  if (!t.startsWith(`${TOKEN_PREFIX}-`)) {
    throw malformed(`it should start with "${TOKEN_PREFIX}-"`);
  }
  const m = TOKEN_RE.exec(t);
  if (!m) {
    throw malformed(
      `expected ${TOKEN_PREFIX}-t<tier>-<43 base64url characters>[-s<43 base64url characters>]-<8 hex characters>` + ` (got ${t.length} characters); check that it was copied completely`,
    );
  }
  const tier = Number(m[2]);
  if (tier > MAX_TIER) throw malformed(`tier ${tier} is out of range [0, ${MAX_TIER}]`);
  const key = canonical32(m[3]!);
  if (!key) throw malformed('the key part is not a valid 32-byte base64url value');
  const signer = m[4] === undefined ? undefined : canonical32(m[4]);
  if (m[4] !== undefined && !signer) {
    key.fill(0);
    throw malformed('the signer part is not a valid 32-byte base64url value');
  }
  const want = Buffer.from(tokenChecksum(tier, key, signer), 'utf8');
  const got = Buffer.from(m[5]!, 'utf8');
  if (!timingSafeEqual(want, got)) {
    key.fill(0);
    throw malformed('checksum mismatch (typo in the token?)');
  }
  return signer ? { tier, key, signer } : { tier, key };
}
