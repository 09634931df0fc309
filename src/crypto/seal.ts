/**
 * AES-256-GCM sealing of byte payloads (the sealed sections of a protected model).
 *
 * Sealed layout: nonce (12 bytes) || ciphertext (same length as plaintext) || tag (16 bytes).
 *
 * Nonces are 96-bit random values drawn fresh for every seal. A section key
 * seals only a handful of sections over its lifetime, so the probability of a
 * random-nonce collision is negligible (well under the NIST SP 800-38D limit of
 * 2^32 random-nonce invocations per key).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KeyError, assertKey } from './tier-keys.ts';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes a sealed blob adds to its plaintext. */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/** Seal `plaintext` under `key`, authenticating `aad` too. Fresh random nonce. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return sealWithNonce(key, new Uint8Array(randomBytes(NONCE_BYTES)), plaintext, aad);
}

/**
 * Low-level sealing with an explicit nonce. INTERNAL: exported only for
 * known-answer tests. Never call it with a nonce that was used before with the
 * same key; use `seal` instead.
 */
export function sealWithNonce(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  assertKey(key, 'sealing key');
  if (nonce.length !== NONCE_BYTES) {
    throw new RangeError(`nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`);
  }
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  const tag = cipher.getAuthTag();
  const out = new Uint8Array(NONCE_BYTES + body.length + tail.length + TAG_BYTES);
  out.set(nonce, 0);
  out.set(body, NONCE_BYTES);
  out.set(tail, NONCE_BYTES + body.length);
  out.set(tag, out.length - TAG_BYTES);
  return out;
}

/**
 * Open a sealed blob. Throws KeyError 'TRUNCATED' when the blob is shorter than
 * nonce + tag, and KeyError 'TAMPERED_OR_WRONG_KEY' when authentication fails.
 * No plaintext is returned unless the tag verifies.
 */
export function open(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  assertKey(key, 'sealing key');
  if (sealed.length < SEAL_OVERHEAD) {
    throw new KeyError('TRUNCATED', `sealed section is truncated: ${sealed.length} bytes, need at least ${SEAL_OVERHEAD} (nonce + tag)`);
  }
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const ct = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const body = decipher.update(ct);
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch {
    body.fill(0);
    throw new KeyError('TAMPERED_OR_WRONG_KEY', 'sealed section failed authentication: the key is wrong, or the section or model file was modified');
  }
  // GCM's final() returns nothing: the plaintext is `body`, handed out without a copy.
  if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const out = new Uint8Array(body.length + tail.length);
  out.set(body, 0);
  out.set(tail, body.length);
  body.fill(0);
  return out;
}

/**
 * A sealed blob opened in parts: `take(n)` decrypts the next n bytes of plaintext (fewer when less
 * is left) into memory of their own, so a part that holds an array of 32-bit integers or floats is
 * aligned for a typed-array view, and no part is copied out of a larger plaintext. A reader of a
 * structured plaintext (a section payload: lengths, then arrays) takes it field by field.
 *
 * UNAUTHENTICATED until `finish()` returns: before that, the parts may only steer how much to take
 * next (a length read from them, clamped by `remaining`); nothing may be returned, stored or
 * acted on. `finish()` takes what is left and checks the tag: on failure it wipes every part and
 * throws KeyError 'TAMPERED_OR_WRONG_KEY', as `open` does. `wipe()` zeroes every part taken.
 */
export interface SealedParts {
  /** Plaintext bytes not taken yet. */
  readonly remaining: number;
  take(n: number): Uint8Array;
  /** Checks the tag (after taking what is left, which comes back: empty when the reader took everything). */
  finish(): Uint8Array;
  wipe(): void;
}

/** Opens a sealed blob part by part (see SealedParts); the same checks and errors as `open`. */
export function openInParts(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): SealedParts {
  assertKey(key, 'sealing key');
  if (sealed.length < SEAL_OVERHEAD) {
    throw new KeyError('TRUNCATED', `sealed section is truncated: ${sealed.length} bytes, need at least ${SEAL_OVERHEAD} (nonce + tag)`);
  }
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const end = sealed.length - TAG_BYTES;
  let at = NONCE_BYTES;
  const parts: Uint8Array[] = [];
  const wipe = () => {
    for (const p of parts) p.fill(0);
  };
  const take = (n: number): Uint8Array => {
    const to = Math.min(end, at + Math.max(0, Math.floor(n)));
    const part = decipher.update(sealed.subarray(at, to));
    at = to;
    const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
    parts.push(bytes);
    return bytes;
  };
  return {
    get remaining() {
      return end - at;
    },
    take,
    finish() {
      const rest = take(end - at);
      let tail: Buffer;
      try {
        tail = decipher.final();
      } catch {
        wipe();
        throw new KeyError('TAMPERED_OR_WRONG_KEY', 'sealed section failed authentication: the key is wrong, or the section or model file was modified');
      }
      if (tail.length !== 0) throw new Error('AES-GCM returned bytes at final(): not a stream cipher');
      return rest;
    },
    wipe,
  };
}

export interface SectionAadInput {
  /** Identifier of the model (non-empty). */
  modelId: Uint8Array;
  /** Tier this section belongs to. */
  tier: number;
  /** Digest (e.g. SHA-256) of the protected model's published weights. */
  weightsDigest: Uint8Array;
}

/**
 * Canonical AAD binding a sealed section to its model, tier and weights (format version 1):
 *   "nnlock section aad v1" || 0x00 || tier (u32 BE)
 *   || len(modelId) (u32 BE) || modelId || len(weightsDigest) (u32 BE) || weightsDigest
 * Length prefixes make the encoding injective.
 */
export function sectionAad({ modelId, tier, weightsDigest }: SectionAadInput): Uint8Array {
  return aad('nnlock section aad v1', modelId, tier, weightsDigest, 'weightsDigest');
}

export interface SignedSectionAadInput {
  /** Identifier of the model (non-empty). */
  modelId: Uint8Array;
  /** Tier this section belongs to. */
  tier: number;
  /** Digest of everything the owner signs except the sections (src/protect/format.ts, bodyDigest). */
  bodyDigest: Uint8Array;
}

/**
 * The AAD of a section of format version 2: the same layout under its own label, binding the
 * section to the digest of the whole signed body (header, every metadata entry, and through the
 * header the weights digest and the signer), so no one without the section's key can edit any of
 * them, or swap the signer, without failing authentication:
 *   "nnlock section aad v2" || 0x00 || tier (u32 BE)
 *   || len(modelId) (u32 BE) || modelId || len(bodyDigest) (u32 BE) || bodyDigest
 */
export function signedSectionAad({ modelId, tier, bodyDigest }: SignedSectionAadInput): Uint8Array {
  return aad('nnlock section aad v2', modelId, tier, bodyDigest, 'bodyDigest');
}

function aad(labelText: string, modelId: Uint8Array, tier: number, digest: Uint8Array, what: string): Uint8Array {
  if (!(modelId instanceof Uint8Array) || modelId.length === 0) {
    throw new TypeError('modelId must be a non-empty Uint8Array');
  }
  if (!Number.isInteger(tier) || tier < 0 || tier > 0xffffffff) {
    throw new RangeError(`tier must be a non-negative integer, got ${tier}`);
  }
  if (!(digest instanceof Uint8Array) || digest.length === 0) {
    throw new TypeError(`${what} must be a non-empty Uint8Array`);
  }
  const label = new TextEncoder().encode(labelText);
  const out = new Uint8Array(label.length + 1 + 4 + 4 + modelId.length + 4 + digest.length);
  const dv = new DataView(out.buffer);
  let off = 0;
  out.set(label, off);
  off += label.length;
  out[off++] = 0;
  dv.setUint32(off, tier, false);
  off += 4;
  dv.setUint32(off, modelId.length, false);
  off += 4;
  out.set(modelId, off);
  off += modelId.length;
  dv.setUint32(off, digest.length, false);
  off += 4;
  out.set(digest, off);
  return out;
}
