// Known-plaintext key recovery on real CIFAR-10 blocks (src/cipher/attacks), for each key kind:
//
//   assessKey(key, { plain })  the first `images` test images as the known plaintext: a block
//                              sweep (first n blocks per channel, n = 15, 16, 17, 20, 32, 64), the
//                              smallest n that recovers every channel's matrix, leakage figures
//   single images              the attack on each of the first `singles` test images alone (64
//                              blocks per channel): how many recover the key, max |K̂ − K|
//   shuffled positions         recoverShuffled on k² + 4 = 20 real test images under a key with
//                              block shuffling: key and permutation recovered?
//
// Stored as <results>/runs/attacks.json (skipped on rerun).
import { join } from 'node:path';
import { type Tensor, noGrad, scope } from '../../src/tensor/index.ts';
import { div } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { narrow } from '../../src/ops/shape.ts';
import { CIPHER_KINDS, type CipherKind, blockPermutation, describeKey, keyId } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { readImagesTensor } from '../../src/cipher/data.ts';
import { type Assessment, REAL_RECOVERY_TOLERANCE, assessKey, knownPlaintextAttack, recoverShuffled } from '../../src/attacks/index.ts';
import { type RunContext, TEST_FILE, experimentKey, log, writeJson, cachedUnit } from './common.ts';

export interface SingleImageFigures {
  images: number;
  /** Images whose 64 blocks per channel alone recovered every channel's matrix. */
  recovered: number;
  /** Images whose blocks were rank-deficient in some channel (flat regions). */
  undetermined: number;
  /** Over the recovering images: worst and median of max |K̂ − K|. */
  worstMaxAbsError: number | null;
  medianMaxAbsError: number | null;
  /** Smallest numerical rank seen (out of 16) over images and channels. */
  minRank: number;
}

export interface ShuffledFigures {
  images: number;
  keyRecovered: boolean;
  maxAbsError: number | null;
  permutationRecovered: boolean;
  unmatchedPositions: number;
  seconds: number;
}

export interface KindAttack {
  kind: CipherKind;
  key: string;
  keyId: string;
  assessment: Assessment;
  single: SingleImageFigures;
  shuffled: ShuffledFigures;
}

export interface AttackResults {
  images: number;
  kinds: KindAttack[];
  tolerance: number;
  seconds: number;
  date: string;
  quick: boolean;
}

export function attacksPath(ctx: RunContext): string {
  return join(ctx.results, 'runs', 'attacks.json');
}

export async function runAttacks(ctx: RunContext): Promise<AttackResults> {
  const cached = cachedUnit<AttackResults>(attacksPath(ctx), 'attacks');
  if (cached) return cached;
  const t0 = performance.now();
  const images = ctx.quick ? 40 : 200;
  const singles = ctx.quick ? 20 : 100;
  const { x } = await readImagesTensor(TEST_FILE, { limit: images });
  const kinds: KindAttack[] = [];
  try {
    for (const kind of CIPHER_KINDS) {
      const key = experimentKey(kind);
      log(`attacks: ${describeKey(key)}: assessment on ${images} real test images`);
      const assessment = noGrad(() => scope(() => assessKey(key, { plain: div(toDtype(x, 'float32'), 255) })));
      log(`attacks: ${kind}: minimum known blocks per channel ${assessment.knownPlaintext.minimumBlocks}; single-image attacks on ${singles} images`);
      const single = singleImages(kind, x, singles);
      const shuffled = shuffledAttack(kind, x);
      log(
        `attacks: ${kind}: ${single.recovered}/${single.images} single images recover the key; shuffled: key ${shuffled.keyRecovered ? 'recovered' : 'NOT recovered'}, permutation ${shuffled.permutationRecovered ? 'recovered' : `not recovered (${shuffled.unmatchedPositions} unmatched)`}`,
      );
      kinds.push({ kind, key: describeKey(key), keyId: keyId(key), assessment, single, shuffled });
    }
  } finally {
    x.dispose();
  }
  const result: AttackResults = { images, kinds, tolerance: REAL_RECOVERY_TOLERANCE, seconds: (performance.now() - t0) / 1000, date: new Date().toISOString(), quick: ctx.quick };
  await writeJson(attacksPath(ctx), result);
  return result;
}

/** The known plaintext in the cipher's domain: bytes for hill256, pixels in [0, 1] otherwise. */
function knownPlaintext(kind: CipherKind, bytes: Tensor): Tensor {
  return kind === 'hill256' ? bytes : div(toDtype(bytes, 'float32'), 255);
}

function singleImages(kind: CipherKind, bytes: Tensor, count: number): SingleImageFigures {
  const key = experimentKey(kind);
  const cipher = new BlockCipher(key);
  const errors: number[] = [];
  let undetermined = 0;
  let minRank = key.k * key.k;
  const n = Math.min(count, bytes.shape[0]);
  try {
    for (let i = 0; i < n; i++) {
      noGrad(() =>
        scope(() => {
          const plain = knownPlaintext(kind, narrow(bytes, 0, i, 1));
          const r = knownPlaintextAttack(plain, cipher.encrypt(plain), kind, key.k, { trueKey: key });
          if (!r.determined) undetermined++;
          for (const ch of r.channels) minRank = Math.min(minRank, ch.rank);
          if (r.recovered) errors.push(Math.max(...r.channels.map((ch) => ch.maxAbsError ?? Infinity)));
        }),
      );
    }
  } finally {
    cipher.dispose();
  }
  const sorted = [...errors].sort((a, b) => a - b);
  return {
    images: n,
    recovered: errors.length,
    undetermined,
    worstMaxAbsError: sorted.length ? sorted[sorted.length - 1] : null,
    medianMaxAbsError: sorted.length ? sorted[Math.floor(sorted.length / 2)] : null,
    minRank,
  };
}

function shuffledAttack(kind: CipherKind, bytes: Tensor): ShuffledFigures {
  const key = experimentKey(kind, { shuffle: true });
  const m = key.k * key.k + 4;
  const cipher = new BlockCipher(key);
  try {
    return noGrad(() =>
      scope(() => {
        const plain = knownPlaintext(kind, narrow(bytes, 0, 0, m));
        const t0 = performance.now();
        const r = recoverShuffled(plain, cipher.encrypt(plain), kind, key.k);
        const seconds = (performance.now() - t0) / 1000;
        let err: number | null = null;
        if (r.key) {
          err = 0;
          r.key.matrices.forEach((mm, c) =>
            mm.forEach((v, i) => {
              err = Math.max(err!, Math.abs(v - key.matrices[c][i]));
            }),
          );
        }
        const truth = blockPermutation(key, 32 / key.k, 32 / key.k);
        return {
          images: m,
          keyRecovered: err !== null && (kind === 'hill256' ? err === 0 : err <= REAL_RECOVERY_TOLERANCE),
          maxAbsError: err,
          permutationRecovered: r.permutation !== null && truth !== null && r.permutation.every((v, i) => v === truth[i]),
          unmatchedPositions: r.unmatched,
          seconds,
        };
      }),
    );
  } finally {
    cipher.dispose();
  }
}
