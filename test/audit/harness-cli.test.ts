// `nnlock attack finetune --keys`: the per-tier attack (the attacker holds a tier's key and
// fine-tunes that tier), and --optimizer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { runCli } from '../helpers/cli.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { modelSpec } from '../../src/models/index.ts';
import { manualSeed } from '../../src/tensor/index.ts';
import { fileOf } from '../protect/fixtures.ts';

const checkLeaks = trackLeaks();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-harness-cli-'));
const p = (name: string) => path.join(dir, name);
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('attack finetune --keys attacks the tier the key unlocks; --optimizer adam runs; a bad optimizer is a usage error', async () => {
  // 32 CIFAR-format records: a label, then 32×32 red, green, blue; the label's channel is brighter.
  const n = 32;
  const bin = Buffer.alloc(n * 3073);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    bin[i * 3073] = c;
    for (let ch = 0; ch < 3; ch++) for (let q = 0; q < 1024; q++) bin[i * 3073 + 1 + ch * 1024 + q] = ((i * 37 + q * 11) % 100) + (ch === c ? 120 : 0);
  }
  fs.writeFileSync(p('tiny.bin'), bin);
  manualSeed(8);
  const m = modelSpec('resnet8').create();
  const f = fileOf(m, { architecture: 'resnet8' });
  m.dispose();
  await writeSafetensors(p('r8.safetensors'), f.tensors, f.metadata);
  const env = { NNLOCK_KEYS_DIR: p('keys') };
  const lock = await runCli(['protect', 'lock', p('r8.safetensors'), '-r', '0.3', '--tiers', '3', '--keys', p('all.keys'), '-o', p('prot.safetensors')], env);
  assert.equal(lock.code, 0, lock.err);
  const keys = await runCli(['protect', 'keys', p('prot.safetensors'), '--keys', p('all.keys'), '--tier', '2', '-o', p('t2.keys')], env);
  assert.equal(keys.code, 0, keys.err);
  const common = ['-d', p('tiny.bin'), '--test', p('tiny.bin'), '--sizes', '16', '--steps', '1', '--batch', '16', '--test-images', '32', '--json'];
  const t2 = await runCli(['attack', 'finetune', p('prot.safetensors'), '--keys', p('t2.keys'), ...common], env);
  assert.equal(t2.code, 0, t2.err);
  const v = JSON.parse(t2.out);
  assert.equal(v.tier, 2);
  const t0 = JSON.parse((await runCli(['attack', 'finetune', p('prot.safetensors'), '--optimizer', 'adam', ...common], env)).out);
  assert.equal(t0.tier, 0);
  assert.equal(t0.runs.find((r: { start: string }) => r.start === 'published').lr, 1e-3, "adam's default learning rate");
  // The unlocked tier starts from other weights than the published file.
  const before = (x: { runs: { start: string; before: number | null }[] }) => x.runs.find((r) => r.start === 'published')!.before;
  assert.ok(before(v) !== null && before(t0) !== null);
  const bad = await runCli(['attack', 'finetune', p('prot.safetensors'), '--optimizer', 'rmsprop', ...common], env);
  assert.equal(bad.code, 2);
  const wrong = await runCli(['attack', 'finetune', p('r8.safetensors'), '--keys', p('t2.keys'), ...common], env);
  assert.equal(wrong.code, 1, 'a key for an unprotected file fails');
});

test('leaks no tensors', checkLeaks);
