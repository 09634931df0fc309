// Multi-round training on encrypted batches: each round keeps the adaptation network (same
// tensors, still learning) and restarts the backbone; checkpoints resume; evaluation; model files
// and the picture grid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { manualSeed, scope } from '../../src/tensor/index.ts';
import { rand } from '../../src/ops/creation.ts';
import { equal } from '../../src/ops/compare.ts';
import { type Module, Adam, AdaptiveAvgPool2d, Conv2d, Flatten, Linear, ReLU, Sequential } from '../../src/nn/index.ts';
import { InMemoryDataset } from '../../src/data/dataset.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { AdaptationNetwork } from '../../src/er/adaptation.ts';
import { EncryptionRobustModel } from '../../src/er/model.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptedSource, encryptPixels } from '../../src/cipher/data.ts';
import { trainMultiRound } from '../../src/er/multi-round.ts';
import { evaluateAccuracy } from '../../src/train/evaluate.ts';
import { buildErModel, loadErModel, saveErModel } from '../../src/er/model-file.ts';
import { minMaxScale, writeImageGrid } from '../../src/cipher/pictures.ts';
import { adaptedImages } from '../../src/attacks/learned.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const secret = new Uint8Array(32).fill(17);

// 48 images of 16×16 whose label is told by the brightness of their left half: learnable fast.
const N = 48;
const labels = Uint8Array.from({ length: N }, (_, i) => i % 2);
const pixels = new Uint8Array(N * 3 * 256);
for (let i = 0; i < N; i++) {
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++) {
        pixels[((i * 3 + c) * 16 + y) * 16 + x] = x < 8 ? (labels[i] ? 220 : 30) + ((i * 7 + y) % 20) : (x * 13 + y * 5 + i) % 256;
      }
}

function tinyBackbone(): Module {
  return new Sequential(new Conv2d(3, 6, 3, { padding: 1 }), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(1), new Linear(6, 10));
}

test('multi-round training keeps the adaptation network, restarts the backbone, and resumes from checkpoints', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-'));
  const key = deriveKey(secret, { kind: 'orthogonal', k: 4 });
  const cipher = new BlockCipher(key);
  const ds = new InMemoryDataset(pixels, labels, [3, 16, 16]);
  const loader = new DataLoader(ds, { batchSize: 16, workers: 0, seed: 1 });
  const testLoader = new DataLoader(ds, { batchSize: 16, workers: 0, shuffle: false });
  manualSeed(1);
  const model = new EncryptionRobustModel(new AdaptationNetwork({ k: 4, init: 'identity' }), tinyBackbone());
  const adaptWeight = model.adaptation!.conv.weight;
  const initial = adaptWeight.toArray();
  const backbones: Module[] = [model.backbone];
  const afterRound: number[] = [];
  try {
    const run = () =>
      trainMultiRound({
        model,
        rounds: 3,
        epochs: 2,
        data: encryptedSource(loader, cipher),
        seed: 3,
        newBackbone: (r) => {
          manualSeed(100 + r);
          const b = tinyBackbone();
          backbones.push(b);
          return b;
        },
        makeOptimizer: (m) => new Adam(m.parameters(), { lr: 0.02 }),
        evaluate: async (m) => ({ testAccuracy: (await evaluateAccuracy(m, encryptedSource(testLoader, cipher))).accuracy }),
        checkpointDir: path.join(dir, 'ckpt'),
        logFile: path.join(dir, 'log.json'),
        afterRound: (r) => {
          afterRound.push(r);
        },
      });
    const results = await run();
    assert.equal(results.length, 3);
    assert.deepEqual(
      results.map((r) => r.round),
      [0, 1, 2],
    );
    assert.ok(results.every((r) => r.history.length === 2 && typeof r.final.testAccuracy === 'number'));
    assert.deepEqual(afterRound, [0, 1, 2]);
    assert.equal(backbones.length, 3, 'two restarts after round 0');
    assert.equal(model.backbone, backbones[2]);
    assert.equal(model.adaptation!.conv.weight, adaptWeight, 'the adaptation network is the same object throughout');
    assert.notDeepEqual(adaptWeight.toArray(), initial, 'and it kept learning');
    assert.ok(backbones[0].parameters()[0].isDisposed, 'replaced backbones are freed');
    for (let r = 0; r < 3; r++) assert.ok(fs.existsSync(path.join(dir, 'ckpt', `round-${r}.ckpt`)));
    const log = JSON.parse(fs.readFileSync(path.join(dir, 'log.json'), 'utf8'));
    assert.equal(log.rounds.length, 3);
    // Each round learns: its loss falls from the first epoch to the last (runs are seeded).
    for (const r of results) assert.ok(r.history[1].trainLoss < r.history[0].trainLoss, `round ${r.round}: ${r.history.map((h) => h.trainLoss).join(' → ')}`);

    // Running again with the same checkpoints resumes: every round is already complete.
    const snapshot = adaptWeight.toArray();
    const again = await run();
    assert.deepEqual(
      again.map((r) => r.history),
      results.map((r) => r.history),
    );
    assert.deepEqual(adaptWeight.toArray(), snapshot);
  } finally {
    model.dispose();
    cipher.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('model files: save and load an Encryption-Robust model, checked against the key', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-'));
  const key = deriveKey(secret, { kind: 'uniform', k: 4 });
  const spec = { architecture: 'vgg11-bn-w0.125', adaptation: 'aligned' as const, k: 4, channels: 3, numClasses: 10 };
  manualSeed(2);
  const model = buildErModel(spec);
  try {
    const file = path.join(dir, 'er.safetensors');
    await saveErModel(file, model, spec, key, { note: 'test' });
    const loaded = await loadErModel(file, key);
    try {
      assert.deepEqual(loaded.spec, spec);
      assert.equal(loaded.metadata.note, 'test');
      scope(() => {
        const x = rand([2, 3, 32, 32]);
        model.eval();
        assert.ok(equal(loaded.model.forward(x), model.forward(x)));
      });
    } finally {
      loaded.model.dispose();
    }
    await assert.rejects(loadErModel(file, deriveKey(secret, { kind: 'orthogonal', k: 4 })), /was trained for key [0-9a-f]{16} \(uniform\), not for key/);
    await assert.rejects(loadErModel(file, null), /not for plaintext images/);
  } finally {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('picture grid: ciphertext, adaptation output and plaintext as one PNG', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-'));
  const key = deriveKey(secret, { kind: 'uniform', k: 4 });
  const cipher = new BlockCipher(key);
  const model = new EncryptionRobustModel(new AdaptationNetwork({ k: 4 }), tinyBackbone());
  try {
    model.adaptation!.setBlockInverse(key.inverses);
    const file = path.join(dir, 'grid.png');
    const cols = scope(() => {
      const plain = rand([3, 3, 16, 16]);
      const input = encryptPixels(plain, cipher);
      const { raw, fitted } = adaptedImages(model, input, plain);
      return [
        { title: 'ciphertext', images: minMaxScale(input) },
        { title: 'adapted', images: raw },
        { title: 'fit', images: fitted },
        { title: 'plaintext', images: plain },
      ];
    });
    try {
      await writeImageGrid(file, cols, { count: 3, tileSize: 48 });
    } finally {
      for (const c of cols) c.images.dispose();
    }
    const meta = await sharp(file).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(meta.width! >= 4 * 48 && meta.height! >= 3 * 48);
  } finally {
    model.dispose();
    cipher.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('leaks no tensors', checkLeaks);
