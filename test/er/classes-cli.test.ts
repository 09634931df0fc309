// `--classes`: a backbone pretrained on some classes (`nnlock model train --classes`) and an
// Encryption-Robust model trained behind it on the others (`nnlock er train --classes`,
// `--pretrained`), evaluated on those (`nnlock er eval --classes`): the disjoint-class workflow,
// on a synthetic CIFAR-10 file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { saveKey } from '../../src/cipher/key-file.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
const N = 60;
const images = new Uint8Array(N * 3072).map((_, i) => ((i % 3072) * 7 + Math.floor(i / 3072) * 31 + ((i * 2654435761) >>> 24)) % 256);
const labels = Array.from({ length: N }, (_, i) => i % 10);
const tiny = ['-a', 'vgg11-bn-w0.125', '--epochs', '1', '--batch', '8'];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-classes-'));
  await writeCifar10(p('plain.bin'), images, labels);
  fs.copyFileSync(p('plain.bin'), p('held-out.bin'));
  await saveKey(deriveKey(new Uint8Array(32).fill(5), { kind: 'uniform', k: 4 }), p('u.json'));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('model train --classes trains a classifier of those classes only, relabelled', async () => {
  const r = await runCli(['model', 'train', ...tiny, '-d', p('plain.bin'), '--test', p('held-out.bin'), '--classes', '0-2', '-o', p('backbone.safetensors'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /on 18 images, testing on 18/);
  const { tensors, metadata } = await readSafetensors(p('backbone.safetensors'));
  assert.deepEqual(JSON.parse(metadata.class_names), ['airplane', 'automobile', 'bird']);
  const head = [...tensors.entries()].filter(([k]) => k.startsWith('classifier.') && k.endsWith('.weight')).at(-1)![1];
  assert.equal(head.shape[0], 3, 'a 3-way head');
});

test('er train --classes behind the pretrained backbone of the other classes, then er eval --classes', async () => {
  let r = await runCli([
    'er',
    'train',
    '-K',
    p('u.json'),
    '-d',
    p('plain.bin'),
    '--test',
    p('plain.bin'),
    ...tiny,
    '--workers',
    '0',
    '--classes',
    '5,7,9',
    '--pretrained',
    p('backbone.safetensors'),
    '--init',
    'default',
    '-o',
    p('er.safetensors'),
    '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /on 18 images encrypted/);
  r = await runCli(['er', 'eval', '-w', p('er.safetensors'), '-K', p('u.json'), '-d', p('plain.bin'), '--classes', '5,7,9', '--decryption', '--json']);
  assert.equal(r.code, 0, r.err);
  const ev = JSON.parse(r.out);
  assert.equal(ev.images, 18);
  assert.deepEqual(ev.classes, ['dog', 'horse', 'truck']);
  assert.equal(ev.decryption.images, 18);
  // Without the subset, the data's ten classes are not the model's three.
  r = await runCli(['er', 'eval', '-w', p('er.safetensors'), '-K', p('u.json'), '-d', p('plain.bin'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /are not those .* was trained on \(dog, horse, truck\)/);
});

test('a bad class list is a usage error', async () => {
  for (const list of ['4-2', 'dog', '1,1']) {
    const r = await runCli(['model', 'train', ...tiny, '-d', p('plain.bin'), '--classes', list, '-o', p('x.safetensors'), '--quiet']);
    assert.equal(r.code, 2, `${list}: ${r.err}`);
    assert.match(r.err, /--classes/);
  }
  assert.ok(!fs.existsSync(p('x.safetensors')));
});

test('leaks no tensors', checkLeaks);
