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

test('leaks no tensors', checkLeaks);
