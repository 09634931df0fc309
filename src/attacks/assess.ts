// A security assessment of one key: the matrices' numerical facts, a measured known-plaintext
// attack (how many known blocks recover the key, how exactly, how many images that is, and whether
// block shuffling stops it), and what the ciphertext leaks. Written as JSON and as Markdown.
import { type Tensor, manualSeed, noGrad, scope } from '../tensor/index.ts';
import { rand, randint } from '../ops/creation.ts';
import { toDtype } from '../ops/convert.ts';
import { clamp, mul, round } from '../ops/arithmetic.ts';
import { narrow } from '../ops/shape.ts';
import { type CipherKey, blockPermutation, keyId } from '../cipher/key.ts';
import { BlockCipher, channelBlocks } from '../cipher/hill.ts';
import { assertKeyChannels, readAttackPixels } from './image-input.ts';
import { inverseMod256Matrix, logAbsDet, orthogonalityError, singularValues } from '../linalg/matrix.ts';
import { type BlockSweepPoint, REAL_RECOVERY_TOLERANCE, blockSweep, minimumBlocks, recoverShuffled } from './known-plaintext.ts';

export interface MatrixFacts {
  channel: number;
  condition: number;
  minSingularValue: number;
  maxSingularValue: number;
  /** log|det K| over the reals. */
  logAbsDet: number;
  /** det K mod 256 (hill256 only; odd = invertible). */
  detMod256?: number;
  /** max |KᵀK − I| (orthogonal keys). */
  orthogonalityError?: number;
}

export interface Assessment {
  format: 'nnlock-cipher-assessment';
  version: 1;
  date: string;
  key: { kind: string; k: number; blockDimension: number; channels: number; shuffle: boolean; keyId: string; maxCondition: number };
  matrices: MatrixFacts[];
  knownPlaintext: {
    data: string;
    imageSize: [number, number];
    blocksPerImage: number;
    /** Fewest known blocks per channel that recovered every channel's matrix (null: not within the data). */
    minimumBlocks: number | null;
    /** Known images that many blocks take (aligned positions, i.e. no shuffle). */
    imagesNeeded: number | null;
    sweep: BlockSweepPoint[];
    seconds: number;
    /** With shuffled positions: the attack that matches positions as well. */
    shuffled?: { images: number; keyRecovered: boolean; maxAbsError: number | null; permutationRecovered: boolean; unmatchedPositions: number; seconds: number };
  };
  leakage?: {
    data: string;
    /** Fraction of blocks equal to some other block of the same channel, plaintext vs ciphertext. */
    repeatedBlocksPlain: number;
    repeatedBlocksCipher: number;
    /** Correlation of horizontally adjacent pixels, plaintext vs ciphertext. */
    adjacentCorrelationPlain: number;
    adjacentCorrelationCipher: number;
  };
  findings: string[];
  verdict: string;
}

function matrixFacts(key: CipherKey): MatrixFacts[] {
  const n = key.k * key.k;
  return key.matrices.map((m, channel) => {
    const s = singularValues(m, n);
    const f: MatrixFacts = {
      channel,
      condition: s[n - 1] === 0 ? Infinity : s[0] / s[n - 1],
      minSingularValue: s[n - 1],
      maxSingularValue: s[0],
      logAbsDet: logAbsDet(m, n).logAbs,
    };
    if (key.kind === 'hill256') f.detMod256 = inverseMod256Matrix(m, n).det;
    if (key.kind === 'orthogonal') f.orthogonalityError = orthogonalityError(m, n);
    return f;
  });
}

function fractionRepeated(x: Tensor, k: number): number {
  // Blocks as strings per channel; counts blocks whose exact value appears more than once.
  let repeated = 0;
  let total = 0;
  for (let c = 0; c < x.shape[1]; c++) {
    const rows = scope(() => channelBlocks(x, k, c).toArray());
    const n2 = k * k;
    const counts = new Map<string, number>();
    const keys: string[] = [];
    for (let i = 0; i < rows.length; i += n2) {
      const s = rows.slice(i, i + n2).join(',');
      keys.push(s);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    for (const s of keys) if (counts.get(s)! > 1) repeated++;
    total += keys.length;
  }
  return total ? repeated / total : 0;
}

function adjacentCorrelation(x: Tensor): number {
  const [n, c, h, w] = x.shape;
  const v = scope(() => toDtype(x, 'float64').toArray());
  let sa = 0,
    sb = 0,
    saa = 0,
    sbb = 0,
    sab = 0,
    m = 0;
  for (let i = 0; i < n * c; i++) {
    for (let r = 0; r < h; r++) {
      for (let col = 0; col + 1 < w; col++) {
        const a = v[(i * h + r) * w + col];
        const b = v[(i * h + r) * w + col + 1];
        sa += a;
        sb += b;
        saa += a * a;
        sbb += b * b;
        sab += a * b;
        m++;
      }
    }
  }
  const cov = sab / m - (sa / m) * (sb / m);
  const va = saa / m - (sa / m) ** 2;
  const vb = sbb / m - (sb / m) ** 2;
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

export interface AssessOptions {
  /** Known plaintext images [N, C, H, W] (pixels in [0, 1]) to attack with; default synthetic random ones. */
  plain?: Tensor;
  /** Seed of the synthetic data. */
  seed?: number;
  /** Run the shuffled-position attack when the key shuffles (default true). */
  shuffledAttack?: boolean;
}

/** Assesses a key (see the file comment). Synthetic data unless known plaintext is given. */
export function assessKey(key: CipherKey, o: AssessOptions = {}): Assessment {
  const { k } = key;
  const n2 = k * k;
  const hill = key.kind === 'hill256';
  const cipher = new BlockCipher(key);
  try {
    return noGrad(() =>
      scope(() => {
        manualSeed(o.seed ?? 0);
        // Known plaintext in the cipher's own domain: bytes for hill256, pixels in [0, 1] otherwise.
        // Default: enough random blocks for 4k² per channel, in images of 8k×8k (64 blocks each).
        const side = 8 * k;
        let known: Tensor;
        let data: string;
        if (o.plain) {
          known = hill ? toBytes(o.plain) : o.plain;
          data = `given images (${o.plain.shape[0]} of ${o.plain.shape[2]}×${o.plain.shape[3]})`;
        } else {
          const count = Math.ceil((4 * n2) / 64);
          known = hill ? toDtype(randint(0, 256, [count, key.channels, side, side]), 'uint8') : rand([count, key.channels, side, side]);
          data = `synthetic: ${count} random image(s) of ${side}×${side}${hill ? ' (uniform bytes)' : ' (uniform pixels in [0, 1])'}`;
        }
        const [, , h, w] = known.shape;
        // The aligned attack: the key without its shuffle, i.e. block pairs at known positions.
        const unshuffled: CipherKey = { ...key, shuffle: false, shuffleKey: null };
        const aligned = new BlockCipher(unshuffled);
        const t0 = performance.now();
        let sweep: BlockSweepPoint[];
        let minimum: number | null;
        try {
          const y = aligned.encrypt(known);
          sweep = blockSweep(known, y, unshuffled);
          minimum = minimumBlocks(known, y, unshuffled);
        } finally {
          aligned.dispose();
        }
        const seconds = (performance.now() - t0) / 1000;
        const blocksPerImage = (h / k) * (w / k);
        const report: Assessment = {
          format: 'nnlock-cipher-assessment',
          version: 1,
          date: new Date().toISOString(),
          key: { kind: key.kind, k, blockDimension: n2, channels: key.channels, shuffle: key.shuffle, keyId: keyId(key), maxCondition: key.maxCondition },
          matrices: matrixFacts(key),
          knownPlaintext: {
            data,
            imageSize: [h, w],
            blocksPerImage,
            minimumBlocks: minimum,
            imagesNeeded: minimum === null ? null : Math.ceil(minimum / blocksPerImage),
            sweep,
            seconds,
          },
          findings: [],
          verdict: '',
        };
        if (key.shuffle && (o.shuffledAttack ?? true)) {
          const m = n2 + 4;
          const s0 = performance.now();
          const sp = hill ? toDtype(randint(0, 256, [m, key.channels, side, side]), 'uint8') : rand([m, key.channels, side, side]);
          const r = recoverShuffled(sp, cipher.encrypt(sp), key.kind, k);
          let err: number | null = null;
          if (r.key) {
            let worst = 0;
            r.key.matrices.forEach((mm, c) =>
              mm.forEach((v, i) => {
                worst = Math.max(worst, Math.abs(v - key.matrices[c][i]));
              }),
            );
            err = worst;
          }
          const truth = blockPermutation(key, side / k, side / k);
          report.knownPlaintext.shuffled = {
            images: m,
            keyRecovered: err !== null && (hill ? err === 0 : err <= REAL_RECOVERY_TOLERANCE),
            maxAbsError: err,
            permutationRecovered: r.permutation !== null && truth !== null && r.permutation.every((v, i) => v === truth[i]),
            unmatchedPositions: r.unmatched,
            seconds: (performance.now() - s0) / 1000,
          };
        }
        if (o.plain) {
          const count = Math.min(known.shape[0], 500);
          const sample = narrow(known, 0, 0, count);
          const ysample = cipher.encrypt(sample);
          report.leakage = {
            data: `${data}, first ${count}`,
            repeatedBlocksPlain: fractionRepeated(sample, k),
            repeatedBlocksCipher: fractionRepeated(ysample, k),
            adjacentCorrelationPlain: adjacentCorrelation(sample),
            adjacentCorrelationCipher: adjacentCorrelation(ysample),
          };
        }
        findings(report);
        return report;
      }),
    );
  } finally {
    cipher.dispose();
  }
}

/** Pixels in [0, 1] to bytes: round(255·x), clamped. */
function toBytes(x01: Tensor): Tensor {
  return scope(() => toDtype(round(mul(clamp(x01, 0, 1), 255)), 'uint8'));
}

function findings(r: Assessment): void {
  const kp = r.knownPlaintext;
  const f = r.findings;
  const n2 = r.key.blockDimension;
  f.push(`The cipher is linear per block (y = x·K${r.key.kind === 'hill256' ? ' mod 256' : ''}): ${n2} unknowns per column of K, so known plaintext breaks it by solving a linear system.`);
  if (kp.minimumBlocks !== null) {
    f.push(
      `Measured: ${kp.minimumBlocks} known blocks per channel recovered every channel's key matrix exactly (${kp.data}); that is ${kp.imagesNeeded} known image(s) of ${kp.imageSize[0]}×${kp.imageSize[1]} (${kp.blocksPerImage} blocks each).`,
    );
  } else {
    f.push(`The given known plaintext (${kp.data}) did not determine the key: its blocks span fewer than ${n2} dimensions (e.g. flat or highly correlated images). More varied images would.`);
  }
  if (kp.shuffled) {
    const s = kp.shuffled;
    f.push(
      s.keyRecovered
        ? `Block shuffling does not stop the attack: from ${s.images} known images (more than k² = ${n2}) the key was recovered (max error ${s.maxAbsError?.toExponential(2)}) and ${s.permutationRecovered ? 'the whole block permutation too' : `all but ${s.unmatchedPositions} block positions`} in ${s.seconds.toFixed(2)} s.`
        : `The shuffled-position attack with ${s.images} images did not recover the key in this run.`,
    );
  } else if (!r.key.shuffle) {
    f.push('Block positions are not shuffled: each ciphertext block sits where its plaintext block was, so the image layout (edges between blocks, flat regions) stays visible.');
  }
  if (r.leakage) {
    const l = r.leakage;
    f.push(
      `Deterministic: equal plaintext blocks give equal ciphertext blocks (${(100 * l.repeatedBlocksPlain).toFixed(1)} % of plaintext blocks repeat; ${(100 * l.repeatedBlocksCipher).toFixed(1)} % of ciphertext blocks).`,
    );
    f.push(`Adjacent-pixel correlation: plaintext ${l.adjacentCorrelationPlain.toFixed(3)}, ciphertext ${l.adjacentCorrelationCipher.toFixed(3)}.`);
  } else {
    f.push('Deterministic: the same key maps equal plaintext blocks to equal ciphertext blocks, in every image (no nonce).');
  }
  if (r.key.kind !== 'hill256') {
    const worst = Math.max(...r.matrices.map((m) => m.condition));
    f.push(`Real-valued ciphertext: the worst condition number is ${worst.toPrecision(4)} (limit ${r.key.maxCondition}); decryption is numerically stable.`);
  }
  if (r.key.kind === 'orthogonal') f.push("Orthogonal keys preserve each block's Euclidean norm (block energy, hence contrast and flat regions, leaks), and a known block pair constrains K further.");
  r.verdict =
    'Not a secure cipher against an attacker with known plaintext: it obscures images from casual viewing and keeps them usable by a trained network, but ' +
    `${kp.imagesNeeded ?? 'a few'} known image(s) per key${r.key.shuffle ? ` (${kp.shuffled?.images ?? n2 + 4} with shuffled blocks)` : ''} reveal the key. Rotate keys per dataset and keep plaintext–ciphertext pairs secret.`;
}

/** The assessment as Markdown. */
export function assessmentMarkdown(r: Assessment): string {
  const kp = r.knownPlaintext;
  const lines = [
    `# Security assessment of cipher key ${r.key.keyId}`,
    '',
    `- kind: ${r.key.kind}, block ${r.key.k}×${r.key.k} (${r.key.blockDimension}-dimensional blocks), ${r.key.channels} channels, shuffle ${r.key.shuffle ? 'on' : 'off'}`,
    `- date: ${r.date}`,
    '',
    '## Verdict',
    '',
    r.verdict,
    '',
    '## Findings',
    '',
    ...r.findings.map((f) => `- ${f}`),
    '',
    '## Key matrices',
    '',
    '| channel | condition number | σmin | σmax | log\\|det\\| | det mod 256 | ‖KᵀK − I‖max |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.matrices.map(
      (m) =>
        `| ${m.channel} | ${m.condition.toPrecision(5)} | ${m.minSingularValue.toPrecision(4)} | ${m.maxSingularValue.toPrecision(4)} | ${m.logAbsDet.toFixed(2)} | ${m.detMod256 ?? ''} | ${m.orthogonalityError?.toExponential(1) ?? ''} |`,
    ),
    '',
    '## Known-plaintext attack',
    '',
    `Data: ${kp.data}. Blocks per image: ${kp.blocksPerImage}. Minimum known blocks per channel: ${kp.minimumBlocks ?? 'not reached'}; images needed: ${kp.imagesNeeded ?? '-'}; time ${kp.seconds.toFixed(2)} s.`,
    '',
    '| known blocks per channel | determined | recovered | max \\|K̂ − K\\| |',
    '|---:|---|---|---:|',
    ...kp.sweep.map((p) => `| ${p.blocks} | ${p.determined ? 'yes' : 'no'} | ${p.recovered ? 'yes' : 'no'} | ${p.maxAbsError === null ? '-' : p.maxAbsError.toExponential(2)} |`),
  ];
  if (kp.shuffled) {
    const s = kp.shuffled;
    lines.push(
      '',
      `Shuffled positions: ${s.images} known images, key recovered: ${s.keyRecovered ? 'yes' : 'no'} (max error ${s.maxAbsError === null ? '-' : s.maxAbsError.toExponential(2)}), permutation recovered: ${s.permutationRecovered ? 'yes' : `no (${s.unmatchedPositions} unmatched)`}, ${s.seconds.toFixed(2)} s.`,
    );
  }
  if (r.leakage) {
    const l = r.leakage;
    lines.push(
      '',
      '## Leakage',
      '',
      `Data: ${l.data}.`,
      '',
      '| measure | plaintext | ciphertext |',
      '|---|---:|---:|',
      `| blocks that repeat | ${(100 * l.repeatedBlocksPlain).toFixed(2)} % | ${(100 * l.repeatedBlocksCipher).toFixed(2)} % |`,
      `| adjacent-pixel correlation | ${l.adjacentCorrelationPlain.toFixed(4)} | ${l.adjacentCorrelationCipher.toFixed(4)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Assesses a key with known plaintext from a file (CIFAR-10 .bin or an image; its first `limit`
 * images, default 200), or with synthetic images when no file is given. See assessKey.
 */
export async function assessKeyWithFile(key: CipherKey, o: Omit<AssessOptions, 'plain'> & { plain?: string; limit?: number } = {}): Promise<Assessment> {
  const plain = o.plain ? await readAttackPixels(o.plain, { limit: o.limit ?? 200, channels: key.channels }) : undefined;
  try {
    if (plain && o.plain) assertKeyChannels(plain, key.channels, o.plain);
    return assessKey(key, { ...o, plain });
  } finally {
    plain?.dispose();
  }
}
