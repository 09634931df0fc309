// Sealing and signing a protected file (format version 3, or 2 on request; format.ts): the header
// is written with the owner's public key, every tier's payload is sealed under its tier's key with
// the signed body's digest as associated data, and the owner signs the body and the sections. The
// signing key derives from the master key (src/crypto/signing.ts says why), so no new secret is made.
import type { TensorEntry } from '../io/safetensors.ts';
import {
  encodePayload,
  bodyDigest,
  FORMAT_NAME,
  FORMAT_VERSION,
  METADATA_SECTIONS_FORMAT_VERSION,
  PROTECT_METADATA_KEY,
  type ProtectHeader,
  type ProtectedLayerInfo,
  type SectionLayer,
  SIGNATURE_METADATA_KEY,
  sectionDigest,
  serializeHeader,
  serializeSignature,
  signatureMessage,
  writeSection,
} from './format.ts';
import { formatSigner, keyCheck, ownerSigningKey, seal, sectionKey, signMessage, signedSectionAad, tierKey } from '../crypto/index.ts';

export interface SealInput {
  /** The metadata the protected file keeps from the original (this format's entries removed). */
  metadata: Record<string, string>;
  masterKey: Uint8Array;
  modelId: Uint8Array;
  /** The sections' payloads, tiers 1..M (index m − 1). */
  sections: readonly (readonly SectionLayer[])[];
  layers: ProtectedLayerInfo[];
  architecture?: string;
  /** weightsDigest of the published (decoyed) tensors. */
  weightsDigest: Uint8Array;
  /**
   * The format to write: 3 (default: the sections as tensors) or 2 (the sections as base64
   * metadata, as nnlock 0.3 wrote; for tests of the readers of older files).
   */
  version?: typeof FORMAT_VERSION | typeof METADATA_SECTIONS_FORMAT_VERSION;
}

/** What sealAndSign makes: the file's metadata and, in version 3, the section tensors to add to the published tensors. */
export interface Sealed {
  /** The original's entries, the header and the signature (version 2: and the sections). */
  metadata: Record<string, string>;
  /** Version 3: the `__nnlock__/tier-<m>` U8 tensors (empty in version 2). */
  sections: Map<string, TensorEntry>;
  header: ProtectHeader;
}

/** The protected file's metadata (the original's, the header, the signature), its sealed sections and its header. */
export function sealAndSign(o: SealInput): Sealed {
  const version = o.version ?? FORMAT_VERSION;
  const tiers = o.sections.length;
  const keys = Array.from({ length: tiers }, (_, i) => tierKey(o.masterKey, tiers, i + 1, o.modelId));
  const owner = ownerSigningKey(o.masterKey, o.modelId, tiers);
  try {
    const header: ProtectHeader = {
      format: FORMAT_NAME,
      version,
      modelId: Buffer.from(o.modelId).toString('hex'),
      tiers,
      keyChecks: keys.map((k, i) => keyCheck(k, o.modelId, i + 1)),
      layers: o.layers,
      architecture: o.architecture,
      weightsDigest: Buffer.from(o.weightsDigest).toString('hex'),
      cipher: 'AES-256-GCM',
      kdf: 'HKDF-SHA-256',
      signer: formatSigner(owner.publicKey),
    };
    const metadata: Record<string, string> = { ...o.metadata, [PROTECT_METADATA_KEY]: serializeHeader(header) };
    const sections = new Map<string, TensorEntry>();
    const body = bodyDigest(metadata);
    const digests = keys.map((k, i) => {
      const tier = i + 1;
      const sk = sectionKey(k, o.modelId, tier);
      const sealed = seal(sk, encodePayload(o.sections[i]), signedSectionAad({ modelId: o.modelId, tier, bodyDigest: body }));
      sk.fill(0);
      writeSection({ tensors: sections, metadata }, version, tier, sealed);
      return sectionDigest(sealed);
    });
    const signature = signMessage(owner, signatureMessage(body, digests));
    metadata[SIGNATURE_METADATA_KEY] = serializeSignature({
      alg: 'Ed25519',
      sections: digests.map((d) => Buffer.from(d).toString('hex')),
      signature: Buffer.from(signature).toString('base64'),
    });
    return { metadata, sections, header };
  } finally {
    for (const k of keys) k.fill(0);
  }
}
