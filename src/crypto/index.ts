/** Public API of nnlock's crypto layer (tier keys, sealing, keyed randomness). */
export {
  KEY_BYTES,
  MAX_TIER,
  KeyError,
  type KeyErrorCode,
  generateMasterKey,
  deriveLowerKey,
  tierKey,
  sectionKey,
  sectionKeysDown,
  decoyKey,
  keyCheck,
  verifyKeyCheck,
  encodeKeyToken,
  decodeKeyToken,
  type KeyTokenInput,
  type DecodedKeyToken,
} from './tier-keys.ts';
export { seal, open, openInParts, type SealedParts, sectionAad, signedSectionAad, SEAL_OVERHEAD, type SectionAadInput, type SignedSectionAadInput } from './seal.ts';
export {
  SIGNER_BYTES,
  SIGNATURE_BYTES,
  type OwnerSigningKey,
  ownerSigningKey,
  signMessage,
  verifySignature,
  formatSigner,
  parseSigner,
  sameSigner,
} from './signing.ts';
export { KeyedStream } from './keyed-stream.ts';
