// Attacks: known-plaintext key recovery (exact from k² independent blocks per channel, for every
// kind; undetermined below that), the shuffled-position attack, learned-decryption scoring with its
// affine fits, and the key assessment report.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePng } from '../../src/io/image.ts';
import { runCli } from '../helpers/cli.ts';
import { type Tensor, manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { rand, randint } from '../../src/ops/creation.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { cat } from '../../src/ops/shape.ts';
import { type CipherKind, deriveKey, blockPermutation } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { knownPlaintextAttack, minimumBlocks, recoverShuffled } from '../../src/attacks/known-plaintext.ts';
import { learnedDecryption, perChannelAffineFit } from '../../src/attacks/learned.ts';
import { assessKey, assessmentMarkdown } from '../../src/attacks/assess.ts';
import { AdaptationNetwork } from '../../src/er/adaptation.ts';
import { EncryptionRobustModel } from '../../src/er/model.ts';
import { AdaptiveAvgPool2d, Flatten, Linear, Sequential } from '../../src/nn/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const secret = new Uint8Array(32).map((_, i) => (i * 13) % 251);
const KINDS: CipherKind[] = ['uniform', 'orthogonal', 'hill256'];

/**
 * One image [1, C, k, k·k²] whose k² blocks (left to right) are the rows of a matrix per channel:
 * for hill256 a matrix invertible mod 256 (so the blocks are independent over Z/256), else an
 * orthogonal matrix (independent, well-conditioned rows).
 */
function independentBlocks(kind: CipherKind, k: number, channels: number): Tensor {
  const n = k * k;
  const rows =
    kind === 'hill256' ? deriveKey(new Uint8Array(32).fill(99), { kind: 'hill256', k, channels }).matrices : deriveKey(new Uint8Array(32).fill(99), { kind: 'orthogonal', k, channels }).matrices; // independent rows
  const data = new Float32Array(channels * k * k * n);
  // image [c, r, col] with col = p·k + b for block p, pixel (r, b): value rows[c][p][r·k + b]
  for (let c = 0; c < channels; c++)
    for (let p = 0; p < n; p++)
      for (let r = 0; r < k; r++)
        for (let b = 0; b < k; b++) {
          data[(c * k + r) * (k * n) + p * k + b] = rows[c][p * n + r * k + b];
        }
  const t = tensor(data, [1, channels, k, k * n]);
  if (kind !== 'hill256') return t;
  const bytes = toDtype(t, 'uint8');
  t.dispose();
  return bytes;
}

test('known plaintext: exactly k² independent blocks per channel recover the key, for every kind', () => {
  for (const kind of KINDS) {
    for (const k of [2, 4]) {
      const key = deriveKey(secret, { kind, k, channels: 3 });
      const cipher = new BlockCipher(key);
      try {
        scope(() => {
          const x = independentBlocks(kind, k, 3);
          const y = cipher.encrypt(x);
          const r = knownPlaintextAttack(x, y, kind, k, { blocks: k * k, trueKey: key });
          assert.equal(r.blocks, k * k);
          assert.ok(r.determined && r.recovered, `${kind} k=${k}: recovered from k² = ${k * k} blocks`);
          for (const ch of r.channels) {
            assert.equal(ch.rank, k * k);
            if (kind === 'hill256') assert.equal(ch.maxAbsError, 0, 'hill256: exact');
            else assert.ok(ch.maxAbsError! < 1e-4, `${kind}: max |K̂ − K| = ${ch.maxAbsError}`);
          }
          // The recovered key decrypts what the true key encrypted.
          const back = new BlockCipher(r.key!);
          try {
            const dec = back.decrypt(y);
            const diff = noGrad(() => scope(() => Math.max(...dec.toArray().map((v, i) => Math.abs(v - x.toArray()[i])))));
            assert.ok(diff <= (kind === 'hill256' ? 0 : 1e-4), `${kind}: decrypts with the recovered key (${diff})`);
          } finally {
            back.dispose();
          }
          // One block fewer leaves K undetermined.
          const fewer = knownPlaintextAttack(x, y, kind, k, { blocks: k * k - 1, trueKey: key });
          assert.ok(!fewer.determined && !fewer.recovered && fewer.key === null);
          assert.ok(fewer.channels.every((c) => c.rank < k * k));
        });
      } finally {
        cipher.dispose();
      }
    }
  }
});

test('known plaintext: dependent blocks do not determine the key, however many', () => {
  const key = deriveKey(secret, { kind: 'uniform', k: 2, channels: 1 });
  scope(() => {
    // 8 blocks, all multiples of the same two blocks: rank 2 < 4.
    const base = [1, 2, 3, 4, 0, 1, 0, 1];
    const data: number[] = [];
    for (let p = 0; p < 8; p++) {
      const s = p % 2 === 0 ? base.slice(0, 4) : base.slice(4);
      data.push(...s.map((v) => v * (1 + p)));
    }
    // image [1, 1, 2, 16]: block p at columns 2p..2p+1
    const img = new Float32Array(32);
    for (let p = 0; p < 8; p++) for (let r = 0; r < 2; r++) for (let b = 0; b < 2; b++) img[r * 16 + p * 2 + b] = data[p * 4 + r * 2 + b];
    const x = tensor(img, [1, 1, 2, 16]);
    const cipher = new BlockCipher(key);
    try {
      const r = knownPlaintextAttack(x, cipher.encrypt(x), 'uniform', 2, { trueKey: key });
      assert.equal(r.channels[0].rank, 2);
      assert.ok(!r.determined && !r.recovered);
    } finally {
      cipher.dispose();
    }
  });
});

test('random blocks: the minimum is k² for real keys and a little more for hill256', () => {
  manualSeed(7);
  for (const kind of KINDS) {
    const key = deriveKey(secret, { kind, k: 4, channels: 1 });
    const cipher = new BlockCipher(key);
    try {
      scope(() => {
        const x = kind === 'hill256' ? toDtype(randint(0, 256, [2, 1, 32, 32]), 'uint8') : rand([2, 1, 32, 32]);
        const m = minimumBlocks(x, cipher.encrypt(x), key)!;
        if (kind === 'hill256') assert.ok(m >= 16 && m <= 40, `hill256: ${m}`);
        else assert.equal(m, 16);
      });
    } finally {
      cipher.dispose();
    }
  }
});

test('shuffled block positions: k² + 4 known images recover the key and the permutation', () => {
  manualSeed(8);
  for (const kind of KINDS) {
    const k = 2;
    const key = deriveKey(secret, { kind, k, channels: 2, shuffle: true });
    const cipher = new BlockCipher(key);
    try {
      scope(() => {
        const m = k * k + 4;
        const x = kind === 'hill256' ? toDtype(randint(0, 256, [m, 2, 8, 8]), 'uint8') : rand([m, 2, 8, 8]);
        const r = recoverShuffled(x, cipher.encrypt(x), kind, k);
        assert.ok(r.key, `${kind}: key recovered`);
        assert.deepEqual(Array.from(r.permutation!), Array.from(blockPermutation(key, 4, 4)!));
        assert.equal(r.unmatched, 0);
        for (let c = 0; c < 2; c++) {
          const err = Math.max(...r.key!.matrices[c].map((v, i) => Math.abs(v - key.matrices[c][i])));
          assert.ok(err <= (kind === 'hill256' ? 0 : 1e-4), `${kind} channel ${c}: ${err}`);
        }
      });
    } finally {
      cipher.dispose();
    }
  }
});

function tinyBackbone(): Sequential {
  return new Sequential(new AdaptiveAvgPool2d(1), new Flatten(1), new Linear(3, 10));
}

test('learned decryption: exact inverse scores ~∞ dB raw; a scaled inverse scores badly raw and perfectly after the affine fit', () => {
  manualSeed(9);
  const key = deriveKey(secret, { kind: 'orthogonal', k: 4, channels: 3 });
  const cipher = new BlockCipher(key);
  const model = new EncryptionRobustModel(new AdaptationNetwork({ k: 4 }), tinyBackbone());
  try {
    scope(() => {
      const plain = rand([12, 3, 16, 16]);
      const input = cipher.encrypt(plain);
      model.adaptation!.setBlockInverse(key.inverses);
      const exact = learnedDecryption(model, input, plain, { batchSize: 5 });
      assert.ok(exact.raw.psnr > 90, `raw PSNR ${exact.raw.psnr}`);
      assert.ok(exact.raw.ssim > 0.9999);
      assert.ok(exact.perChannelAffine.scale.every((a) => Math.abs(a - 1) < 1e-4));
      // Output = (x − mean)/std = 2x + 0.2: raw comparison is poor, the oracle fit undoes it.
      model.adaptation!.setBlockInverse(key.inverses, { mean: [-0.1, -0.1, -0.1], std: [0.5, 0.5, 0.5] });
      const scaled = learnedDecryption(model, input, plain);
      assert.ok(scaled.raw.psnr < 15, `raw PSNR ${scaled.raw.psnr}`);
      assert.ok(scaled.perChannelAffine.psnr > 80, `fitted PSNR ${scaled.perChannelAffine.psnr}`);
      assert.ok(scaled.colourAffine.psnr > 80);
      assert.ok(scaled.perChannelAffine.scale.every((a) => Math.abs(a - 0.5) < 1e-4));
      assert.ok(scaled.perChannelAffine.offset.every((b) => Math.abs(b + 0.1) < 1e-4));
      // The ciphertext itself is far from the plaintext even after fitting.
      assert.ok(scaled.ciphertextPerChannelAffine.psnr < scaled.perChannelAffine.psnr - 30);
      assert.ok(scaled.notes.some((n) => n.includes('oracle')));
      // The fit helper alone, on a known affine pair.
      const fit = perChannelAffineFit(cat([plain], 0), plain);
      assert.ok(fit.scale.every((a) => Math.abs(a - 1) < 1e-9));
    });
  } finally {
    model.dispose();
    cipher.dispose();
  }
});

test('assessment: JSON facts and Markdown for each kind (synthetic data)', () => {
  for (const kind of KINDS) {
    const key = deriveKey(secret, { kind, k: 2, channels: 3, shuffle: kind === 'uniform' });
    const r = assessKey(key, { seed: 1 });
    assert.equal(r.format, 'nnlock-cipher-assessment');
    assert.equal(r.matrices.length, 3);
    assert.ok(r.knownPlaintext.minimumBlocks !== null);
    if (kind !== 'hill256') assert.equal(r.knownPlaintext.minimumBlocks, 4);
    assert.equal(r.knownPlaintext.imagesNeeded, 1);
    if (kind === 'hill256') assert.ok(r.matrices.every((m) => m.detMod256! % 2 === 1));
    if (kind === 'orthogonal') assert.ok(r.matrices.every((m) => Math.abs(m.condition - 1) < 1e-9));
    if (kind === 'uniform') assert.ok(r.knownPlaintext.shuffled?.keyRecovered && r.knownPlaintext.shuffled.permutationRecovered);
    const md = assessmentMarkdown(r);
    assert.match(md, /^# Security assessment of cipher key [0-9a-f]{16}/);
    assert.match(md, /## Known-plaintext attack/);
    assert.match(r.verdict, /Not a secure cipher/);
    assert.doesNotThrow(() => JSON.stringify(r));
  }
  // With given known plaintext the leakage section appears.
  manualSeed(10);
  const key = deriveKey(secret, { kind: 'hill256', k: 4, channels: 3 });
  const plain = scope(() => {
    const x = rand([4, 3, 16, 16]);
    // Flat images: every block repeats, and the attack cannot determine the key from them.
    return toDtype(toDtype(x, 'uint8'), 'float32');
  });
  try {
    const r = assessKey(key, { plain });
    assert.equal(r.leakage!.repeatedBlocksPlain, 1);
    assert.equal(r.leakage!.repeatedBlocksCipher, 1);
    assert.equal(r.knownPlaintext.minimumBlocks, null);
    assert.ok(r.findings.some((f) => f.includes('did not determine the key')));
  } finally {
    plain.dispose();
  }
});

test('attack commands take grayscale images with a one-channel key as they take RGB with three', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-attack-gray-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const p = (name: string) => join(dir, name);
  let s = 7;
  const noise = (n: number) =>
    Uint8Array.from({ length: n }, () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s >>> 24;
    });
  await writePng(p('gray.png'), noise(32 * 32), 1, 32, 32);
  await writePng(p('rgb.png'), noise(3 * 32 * 32), 3, 32, 32);
  for (const [channels, image] of [
    [1, 'gray.png'],
    [3, 'rgb.png'],
  ] as const) {
    for (const kind of ['hill256', 'orthogonal'] as const) {
      const key = p(`${kind}-${channels}.json`);
      const cipher = p(`${kind}-${channels}.${kind === 'hill256' ? 'png' : 'safetensors'}`);
      let r = await runCli(['cipher', 'keygen', '--kind', kind, '--block', '4', '--channels', String(channels), '-o', key, '--quiet']);
      assert.equal(r.code, 0, r.err);
      r = await runCli(['cipher', 'encrypt', '-K', key, p(image), '-o', cipher, '--quiet']);
      assert.equal(r.code, 0, r.err);
      // With the true key (its channel count) and without it (the files' own).
      for (const trueKey of [['--true-key', key], []]) {
        r = await runCli(['attack', 'known-plaintext', '--plain', p(image), '--cipher', cipher, '--kind', kind, '--block', '4', ...trueKey, '--json']);
        assert.equal(r.code, 0, `${kind} ${channels} channel(s): ${r.err}`);
        const result = JSON.parse(r.out);
        assert.equal(result.channels.length, channels);
        assert.equal(result.determined, true);
        if (trueKey.length) assert.equal(result.recovered, true, `${kind}, ${channels} channel(s)`);
      }
      r = await runCli(['attack', 'assess', '-K', key, '--plain', p(image), '-o', p(`assess-${kind}-${channels}`), '--quiet']);
      assert.equal(r.code, 0, r.err);
      if (kind !== 'hill256') {
        r = await runCli(['attack', 'statistical', '--cipher', cipher, '--prior', p(image), '--plain', p(image), '--json']);
        assert.equal(r.code, 0, `statistical, ${channels} channel(s): ${r.err}`);
        assert.equal(JSON.parse(r.out).channels, channels);
      }
    }
  }
  // Images and a true key of different channel counts are told apart clearly, not with a TypeError.
  const key = deriveKey(secret, { kind: 'hill256', k: 4, channels: 3 });
  scope(() => {
    const x = toDtype(randint(0, 256, [1, 1, 16, 16]), 'uint8');
    assert.throws(() => knownPlaintextAttack(x, x, 'hill256', 4, { trueKey: key }), /images have 1 channel but the true key has 3/);
  });
});

test('leaks no tensors', checkLeaks);
