// A protected file verified once, with every check, and then unlocked as keys arrive: what a
// long-lived process does (nnlock serve, a user's app that opens the published model at start).
//
// verifyForUnlock runs every check a key does not need (the header, the owner's signature, the
// pinned signer, the digest of every published weight) and returns a VerifiedProtected: only this
// function makes one, so a handle is proof that its file passed them all, and unlocking from it
// cannot skip the weights digest on a file nobody checked (the mistake `verifyWeights: false` on
// an unverified file would be). verifyForUnlock also copies the sealed sections out of the file and
// checks each against the owner's signed digest, once. Each unlock from the handle then touches
// only what it restores: the key's fingerprint, the HKDF chain and section keys, each needed
// section's AEAD tag (checked at every open), the kernels put back. The header, the signature, the
// layer list and the sections' digests are not parsed or checked again.
//
// The contract (what the caller must hold to): the handle keeps the file's tensor buffers, not
// copies of them (copying 80 MB would cost what the digest saves). The weights digest covers the
// bytes as they were when verified; weight bytes the caller changes afterwards are not noticed.
// The sealed sections (about a tenth of the file) are the handle's own checked copies, so changing
// the file's sections afterwards changes nothing an unlock reads. The header, the
// metadata and the list of tensors are snapshotted at verification, so editing the file object
// afterwards changes nothing that an unlock reads or returns. An in-place unlock writes the
// original kernels into those buffers, so the file is no longer the published one: the handle is
// spent, and every later unlock from it is refused (a lower tier would return the higher tier's
// kernels).
import type { SafetensorsFile, TensorEntry } from '../io/safetensors.ts';
import type { DecodedKeyToken } from '../crypto/index.ts';
import { type ProtectHeader, readSection } from './format.ts';
import { type UnlockContext, type UnlockResult, type Verification, applyUnlock, checkPins, checkSectionDigest, checkWeights, gatherKernels, openSections, pinOf, unlockContext } from './unlock.ts';

export interface VerifiedUnlockOptions {
  /** Tier to restore (default: the key's tier). 0 restores nothing but still checks the key. */
  tier?: number;
  /** Pin the owner's signer for this unlock too (`ed25519:<64 hex>`; the token's own pin is always checked). */
  expectedSigner?: string;
  /**
   * Restore into the file's own buffers instead of copies of the protected layers: no copy, but
   * the file then holds original kernels and the handle is spent (see the top of verified.ts).
   */
  inPlace?: boolean;
}

/** The kernels a tier puts back into one protected layer (VerifiedProtected.restoredKernels). */
export interface RestoredKernels {
  name: string;
  /** Flat kernel indices (a·B + b of weight [A, B, kh, kw]), tier 1's first, then tier 2's, ... */
  kernels: Int32Array;
  /** Their original values, kernels.length × kernelBytes, in the order of `kernels`. */
  restored: Uint8Array;
  /** Their published values (the decoys), in the same order. */
  published: Uint8Array;
  kernelBytes: number;
}

/** Only verifyForUnlock constructs a VerifiedProtected. */
const CONSTRUCT = Symbol('VerifiedProtected');

/** A protected file that passed every check, including the digest of all its weights; unlock it with `unlock`. */
export class VerifiedProtected implements Verification {
  readonly version: number;
  readonly signed: boolean;
  readonly signer?: string;
  readonly signerPinned: boolean;
  /** Always true: a handle is made only for a file whose weights digest was recomputed and matched. */
  readonly weightsVerified = true;
  readonly header: ProtectHeader;
  readonly #file: SafetensorsFile;
  readonly #context: UnlockContext;
  #spent = false;

  /** @internal Use verifyForUnlock. */
  constructor(construct: typeof CONSTRUCT, file: SafetensorsFile, context: UnlockContext, v: Verification) {
    if (construct !== CONSTRUCT) throw new TypeError('a VerifiedProtected comes from verifyForUnlock only');
    this.#file = file;
    this.#context = context;
    this.header = context.header;
    this.version = v.version;
    this.signed = v.signed;
    if (v.signer !== undefined) this.signer = v.signer;
    this.signerPinned = v.signerPinned;
  }

  /** Whether an in-place unlock has used the file's buffers: no unlock from this handle is possible any more. */
  get spent(): boolean {
    return this.#spent;
  }

  /**
   * Restores tiers 1..m (m: options.tier, default the key's tier) from the verified file. Checks
   * the key's fingerprint and tier, the pinned signers, and the AEAD tag of every section it opens
   * before anything is put back; the weights and the sections' signed digests were checked when the
   * handle was made.
   * Without inPlace the protected layers are copied and the file is left as published.
   */
  unlock(key: string | DecodedKeyToken, options: VerifiedUnlockOptions = {}): UnlockResult {
    if (this.#spent) throw new Error('this verified file was unlocked in place: its buffers hold original kernels now, so it cannot be unlocked again (verify the published file again)');
    const opened = openSections(this.#context, key, options, 'done');
    if (options.inPlace) this.#spent = true;
    return applyUnlock(this.#file, opened, { inPlace: options.inPlace });
  }

  /**
   * The kernels tiers 1..m put back, per protected layer (every layer of the header, in its order;
   * none for a layer the tier leaves as published), with their original and published values,
   * without building the model: what a server that holds the published tensors needs to serve a
   * tier. The same checks as unlock. The arrays are the caller's: `restored` holds original
   * kernels, to wipe when no longer needed.
   */
  restoredKernels(key: string | DecodedKeyToken, options: Omit<VerifiedUnlockOptions, 'inPlace'> = {}): RestoredKernels[] {
    if (this.#spent) throw new Error('this verified file was unlocked in place: its buffers hold original kernels now (verify the published file again)');
    const opened = openSections(this.#context, key, options, 'done');
    try {
      return this.header.layers.map(({ name }) => {
        const parts = opened.restorations.filter((r) => r.layer.name === name);
        const { kernelBytes } = this.#context.layers.get(name)!;
        const count = parts.reduce((n, r) => n + r.indices.length, 0);
        const kernels = new Int32Array(count);
        const restored = new Uint8Array(count * kernelBytes);
        const published = new Uint8Array(count * kernelBytes);
        const data = this.#file.tensors.get(name)!.data;
        let at = 0;
        for (const r of parts) {
          kernels.set(r.indices, at);
          restored.set(r.values, at * kernelBytes);
          gatherKernels(data, r.indices, published, at, kernelBytes);
          at += r.indices.length;
        }
        return { name, kernels, restored, published, kernelBytes };
      });
    } finally {
      opened.wipeSections();
    }
  }
}

/**
 * Verifies a protected file with every check (those of verifyProtected, the weights digest always:
 * the header, the owner's signature, `expectedSigner` when given, the digest of all published weights) and
 * returns a handle that unlocks it without checking any of that again. `hashed`: the weights digest
 * read.ts computed while reading these very bytes (it replaces recomputing it, never the comparison).
 * Throws what verifyProtected throws. Read the contract at the top of this file.
 */
export function verifyForUnlock(file: SafetensorsFile, options: { expectedSigner?: string } = {}, hashed?: Uint8Array): VerifiedProtected {
  // The snapshot, verified and then unlocked: the metadata and the tensor entries (the buffers are shared).
  const tensors = new Map<string, TensorEntry>();
  for (const [name, e] of file.tensors) tensors.set(name, Object.freeze({ ...e, shape: [...e.shape] }));
  const snapshot: SafetensorsFile = { tensors, metadata: { ...file.metadata } };
  // verifyProtected's checks, in its order: the header and the signature (the context), the pin, every weight.
  const context = unlockContext(snapshot);
  const { header } = context;
  const signerPinned = checkPins(header, pinOf(options.expectedSigner));
  checkWeights(snapshot, header, hashed);
  // The sealed sections, copied out of the file's buffers (versions 1 and 2 keep them as base64:
  // decoded) and, when signed, checked against the owner's digests here, once: nobody can change
  // the copies afterwards, so an unlock need not hash them again (a ResNet-20 unlock spent 15 % of
  // its time on it). Each open still checks the section's AEAD tag.
  const { signed } = context;
  const sealed = Array.from({ length: header.tiers }, (_, i) => {
    const tier = i + 1;
    const bytes = readSection(snapshot, header.version, tier).slice();
    if (signed) checkSectionDigest(signed, tier, bytes);
    return bytes;
  });
  const aads = Array.from({ length: header.tiers }, (_, i) => context.aad(i + 1));
  const verification: Verification = { version: header.version, signed: signed !== undefined, signer: header.signer, signerPinned, weightsVerified: true };
  return new VerifiedProtected(CONSTRUCT, snapshot, { ...context, sealed: (tier) => sealed[tier - 1], aad: (tier) => aads[tier - 1], sectionsChecked: signed !== undefined }, verification);
}
