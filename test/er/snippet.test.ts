// The README's "train an encryption-robust model in code" snippet, run as written (imports from
// nnlock/er and nnlock/cipher pointed at src/) in a fresh folder, in a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

export const ER_SNIPPET = `import { BlockCipher, deriveKey, randomSecret } from 'nnlock/cipher';
import { encryptedBatches, trainEncryptionRobust } from 'nnlock/er';
// Your images: any { length, shape, get(i) } of CHW bytes and labels (here 64 made-up 32×32 ones).
const n = 64, size = 3 * 32 * 32, pixels = new Uint8Array(n * size).map((_, i) => (i * 97) % 256);
const images = { length: n, shape: [3, 32, 32], get: (i: number) => ({ image: pixels.subarray(i * size, (i + 1) * size), label: i % 10 }) };
const key = deriveKey(randomSecret(), { kind: 'uniform', k: 4 });
const cipher = new BlockCipher(key);
const { model, history } = await trainEncryptionRobust({
  architecture: 'resnet20', adaptation: 'aligned', cipher: key, rounds: 2, epochs: 1,
  init: { kind: 'whiten', source: encryptedBatches(images, cipher, { batch: 500, shuffle: false }) },
  train: encryptedBatches(images, cipher, { batch: 32, augment: true }),
  out: 'er.safetensors', // rewritten after every round
});
for (const h of history) console.log(\`round \${h.round} epoch \${h.epoch}: loss \${h.trainLoss.toFixed(3)}, accuracy \${h.trainAccuracy}\`);
model.dispose(); cipher.dispose();
`;

test('the ER training snippet runs as written', () => {
  const src = fileURLToPath(new URL('../../src/', import.meta.url));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-snippet-'));
  try {
    const code = ER_SNIPPET.replace("'nnlock/cipher'", `'${src}cipher/index.ts'`).replace("'nnlock/er'", `'${src}er/index.ts'`);
    fs.writeFileSync(path.join(dir, 'snippet.mts'), code);
    const out = execFileSync(process.execPath, ['--import', import.meta.resolve('tsx'), 'snippet.mts'], { cwd: dir, encoding: 'utf8' });
    assert.match(out, /^round 1 epoch 1: loss [\d.]+, accuracy [\d.]+\nround 2 epoch 1: loss [\d.]+, accuracy [\d.]+\n$/);
    assert.ok(fs.statSync(path.join(dir, 'er.safetensors')).size > 100_000, 'the model file');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('leaks no tensors', checkLeaks);
