// The known-plaintext attack on files: plaintext images and their ciphertext as `nnlock cipher
// encrypt` wrote them, the key unknown. What `nnlock attack known-plaintext` runs.
import { noGrad, scope } from '../tensor/index.ts';
import { div } from '../ops/arithmetic.ts';
import { toDtype } from '../ops/convert.ts';
import { type CipherKey, type CipherKind, CipherKeyError, keyId } from '../cipher/key.ts';
import { saveKey } from '../cipher/key-file.ts';
import { assertKeyChannels, readAttackImages } from './image-input.ts';
import { assertWritable } from '../cipher/files.ts';
import { knownPlaintextAttack } from './known-plaintext.ts';

export interface KnownPlaintextFilesOptions {
  /** Plaintext: a CIFAR-10 .bin file or an image. */
  plain: string;
  /** Its ciphertext (same images, same order). */
  cipher: string;
  kind: CipherKind;
  /** Block size. */
  k: number;
  /** Use the first `limit` images (default 1). */
  limit?: number;
  /** Use only the first `blocks` blocks per channel (default: all of those images). */
  blocks?: number;
  /** Score the result against this key. */
  trueKey?: CipherKey;
  /** Write the recovered key here (matrices form, mode 0600), when every channel was determined. */
  outKey?: string;
  /** Overwrite outKey if it exists. */
  force?: boolean;
}

export interface KnownPlaintextSummary {
  kind: CipherKind;
  k: number;
  blocksPerChannel: number;
  determined: boolean;
  /** Against trueKey, when given. */
  recovered?: boolean;
  recoveredKeyId: string | null;
  /** The recovered key file written, or null (none asked, or not every channel determined). */
  keyFile: string | null;
  channels: { channel: number; rank: number; determined: boolean; relativeResidual: number; maxAbsError?: number; recovered?: boolean }[];
}

/** Reads the two files, recovers the key, scores it and (optionally) writes it. */
export async function knownPlaintextAttackOnFiles(o: KnownPlaintextFilesOptions): Promise<KnownPlaintextSummary> {
  if (o.outKey) assertWritable([o.outKey], o.force);
  const limit = o.limit ?? 1;
  // With the true key, its channel count; without, the files' own (a grayscale PNG is one channel).
  const channels = o.trueKey?.channels;
  const p = await readAttackImages(o.plain, { limit, channels });
  const c = await readAttackImages(o.cipher, { limit, channels }).catch((e) => {
    p.x.dispose();
    throw e;
  });
  try {
    if (o.trueKey) {
      assertKeyChannels(p.x, o.trueKey.channels, o.plain);
      assertKeyChannels(c.x, o.trueKey.channels, o.cipher);
    }
    if (p.x.shape.join() !== c.x.shape.join()) throw new Error(`plaintext [${p.x.shape}] and ciphertext [${c.x.shape}] differ in shape`);
    if (o.kind === 'hill256' && c.x.dtype !== 'uint8') throw new CipherKeyError(`${o.cipher} holds real values, not a hill256 ciphertext`);
    if (o.kind !== 'hill256' && c.x.dtype === 'uint8') throw new CipherKeyError(`${o.cipher} holds bytes: a ${o.kind} ciphertext is real-valued (did you mean --kind hill256?)`);
    const result = noGrad(() =>
      scope(() => {
        // The known plaintext in the cipher's domain: bytes for hill256, pixels in [0, 1] otherwise.
        const plain = o.kind === 'hill256' ? p.x : div(toDtype(p.x, 'float32'), 255);
        return knownPlaintextAttack(plain, c.x, o.kind, o.k, { blocks: o.blocks, trueKey: o.trueKey });
      }),
    );
    const keyFile = o.outKey && result.key ? o.outKey : null;
    // Exclusive: a file that appeared since the check above (another run, the user) is not replaced.
    if (keyFile && result.key) await saveKey(result.key, keyFile, 'matrices', { exclusive: !o.force });
    return {
      kind: o.kind,
      k: o.k,
      blocksPerChannel: result.blocks,
      determined: result.determined,
      recovered: result.recovered,
      recoveredKeyId: result.key ? keyId(result.key) : null,
      keyFile,
      channels: result.channels.map((ch) => ({
        channel: ch.channel,
        rank: ch.rank,
        determined: ch.determined,
        relativeResidual: ch.relativeResidual,
        maxAbsError: ch.maxAbsError,
        recovered: ch.recovered,
      })),
    };
  } finally {
    p.x.dispose();
    c.x.dispose();
  }
}
