// `nnlock er fold` (a ConvMixer file folded with a key reads ciphertext with the plaintext model's
// outputs; refusals) and `nnlock er train --freeze-backbone` (the pretrained backbone comes out
// bit-identical, batch-norm statistics included, while the adaptation network learns).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { rand } from '../../src/ops/creation.ts';
import { div, sub } from '../../src/ops/arithmetic.ts';
import { norm } from '../../src/ops/reduction.ts';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { saveKey } from '../../src/cipher/key-file.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { modelSpec } from '../../src/models/registry.ts';
import { saveWeights } from '../../src/models/weights.ts';
import { openModel } from '../../src/models/load.ts';
import { normalisationMetadata } from '../../src/data/normalisation.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
const NORM = { mean: [0.45, 0.5, 0.4], std: [0.22, 0.25, 0.27] };
const N = 32;
const images = new Uint8Array(N * 3072).map((_, i) => ((i % 3072) * 7 + Math.floor(i / 3072) * 31 + ((i * 2654435761) >>> 24)) % 256);
const labels = Array.from({ length: N }, (_, i) => i % 10);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-fold-'));
  await writeCifar10(p('plain.bin'), images, labels);
  await saveKey(deriveKey(new Uint8Array(32).fill(5), { kind: 'uniform', k: 4 }), p('u.json'));
  await saveKey(deriveKey(new Uint8Array(32).fill(6), { kind: 'hill256', k: 4 }), p('h.json'));
  manualSeed(2);
  const mixer = modelSpec('convmixer-32x1-p4-k3').create();
  noGrad(() => scope(() => void mixer.forward(rand([8, 3, 16, 16]))));
  await saveWeights(mixer, p('mixer.safetensors'), { architecture: 'convmixer-32x1-p4-k3', ...normalisationMetadata(NORM) });
  mixer.dispose();
  const vgg = modelSpec('vgg11-bn-w0.125').create();
  await saveWeights(vgg, p('vgg.safetensors'), { architecture: 'vgg11-bn-w0.125' });
  vgg.dispose();
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('er fold: the folded model on ciphertext gives the plaintext model on plaintext; never overwrites without --force', async () => {
  let r = await runCli(['er', 'fold', '-w', p('mixer.safetensors'), '-K', p('u.json'), '-o', p('folded.safetensors'), '--json']);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out);
  assert.equal(res.architecture, 'convmixer-32x1-p4-k3');
  assert.deepEqual(res.normalisation, NORM);
  const plain = await openModel(p('mixer.safetensors'));
  const folded = await openModel(p('folded.safetensors'));
  assert.equal(folded.metadata.input_mean, '0,0,0');
  assert.equal(folded.metadata.cipher_key_id, res.keyId);
  const cipher = new BlockCipher(deriveKey(new Uint8Array(32).fill(5), { kind: 'uniform', k: 4 }));
  scope(() => {
    const x = rand([3, 3, 32, 32]);
    const xn = div(sub(x, tensor(NORM.mean, [1, 3, 1, 1])), tensor(NORM.std, [1, 3, 1, 1]));
    const want = noGrad(() => plain.model.forward(xn));
    const got = noGrad(() => folded.model.forward(cipher.encrypt(x)));
    const err = norm(sub(got, want)).item() / norm(want).item();
    assert.ok(err < 1e-4, `relative error ${err}`);
  });
  cipher.dispose();
  plain.model.dispose();
  folded.model.dispose();
  r = await runCli(['er', 'fold', '-w', p('mixer.safetensors'), '-K', p('u.json'), '-o', p('folded.safetensors'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /exists; pass --force/);
  r = await runCli(['er', 'fold', '-w', p('mixer.safetensors'), '-K', p('u.json'), '-o', p('folded.safetensors'), '--quiet', '--force']);
  assert.equal(r.code, 0, r.err);
});

test('er fold refuses a hill256 key and a model without a patch embedding', async () => {
  let r = await runCli(['er', 'fold', '-w', p('mixer.safetensors'), '-K', p('h.json'), '-o', p('x.safetensors'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /hill256 key works mod 256/);
  r = await runCli(['er', 'fold', '-w', p('vgg.safetensors'), '-K', p('u.json'), '-o', p('x.safetensors'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /is a vgg11-bn-w0\.125 model: folding needs a first layer that is a k×k, stride-k patch embedding/);
  assert.ok(!fs.existsSync(p('x.safetensors')));
});

test('er train --freeze-backbone: the pretrained backbone comes out unchanged, the adaptation network learns', async () => {
  const common = ['er', 'train', '-K', p('u.json'), '-d', p('plain.bin'), '-a', 'vgg11-bn-w0.125', '--epochs', '1', '--batch', '8', '--workers', '0', '--init', 'identity'];
  let r = await runCli([...common, '--freeze-backbone', '-o', p('x.safetensors'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--freeze-backbone keeps the backbone as it is: give its weights with --pretrained/);
  r = await runCli([...common, '--pretrained', p('vgg.safetensors'), '--freeze-backbone', '-o', p('frozen.safetensors'), '--json']);
  assert.equal(r.code, 0, r.err);
  const pre = await readSafetensors(p('vgg.safetensors'));
  const out = await readSafetensors(p('frozen.safetensors'));
  assert.equal(out.metadata.backboneFrozen, 'true');
  for (const [name, e] of pre.tensors) {
    const got = out.tensors.get(`backbone.${name}`);
    assert.ok(got, `backbone.${name} missing`);
    assert.ok(Buffer.from(got.data).equals(Buffer.from(e.data)), `backbone.${name} changed`);
  }
  // The adaptation network left the identity it started as.
  const w = new Float32Array(out.tensors.get('adaptation.conv.weight')!.data.slice().buffer);
  const identityEntries = w.filter((v) => v === 0 || v === 1).length;
  assert.ok(identityEntries < w.length, 'the adaptation network did not learn');
  // Without the flag the backbone trains (the check can fail).
  r = await runCli([...common, '--pretrained', p('vgg.safetensors'), '-o', p('unfrozen.safetensors'), '--quiet']);
  assert.equal(r.code, 0, r.err);
  const un = await readSafetensors(p('unfrozen.safetensors'));
  const changed = [...pre.tensors].some(([name, e]) => !Buffer.from(un.tensors.get(`backbone.${name}`)!.data).equals(Buffer.from(e.data)));
  assert.ok(changed, 'the backbone did not train without --freeze-backbone');
});

test('leaks no tensors', checkLeaks);
