// `nnlock attack er-weights`: an adaptation network that decrypts (set to the exact inverse, then
// perturbed as training would leave it) gives the key back from its weights alone; a network that
// does not decrypt (identity) gives a wrong key, so the check can fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { manualSeed } from '../../src/tensor/index.ts';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { loadKey, saveKey } from '../../src/cipher/key-file.ts';
import { keyFromAdapterWeights, recoveredKeyError } from '../../src/attacks/er-weights.ts';
import { buildErModel, saveErModel } from '../../src/er/model-file.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
const STD = [0.229, 0.224, 0.225];
const key = deriveKey(new Uint8Array(32).fill(9), { kind: 'uniform', k: 4 });
const spec = { architecture: 'vgg11-bn-w0.125', adaptation: 'aligned' as const, k: 4, channels: 3, numClasses: 10, init: 'default' as const };

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-weights-'));
  const n = 8;
  await writeCifar10(
    p('plain.bin'),
    new Uint8Array(n * 3072).map((_, i) => (i * 37 + ((i * 2654435761) >>> 26)) % 256),
    Array.from({ length: n }, (_, i) => i % 10),
  );
  await saveKey(key, p('key.json'));
  manualSeed(4);
  const m = buildErModel(spec);
  m.adaptation!.setBlockInverse(key.inverses, { mean: [0.485, 0.456, 0.406], std: STD });
  await saveErModel(p('decrypts.safetensors'), m, spec, key);
  m.adaptation!.setIdentity();
  await saveErModel(p('identity.safetensors'), m, spec, key);
  m.dispose();
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('keyFromAdapterWeights inverts a composite that mixes hidden units (conv·M, deconv·M⁻ᵀ)', () => {
  // A trained network need not be space-to-depth in its hidden layer: mix the hidden units with a
  // random invertible M on both sides, the composite (and so the key) is unchanged.
  const k = 2;
  const small = deriveKey(new Uint8Array(32).fill(1), { kind: 'orthogonal', k });
  const n = k * k;
  const h = 3 * n;
  const w1 = new Float64Array(h * h);
  const w2 = new Float64Array(h * h);
  // W1 = identity (space-to-depth), W2[c·n+m, c·n+p] = inv_c[m, p]/s_c: the exact inverse.
  for (let c = 0; c < 3; c++)
    for (let m = 0; m < n; m++) {
      w1[(c * n + m) * h + c * n + m] = 1;
      for (let q = 0; q < n; q++) w2[(c * n + m) * h + c * n + q] = small.inverses[c][m * n + q] / STD[c];
    }
  const rec = keyFromAdapterWeights({ convWeight: w1, deconvWeight: w2, k, channels: 3 }, { std: STD });
  assert.ok(recoveredKeyError(rec.matrices, small.matrices).relative < 1e-9);
  assert.equal(rec.crossChannel, 0);
  // Without the std the key is right only up to one scale per channel.
  const unscaled = recoveredKeyError(keyFromAdapterWeights({ convWeight: w1, deconvWeight: w2, k, channels: 3 }).matrices, small.matrices);
  assert.ok(unscaled.relative > 0.5 && unscaled.scaleFree < 1e-9, JSON.stringify(unscaled));
});

test('attack er-weights recovers the key from a decrypting network, and images decrypt with it', async () => {
  const r = await runCli([
    'attack',
    'er-weights',
    '-w',
    p('decrypts.safetensors'),
    '--std',
    STD.join(','),
    '--true-key',
    p('key.json'),
    '--images',
    p('plain.bin'),
    '--out-key',
    p('rec.json'),
    '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out);
  assert.ok(res.relError < 1e-4, `relative error ${res.relError}`);
  assert.ok(res.inverseRelError < 1e-4, `relative error of the inverse ${res.inverseRelError}`);
  assert.ok(res.decryptedPsnr > 60, `PSNR ${res.decryptedPsnr}`);
  assert.equal(res.images, 8);
  const rec = await loadKey(p('rec.json'));
  assert.ok(recoveredKeyError(rec.matrices, key.matrices).relative < 1e-4);
  const again = await runCli(['attack', 'er-weights', '-w', p('decrypts.safetensors'), '--out-key', p('rec.json'), '--quiet']);
  assert.equal(again.code, 1);
  assert.match(again.err, /exists; pass --force/);
});

test('attack er-weights on a network that does not decrypt gives a wrong key (the check can fail)', async () => {
  const r = await runCli(['attack', 'er-weights', '-w', p('identity.safetensors'), '--std', STD.join(','), '--true-key', p('key.json'), '--images', p('plain.bin'), '--json']);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out);
  assert.ok(res.relError > 0.5, `relative error ${res.relError}`);
  assert.ok(res.decryptedPsnr < 20, `PSNR ${res.decryptedPsnr}`);
});

test('attack er-weights refuses a file without an adaptation network', async () => {
  const r = await runCli(['attack', 'er-weights', '-w', p('key.json'), '--quiet']);
  assert.equal(r.code, 1);
});

test('leaks no tensors', checkLeaks);
