/**
 * The owner's signature over a protected model (Ed25519, RFC 8032, from node:crypto).
 *
 * Where the signing key comes from: it is DERIVED from the master key,
 *
 *   seed = HKDF-SHA-256(ikm = K_M, salt = modelId, info = "nnlock owner signing v2" || 0 || M (u32 BE), 32)
 *
 * and the Ed25519 private key is that 32-byte seed (RFC 8032 §5.1.5). Why derived and not a separate
 * owner key file:
 *   - no new secret to keep, back up or lose: whoever holds the master key is the owner, and the
 *     master key is already the one secret the owner must keep (its loss loses the model anyway);
 *   - the tier chain is one-way (src/crypto/tier-keys.ts), so no key of a lower tier can derive
 *     K_M, hence not the seed: a tier-m key holder (m < M) cannot sign;
 *   - the owner can re-derive and check the signer of any of their files from the master key.
 * The cost: each model has its own signer (the seed is salted by the model id), so a user pins the
 * signer of a model, not of an owner. The pin travels with the owner's tokens (a token may carry
 * the signer, tier-keys.ts), so a user who got their key from the owner pins it without doing
 * anything.
 *
 * Signers are written `ed25519:<64 hex>` (the raw 32-byte public key).
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { KEY_BYTES, KeyError, assertKey, hkdfSha256 } from './tier-keys.ts';

/** Bytes of an Ed25519 public key and of a signature. */
export const SIGNER_BYTES = 32;
export const SIGNATURE_BYTES = 64;
const SIGNER_PREFIX = 'ed25519:';
const INFO_SIGNING = 'nnlock owner signing v2';

// DER wrappers of a raw Ed25519 key (RFC 8410): PKCS#8 for the private seed, SPKI for the public key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The owner's signing key of a model: its public key (raw 32 bytes) and a signing function (the
 * private key stays inside it, and no node:crypto type appears in nnlock's published types).
 */
export interface OwnerSigningKey {
  publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

/** The signing key of the model `modelId` with `tiers` tiers, from its master key (see the top). */
export function ownerSigningKey(masterKey: Uint8Array, modelId: Uint8Array, tiers: number): OwnerSigningKey {
  assertKey(masterKey, 'master key');
  if (!(modelId instanceof Uint8Array) || modelId.length === 0) throw new TypeError('modelId must be a non-empty Uint8Array');
  const info = Buffer.concat([Buffer.from(INFO_SIGNING), Buffer.from([0]), u32be(tiers)]);
  const seed = hkdfSha256(masterKey, modelId, info, KEY_BYTES);
  const der = Buffer.concat([PKCS8_PREFIX, seed]);
  try {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return { publicKey: new Uint8Array(spki.subarray(spki.length - SIGNER_BYTES)), sign: (message) => new Uint8Array(sign(null, message, privateKey)) };
  } finally {
    seed.fill(0);
    der.fill(0);
  }
}

/** Ed25519 signature of `message`. */
export function signMessage(key: OwnerSigningKey, message: Uint8Array): Uint8Array {
  return key.sign(message);
}

/** Whether `signature` is the signer's Ed25519 signature of `message` (false for any malformed input). */
export function verifySignature(signer: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signer.length !== SIGNER_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, signer]), format: 'der', type: 'spki' });
    return verify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}

/** `ed25519:<64 hex>`. */
export function formatSigner(publicKey: Uint8Array): string {
  if (publicKey.length !== SIGNER_BYTES) throw new RangeError(`an Ed25519 public key is ${SIGNER_BYTES} bytes, got ${publicKey.length}`);
  return `${SIGNER_PREFIX}${Buffer.from(publicKey).toString('hex')}`;
}

/** The public key of a signer written `ed25519:<64 hex>` (the prefix may be left out). */
export function parseSigner(text: string): Uint8Array {
  const t = text.trim().toLowerCase();
  const hex = t.startsWith(SIGNER_PREFIX) ? t.slice(SIGNER_PREFIX.length) : t;
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new KeyError('MALFORMED_SIGNER', `a signer is written ${SIGNER_PREFIX}<64 hex characters> (an Ed25519 public key)`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Whether two signers are the same public key. */
export function sameSigner(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}
