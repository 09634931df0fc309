// Unlocking: a key of tier t opens the sections of tiers 1..m (m ≤ t, default t) and puts their
// original kernels back, in memory (unlockModel in api.ts adds reading and loading), and
// every check runs before anything is restored or written: the key's fingerprint ("wrong key"),
// the tier, the digest of the published weights ("the protected weights were modified"), then the
// authentication of every section needed.
import type { TensorEntry } from '../io/safetensors.ts';
import { type DecodedKeyToken, KeyError, decodeKeyToken, open, sectionAad, sectionKey, tierKey, verifyKeyCheck } from '../crypto/index.ts';
import { convLayerOf, copyBytes } from './layers.ts';
import { ProtectError, type ProtectHeader, checkHeaderLayers, decodePayload, isProtectMetadataKey, parseHeader, readSection, weightsDigest } from './format.ts';
import { type SafetensorsFile } from '../io/safetensors.ts';

/** Metadata entry of a file unlocked below its top tier: "m/M" (it still holds decoys). */
export const UNLOCKED_TIER_METADATA_KEY = 'nnlock.unlocked-tier';

export interface UnlockOptions {
  /** Tier to restore (default: the key's tier). 0 restores nothing but still checks the key. */
  tier?: number;
}

export interface UnlockResult {
  /** The restored model: tensors and the original metadata (this format's entries removed). */
  file: SafetensorsFile;
  tier: number;
  tiers: number;
  keyTier: number;
  /** Kernels put back. */
  restored: number;
  header: ProtectHeader;
}

function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** The public facts of a protected file (no key needed). */
export function inspectProtected(file: SafetensorsFile): ProtectHeader {
  const header = parseHeader(file.metadata);
  checkHeaderLayers(header, file.tensors);
  return header;
}

/** Restores tiers 1..m of a protected file in memory. The input is not modified (unlockModel is the API). */
export function unlock(file: SafetensorsFile, key: string | DecodedKeyToken, options: UnlockOptions = {}): UnlockResult {
  const header = inspectProtected(file);
  const M = header.tiers;
  const modelId = hex(header.modelId);
  const token = typeof key === 'string' ? decodeKeyToken(key) : { tier: key.tier, key: new Uint8Array(key.key) };
  try {
    const t = token.tier;
    if (t < 1 || t > M) {
      throw new KeyError('WRONG_KEY', `wrong key: it is a tier-${t} key, but this model has tiers 1..${M}`);
    }
    verifyKeyCheck(token.key, modelId, t, header.keyChecks[t - 1]);
    const m = options.tier ?? t;
    if (!Number.isInteger(m) || m < 0 || m > M) throw new ProtectError('BAD_TIER', `tier ${m} does not exist: this model has tiers 0..${M}`);
    if (m > t) throw new KeyError('TIER_TOO_LOW', `a tier-${t} key cannot unlock tier ${m}: keys unlock their own tier and the tiers below`);

    const digest = weightsDigest(file.tensors);
    if (Buffer.from(digest).toString('hex') !== header.weightsDigest) {
      throw new ProtectError('WEIGHTS_MODIFIED', 'the protected weights were modified: their digest differs from the one recorded when the model was protected');
    }

    const kernelBytes = new Map(header.layers.map((l) => [l.name, convLayerOf(l.name, file.tensors.get(l.name)!)]));
    const restored = new Map<string, Uint8Array>();
    const seen = new Map<string, Set<number>>();
    let count = 0;
    for (let tier = 1; tier <= m; tier++) {
      const k = tierKey(token.key, t, tier, modelId);
      const sk = sectionKey(k, modelId, tier);
      let payload: Uint8Array;
      try {
        payload = open(sk, readSection(file.metadata, tier), sectionAad({ modelId, tier, weightsDigest: digest }));
      } catch (e) {
        if (e instanceof KeyError) throw new KeyError(e.code, `the sealed section of tier ${tier} failed authentication: the file was modified`);
        throw e;
      } finally {
        sk.fill(0);
        k.fill(0);
      }
      for (const s of decodePayload(payload, (name) => kernelBytes.get(name)?.kernelBytes, tier)) {
        const layer = kernelBytes.get(s.name)!;
        let data = restored.get(s.name);
        if (!data) {
          data = copyBytes(file.tensors.get(s.name)!.data);
          restored.set(s.name, data);
          seen.set(s.name, new Set());
        }
        const done = seen.get(s.name)!;
        s.indices.forEach((kernel, j) => {
          if (kernel < 0 || kernel >= layer.kernels || done.has(kernel)) {
            throw new ProtectError('MALFORMED', `malformed protected file: tier ${tier} restores kernel ${kernel} of ${s.name} ${done.has(kernel) ? 'twice' : 'out of range'}`);
          }
          done.add(kernel);
          data.set(s.values.subarray(j * layer.kernelBytes, (j + 1) * layer.kernelBytes), kernel * layer.kernelBytes);
        });
        count += s.indices.length;
      }
      payload.fill(0);
    }

    const tensors = new Map<string, TensorEntry>();
    for (const [name, e] of file.tensors) tensors.set(name, restored.has(name) ? { ...e, data: restored.get(name)! } : e);
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(file.metadata)) if (!isProtectMetadataKey(k)) metadata[k] = v;
    if (m < M) metadata[UNLOCKED_TIER_METADATA_KEY] = `${m}/${M}`;
    return { file: { tensors, metadata }, tier: m, tiers: M, keyTier: t, restored: count, header };
  } finally {
    token.key.fill(0);
  }
}
