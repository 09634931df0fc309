// The decryption probe of trainEncryptionRobust: after every round, the adaptation output's
// PSNR/SSIM against held-out plaintext (raw and after the affine oracle fits) in the round's
// metrics, the log and onRoundEnd, and a picture grid per round. An exact inverse scores high, a
// random network low, so the figures measure what the network learned.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tensor } from '../../src/tensor/index.ts';
import { InMemoryDataset } from '../../src/data/dataset.ts';
import { BlockCipher, deriveKey } from '../../src/cipher/index.ts';
import { type ErRoundSummary, type ErTrainConfig, encryptedBatches, trainEncryptionRobust } from '../../src/er/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
const key = deriveKey(new Uint8Array(32).fill(7), { kind: 'uniform', k: 4 });

/** n smooth 3×32×32 images (gradients), label = which way the gradient runs. */
function smooth(n: number, salt: number): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = (i + salt) % 2;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) pixels[i * 3072 + (c * 32 + y) * 32 + x] = Math.round(40 + 5 * (labels[i] ? x : y) + 20 * c + ((i * 13) % 30));
  }
  return { pixels, labels };
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-probe-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(init: ErTrainConfig['init'], name: string): Promise<{ summaries: ErRoundSummary[]; rounds: Awaited<ReturnType<typeof trainEncryptionRobust>>['rounds'] }> {
  const tr = smooth(16, 0);
  const held = smooth(8, 1);
  const cipher = new BlockCipher(key);
  const images = tensor(held.pixels, [8, 3, 32, 32]);
  const summaries: ErRoundSummary[] = [];
  try {
    const r = await trainEncryptionRobust({
      architecture: 'vgg11-bn-w0.125',
      numClasses: 2,
      adaptation: 'aligned',
      cipher: key,
      init,
      train: encryptedBatches(new InMemoryDataset(tr.pixels, tr.labels, [3, 32, 32]), cipher, { batch: 8, workers: 0 }),
      rounds: 2,
      epochs: 1,
      // No learning: the probe must see the network as initialised, round after round.
      lr: 0,
      logFile: p(`${name}-log.json`),
      decryptionProbe: { images, grid: (round) => p(`${name}-r${round + 1}.png`), rows: 4, tileSize: 32, everyEpoch: true },
      onRoundEnd: (s) => {
        summaries.push(s);
      },
    });
    r.model.dispose();
    return { summaries, rounds: r.rounds };
  } finally {
    images.dispose();
    cipher.dispose();
  }
}

test('after every round: PSNR/SSIM of the adaptation output in metrics, log and onRoundEnd, and a grid', async () => {
  const { summaries, rounds } = await run({ kind: 'key-inverse' }, 'inverse');
  assert.deepEqual(
    summaries.map((s) => [s.round, s.rounds]),
    [
      [0, 2],
      [1, 2],
    ],
  );
  for (const [i, s] of summaries.entries()) {
    assert.equal(s.metrics.decryptionImages, 8);
    // The exact inverse decrypts: far above any fit of an unrelated output.
    assert.ok(s.metrics.decryptionPsnrRaw > 40, `raw PSNR ${s.metrics.decryptionPsnrRaw}`);
    assert.ok(s.metrics.decryptionSsimAffine > 0.95, `SSIM ${s.metrics.decryptionSsimAffine}`);
    assert.ok(s.seconds >= 0);
    assert.equal(s.grid, p(`inverse-r${i + 1}.png`));
    assert.ok(fs.statSync(s.grid!).size > 100, 'a PNG grid per round');
    assert.deepEqual(rounds[i].metrics, s.metrics);
    // everyEpoch: the same figures in the epoch's record (nothing learns at lr 0).
    assert.equal(rounds[i].final.decryptionPsnrAffine, s.metrics.decryptionPsnrAffine);
  }
  const log = JSON.parse(fs.readFileSync(p('inverse-log.json'), 'utf8'));
  assert.equal(log.rounds[1].metrics.decryptionPsnrAffine, summaries[1].metrics.decryptionPsnrAffine);
});

test('a random adaptation network does not decrypt; the probe needs a cipher and a network', async () => {
  const { summaries } = await run({ kind: 'default' }, 'default');
  for (const s of summaries) {
    assert.ok(s.metrics.decryptionPsnrAffine < 30, `affine PSNR ${s.metrics.decryptionPsnrAffine}`);
    assert.ok(s.metrics.decryptionPsnrAffine <= s.metrics.decryptionPsnrColour + 0.5);
  }
  const images = tensor(new Uint8Array(3072), [1, 3, 32, 32]);
  try {
    await assert.rejects(
      trainEncryptionRobust({ architecture: 'vgg11-bn-w0.125', adaptation: 'none', cipher: key, train: { batchCount: 0, epoch: async function* () {} }, epochs: 1, decryptionProbe: { images } }),
      /decryptionProbe .* needs the cipher and an adaptation network/,
    );
  } finally {
    images.dispose();
  }
});

test('leaks no tensors', checkLeaks);
