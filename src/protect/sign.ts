// Sealing and signing a protected file (format version 2, format.ts): the header is written with
// the owner's public key, every tier's payload is sealed under its tier's key with the signed
// body's digest as associated data, and the owner signs the body and the sections. The signing key
// derives from the master key (src/crypto/signing.ts says why), so no new secret is made.
import {
  encodePayload,
  encodeSection,
  bodyDigest,
  FORMAT_NAME,
  FORMAT_VERSION,
  PROTECT_METADATA_KEY,
  type ProtectHeader,
  type ProtectedLayerInfo,
  type SectionLayer,
  SIGNATURE_METADATA_KEY,
  sectionDigest,
  serializeHeader,
  serializeSignature,
  signatureMessage,
  tierMetadataKey,
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
}

/** The protected file's metadata (the original's, the header, the sealed sections, the signature) and its header. */
export function sealAndSign(o: SealInput): { metadata: Record<string, string>; header: ProtectHeader } {
  const tiers = o.sections.length;
  const keys = Array.from({ length: tiers }, (_, i) => tierKey(o.masterKey, tiers, i + 1, o.modelId));
  const owner = ownerSigningKey(o.masterKey, o.modelId, tiers);
  try {
    const header: ProtectHeader = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
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
    const body = bodyDigest(metadata);
    const digests = keys.map((k, i) => {
      const tier = i + 1;
      const sk = sectionKey(k, o.modelId, tier);
      const sealed = seal(sk, encodePayload(o.sections[i]), signedSectionAad({ modelId: o.modelId, tier, bodyDigest: body }));
      sk.fill(0);
      metadata[tierMetadataKey(tier)] = encodeSection(sealed);
      return sectionDigest(sealed);
    });
    const signature = signMessage(owner, signatureMessage(body, digests));
    metadata[SIGNATURE_METADATA_KEY] = serializeSignature({
      alg: 'Ed25519',
      sections: digests.map((d) => Buffer.from(d).toString('hex')),
      signature: Buffer.from(signature).toString('base64'),
    });
    return { metadata, header };
  } finally {
    for (const k of keys) k.fill(0);
  }
}
