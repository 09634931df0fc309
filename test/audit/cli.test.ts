// `nnlock attack decoys` on a tiny protected model, and `nnlock protect lock --decoys`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { runCli } from '../helpers/cli.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { fileOf, sameBytes, tinyNet } from '../protect/fixtures.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-audit-cli-'));
  const model = tinyNet(4);
  const file = fileOf(model);
  model.dispose();
  await writeSafetensors(p('tiny.safetensors'), file.tensors, file.metadata);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('protect lock --decoys: each mode protects and unlocks bit-identically; a wrong mode is a usage error', async () => {
  const env = { NNLOCK_KEYS_DIR: p('keys') };
  for (const mode of ['context', 'joint', 'position']) {
    const out = p(`prot-${mode}.safetensors`);
    const r = await runCli(['protect', 'lock', p('tiny.safetensors'), '-r', '0.2', '--tiers', '2', '--decoys', mode, '--keys', p(`${mode}.keys`), '-o', out], env);
    assert.equal(r.code, 0, r.err);
    const u = await runCli(['protect', 'unlock', out, '--keys', p(`${mode}.keys`), '-o', p(`open-${mode}.safetensors`)], env);
    assert.equal(u.code, 0, u.err);
    const [a, b, c] = await Promise.all([`open-${mode}`, 'tiny', `prot-${mode}`].map((n) => readSafetensors(p(`${n}.safetensors`))));
    for (const [name, e] of b.tensors) assert.ok(sameBytes(a.tensors.get(name)!.data, e.data), `${mode}: ${name} restored bit-identically`);
    assert.ok(!sameBytes(c.tensors.get('conv2.weight')!.data, b.tensors.get('conv2.weight')!.data), `${mode}: decoys published`);
  }
  const bad = await runCli(['protect', 'lock', p('tiny.safetensors'), '--decoys', 'gaussian', '-o', p('x.safetensors')], env);
  assert.equal(bad.code, 2);
});

test('attack decoys: suspects without a key, every detector scored with the master key', async () => {
  const plain = await runCli(['attack', 'decoys', p('prot-position.safetensors'), '--json']);
  assert.equal(plain.code, 0, plain.err);
  const v = JSON.parse(plain.out);
  assert.equal(v.layers.length, 2);
  assert.equal(v.reports, undefined);
  assert.equal(v.layers[1].suspects.length, v.layers[1].decoys);
  const scored = await runCli(['attack', 'decoys', p('prot-position.safetensors'), '--keys', p('position.keys'), '--decoys', 'position']);
  assert.equal(scored.code, 0, scored.err);
  assert.match(scored.out, /classifier/);
  assert.match(scored.out, /diagonalVsFull/);
  const unknown = await runCli(['attack', 'decoys', p('prot-position.safetensors'), '--detector', 'tea-leaves']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no detector 'tea-leaves'/);
});

test('attack finetune: the runs and the head start on a tiny CIFAR-format set', async () => {
  // 48 records of 3073 bytes: a label, then 32×32 red, green, blue; the label's channel is brighter.
  const n = 48;
  const bin = Buffer.alloc(n * 3073);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    bin[i * 3073] = c;
    for (let ch = 0; ch < 3; ch++) for (let q = 0; q < 1024; q++) bin[i * 3073 + 1 + ch * 1024 + q] = ((i * 37 + q * 11) % 100) + (ch === c ? 120 : 0);
  }
  fs.writeFileSync(p('tiny.bin'), bin);
  const { modelSpec } = await import('../../src/models/index.ts');
  const m = modelSpec('resnet8').create();
  const f = fileOf(m, { architecture: 'resnet8' });
  m.dispose();
  await writeSafetensors(p('r8.safetensors'), f.tensors, f.metadata);
  const r = await runCli([
    'attack',
    'finetune',
    p('r8.safetensors'),
    '-d',
    p('tiny.bin'),
    '--test',
    p('tiny.bin'),
    '--sizes',
    '16,32',
    '--steps',
    '2',
    '--batch',
    '16',
    '--test-images',
    '32',
    '--replace',
    'l2',
    '-r',
    '0.1',
    '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  const v = JSON.parse(r.out);
  assert.equal(v.runs.length, 6);
  assert.deepEqual(Object.keys(v.headStart).sort(), ['16', '32']);
  assert.match(r.err, /N=16 scratch/);
  const bad = await runCli(['attack', 'finetune', p('r8.safetensors'), '-d', p('tiny.bin'), '--test', p('tiny.bin'), '--reset-to', 'nothing']);
  assert.equal(bad.code, 2);
});

test('leaks no tensors', checkLeaks);
