// trainEncryptionRobust: `nnlock er train` and the cipher experiments' runConfig give the same
// history on the same configuration (they share the recipe); rounds; resume from a checkpoint
// after an interruption gives the uninterrupted history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { loadCifar10 } from '../../src/data/cifar10.ts';
import { subset } from '../../src/data/dataset.ts';
import { saveKey } from '../../src/cipher/key-file.ts';
import { BlockCipher, deriveKey } from '../../src/cipher/index.ts';
import { type ErEpochRecord, type ErTrainConfig, encryptedBatches, loadErModel, trainEncryptionRobust } from '../../src/er/index.ts';
import { type ExperimentData, runConfig } from '../../experiments/cipher/train-config.ts';
import { experimentKey, type RunContext } from '../../experiments/cipher/common.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);

// CIFAR-shaped images whose label (0/1) shows in the brightness of their left half.
function images(n: number, salt: number): { pixels: Uint8Array; labels: number[] } {
  const labels = Array.from({ length: n }, (_, i) => (i + salt) % 2);
  const pixels = new Uint8Array(n * 3072);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) {
          pixels[i * 3072 + (c * 32 + y) * 32 + x] = x < 16 ? (labels[i] ? 200 : 40) + ((i * 7 + y + c) % 30) : (x * 13 + y * 5 + i * 3 + salt) % 256;
        }
  }
  return { pixels, labels };
}

/** What must agree exactly between two runs (times differ). */
const learned = (h: Record<string, number>[]) => h.map(({ round, epoch, lr, trainLoss, trainAccuracy, testAccuracy }) => ({ round, epoch, lr, trainLoss, trainAccuracy, testAccuracy }));

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-train-'));
  const tr = images(32, 0);
  const te = images(16, 1);
  await writeCifar10(p('train.bin'), tr.pixels, tr.labels);
  await writeCifar10(p('test.bin'), te.pixels, te.labels);
  await saveKey(experimentKey('uniform'), p('uniform.json'));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("`nnlock er train` and the experiments' runConfig give the same history", async () => {
  const ctx: RunContext = {
    quick: true,
    out: p('exp-out'),
    results: p('exp-results'),
    budget: { trainImages: 32, epochs: 2, batch: 16, lr: 0.1, momentum: 0.9, weightDecay: 5e-4, testImages: 16, decryptionImages: 8, seed: 0 },
  };
  for (const d of [path.join(ctx.out, 'checkpoints'), path.join(ctx.out, 'models'), path.join(ctx.results, 'runs')]) fs.mkdirSync(d, { recursive: true });
  const data: ExperimentData = {
    trainSet: async (n) =>
      subset(
        await loadCifar10([p('train.bin')]),
        Array.from({ length: n }, (_, i) => i),
      ),
    testSet: async (n) =>
      subset(
        await loadCifar10([p('test.bin')]),
        Array.from({ length: n }, (_, i) => i),
      ),
    priorSet: async () => loadCifar10([p('test.bin')]),
    testFile: p('test.bin'),
  };
  const config = { name: 'tiny-aligned-whiten-r2', title: 'tiny', kind: 'uniform' as const, adaptation: 'aligned' as const, rounds: 2, init: 'whiten' as const };
  const exp = await runConfig(ctx, config, data);
  const cli = await runCli([
    'er',
    'train',
    '-K',
    p('uniform.json'),
    '-d',
    p('train.bin'),
    '--test',
    p('test.bin'),
    '-a',
    'resnet20',
    '--adaptation',
    'aligned',
    '--init',
    'whiten',
    '--whiten-images',
    '32',
    '--rounds',
    '2',
    '--epochs',
    '1',
    '--batch',
    '16',
    '--lr',
    '0.1',
    '--augment',
    '--seed',
    '0',
    '-o',
    p('cli.safetensors'),
    '--json',
    '--quiet',
  ]);
  assert.equal(cli.code, 0, cli.err);
  const res = JSON.parse(cli.out) as { history: ErEpochRecord[]; init: { kind: string; images: number } };
  assert.equal(exp.history.length, 2);
  assert.deepEqual(learned(res.history), learned(exp.history));
  assert.deepEqual(
    res.history.map((h) => h.round),
    [1, 2],
  );
  assert.equal(res.init.kind, 'whiten');
  assert.deepEqual({ ...res.init, kind: undefined }, { ...exp.whitening, kind: undefined });
  assert.ok(exp.learned && fs.existsSync(path.join(ctx.results, exp.grid!)), 'the experiment scored and pictured the decryption');
  // Both wrote the same model.
  const a = await loadErModel(p('cli.safetensors'));
  const b = await loadErModel(path.join(ctx.out, 'models', `${config.name}.safetensors`));
  try {
    assert.deepEqual(a.model.adaptation!.conv.weight.toArray(), b.model.adaptation!.conv.weight.toArray());
    assert.equal(a.metadata.roundsCompleted, '2');
  } finally {
    a.model.dispose();
    b.model.dispose();
  }
  // A finished configuration is cached: the stored result comes back as it was.
  assert.deepEqual(await runConfig(ctx, config, data), JSON.parse(fs.readFileSync(path.join(ctx.results, 'runs', `${config.name}.json`), 'utf8')));
});

/** A small configuration on the synthetic training images (vgg11 at 1/8 width: fast). */
async function tinyRun(o: Partial<ErTrainConfig> = {}) {
  const key = deriveKey(new Uint8Array(32).fill(9), { kind: 'orthogonal', k: 4 });
  const cipher = new BlockCipher(key);
  const ds = await loadCifar10([p('train.bin')]);
  try {
    return await trainEncryptionRobust({
      architecture: 'vgg11-bn-w0.125',
      adaptation: 'aligned',
      cipher: key,
      init: { kind: 'whiten', source: encryptedBatches(ds, cipher, { batch: 500, shuffle: false, workers: 0 }) },
      train: encryptedBatches(ds, cipher, { batch: 16, seed: 1, workers: 0, augment: true }),
      test: encryptedBatches(ds, cipher, { batch: 500, shuffle: false, workers: 0 }),
      rounds: 2,
      epochs: 2,
      lr: 0.05,
      adaptationLr: 0.01,
      seed: 2,
      ...o,
    });
  } finally {
    cipher.dispose();
  }
}

test('rounds: the adaptation network is kept, the backbone restarted; the model file is saved after every round', async () => {
  const rounds: number[] = [];
  const saved: string[] = [];
  const epochs: string[] = [];
  const r = await tinyRun({
    out: p('tiny.safetensors'),
    metadata: { note: 'test' },
    onRound: ({ round, rounds: n }) => {
      rounds.push(round);
      assert.equal(n, 2);
      if (round > 0) saved.push(loadMeta(p('tiny.safetensors')));
    },
    onEpoch: (rec, q) => epochs.push(`${q.round}:${q.epoch}/${q.epochs}:${rec.round}.${rec.epoch}`),
    onInit: (rep) => assert.equal(rep.kind, 'whiten'),
  });
  try {
    assert.deepEqual(rounds, [0, 1]);
    assert.deepEqual(epochs, ['0:0/2:1.1', '0:1/2:1.2', '1:0/2:2.1', '1:1/2:2.2']);
    assert.deepEqual(
      r.history.map((h) => [h.round, h.epoch]),
      [
        [1, 1],
        [1, 2],
        [2, 1],
        [2, 2],
      ],
    );
    assert.equal(r.rounds.length, 2);
    assert.ok(r.history.every((h) => typeof h.testAccuracy === 'number' && typeof h.evalSeconds === 'number'));
    assert.ok(Math.abs(r.history[0].lr - 0.05) < 1e-12 && Math.abs(r.history[1].lr - 0.025) < 1e-12, 'cosine within each round');
    assert.ok(Math.abs(r.history[2].lr - 0.05) < 1e-12, 'and again in the next');
    assert.ok(saved[0].includes('"roundsCompleted":"1"'), 'round 1 was saved before round 2 started');
    const file = await loadErModel(p('tiny.safetensors'));
    try {
      assert.equal(file.metadata.roundsCompleted, '2');
      assert.equal(file.metadata.note, 'test');
      assert.deepEqual(file.model.adaptation!.conv.weight.toArray(), r.model.adaptation!.conv.weight.toArray());
    } finally {
      file.model.dispose();
    }
  } finally {
    r.model.dispose();
  }
});

function loadMeta(file: string): string {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.stringify(JSON.parse(buf.subarray(8, 8 + n).toString('utf8')).__metadata__);
}

test('resume: a run interrupted in round 2 continues from its checkpoints to the uninterrupted history', async () => {
  const whole = await tinyRun({ checkpointDir: p('ckpt-whole') });
  whole.model.dispose();
  await assert.rejects(
    tinyRun({
      checkpointDir: p('ckpt-cut'),
      onEpoch: (_rec, q) => {
        if (q.round === 1 && q.epoch === 1) throw new Error('interrupted');
      },
    }),
    /interrupted/,
  );
  const resumed: number[] = [];
  const again = await tinyRun({ checkpointDir: p('ckpt-cut'), onResume: (epoch) => resumed.push(epoch) });
  try {
    assert.deepEqual(resumed, [2, 1], 'round 1 was complete, round 2 had one epoch');
    assert.deepEqual(learned(again.history), learned(whole.history));
  } finally {
    again.model.dispose();
  }
});

test('leaks no tensors', checkLeaks);
