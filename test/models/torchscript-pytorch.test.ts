// A user's own PyTorch model, end to end (issue 11): ../interop/torchscript_model.py trains a small
// CNN that is none of nnlock's architectures (a Conv2d stem with batch norm, a 4-D positional
// embedding, a Conv1d and a Linear head) on seeded synthetic images and saves it with
// torch.jit.script; nnlock protects it through the CLI with PSS run on the TorchScript module and
// tiers calibrated on it (`--module model.pt`), evaluates it at every tier with the tier keys, and
// the protected and the unlocked safetensors load back into the PyTorch model with strict=True and
// give the outputs nnlock's TorchScript run gives. Needs Debian's python3-torch (setup.sh installs
// it); without it the test is skipped and says so.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { abs, max, sub } from '../../src/ops/index.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { readTensorFile, writeTensorFile } from '../../src/io/tensor-file.ts';
import { readCifar10 } from '../../src/io/cifar.ts';
import { writePng } from '../../src/io/image.ts';
import { openModel } from '../../src/models/load.ts';
import { readKeyToken, unlockModel } from '../../src/protect/index.ts';
import { runCli } from '../helpers/cli.ts';
import { sameBytes } from '../protect/fixtures.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const python = process.env.NNLOCK_TORCH_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const skip = hasTorch ? false : `PyTorch not found (${python} -c 'import torch' failed): apt-get install python3-torch to run this check`;
const script = join(import.meta.dirname, '..', 'interop', 'torchscript_model.py');
const dir = mkdtempSync(join(tmpdir(), 'nnlock-torchscript-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const p = (name: string) => join(dir, name);

/** The first n test images, normalised as the script trains (mean 0.5, std 0.25). */
async function testInputs(n: number) {
  const { images } = await readCifar10([p('test_batch.bin')]);
  return tensor(
    Float32Array.from(images.subarray(0, n * 3072), (v) => (v / 255 - 0.5) / 0.25),
    [n, 3, 32, 32],
  );
}

test('a TorchScript CNN of the user: protected with PSS, tiers strictly ordered, evaluated with tier keys, loaded back into PyTorch', { skip, timeout: 10 * 60_000 }, async (t) => {
  const trained = JSON.parse(execFileSync(python, [script, 'train', dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } }));
  assert.ok(trained.test_accuracy > 0.9, `the script's model reached ${trained.test_accuracy}`);
  const env = { NNLOCK_KEYS_DIR: p('keys') };
  const keys = p('model.keys');
  // PSS on the scripted module's Conv2d layers, half their kernels sealed (at 30% tier 0 came out
  // anywhere from 0.29 to 0.53 with the master key drawn), tiers 1 and 2 calibrated to 0.5 and 0.8.
  const lock = await runCli(
    [
      'protect',
      'lock',
      p('weights.safetensors'),
      '--module',
      p('model.pt'),
      '-s',
      'pss',
      '-d',
      dir,
      '--images',
      '256',
      '-r',
      '0.5',
      '--targets',
      '0.5,0.8',
      '--eval-data',
      dir,
      '--eval-images',
      '256',
    ].concat(['--keys', keys, '-o', p('protected.safetensors'), '--json']),
    env,
  );
  assert.equal(lock.code, 0, lock.err);
  const locked = JSON.parse(lock.out);
  assert.equal(locked.strategy, 'pss');
  assert.deepEqual([...locked.discovery.layers].sort(), ['conv2.weight', 'conv3.weight', 'stem.weight']);
  assert.deepEqual(locked.discovery.skipped.map((s: { name: string }) => s.name).sort(), ['head.weight', 'mix.weight', 'pos']);

  // Every tier through `model eval --module`, with the tier's key (tier 0: no key, as published).
  const accuracy: number[] = [];
  for (let tier = 0; tier <= 3; tier++) {
    const key = tier === 0 ? [] : ['--keys', keys, '--tier', String(tier)];
    const r = await runCli(['model', 'eval', '-w', p('protected.safetensors'), '--module', p('model.pt'), '-d', dir, '--json', '-q', ...key], env);
    assert.equal(r.code, 0, r.err);
    const e = JSON.parse(r.out);
    assert.equal(e.tier, tier);
    accuracy.push(e.accuracy);
  }
  t.diagnostic(`PyTorch test accuracy ${trained.test_accuracy}; nnlock tiers 0..3: ${accuracy.map((a) => a.toFixed(4)).join(', ')}`);
  for (let m = 1; m <= 3; m++) assert.ok(accuracy[m] > accuracy[m - 1], `tier accuracies must rise strictly: ${accuracy.join(' < ')}`);
  assert.ok(accuracy[0] < 0.5 && accuracy[1] >= 0.5 && accuracy[2] >= 0.8, `tier accuracies ${accuracy.join(', ')}`);
  assert.ok(Math.abs(accuracy[3] - trained.test_accuracy) < 1e-9, `the master key restores the model: ${accuracy[3]} vs PyTorch's ${trained.test_accuracy}`);

  // The unlocked weights are the original's bytes; positional embedding, Conv1d and Linear never changed.
  const original = await readSafetensors(p('weights.safetensors'));
  const protectedFile = await readSafetensors(p('protected.safetensors'));
  const unlocked = await unlockModel(protectedFile, await readKeyToken(keys));
  for (const [name, e] of original.tensors) assert.ok(sameBytes(unlocked.file.tensors.get(name)!.data, e.data), `${name} unlocked to its original bytes`);
  for (const name of ['pos', 'mix.weight', 'head.weight']) assert.ok(sameBytes(protectedFile.tensors.get(name)!.data, original.tensors.get(name)!.data), `${name} got no decoys`);
  await writeSafetensors(p('unlocked.safetensors'), unlocked.file.tensors, {});

  // PyTorch loads both files with strict=True and computes what nnlock's TorchScript run computes.
  const x = await testInputs(16);
  const ours = new Map<string, ReturnType<typeof tensor>>();
  for (const name of ['protected.safetensors', 'unlocked.safetensors']) {
    const { model } = await openModel(p(name), { module: p('model.pt') });
    ours.set(
      name,
      noGrad(() => model.forward(x)),
    );
    model.dispose();
  }
  await writeTensorFile(p('input.safetensors'), new Map([['x', x]]));
  const report = JSON.parse(execFileSync(python, [script, 'check', dir, p('protected.safetensors'), p('unlocked.safetensors')], { encoding: 'utf8' }));
  assert.deepEqual(Object.values(report), ['ok', 'ok']);
  for (const [name, y] of ours) {
    const { tensors } = await readTensorFile(p(`${name}.torch-out.safetensors`));
    const diff = scope(() => max(abs(sub(y, tensors.get('y')!))).item());
    t.diagnostic(`${name}: max |PyTorch − nnlock| = ${diff}`);
    assert.ok(diff < 1e-4, `${name}: PyTorch and nnlock differ by ${diff}`);
    for (const t of tensors.values()) t.dispose();
    y.dispose();
  }
  x.dispose();
});

test('a TorchScript denoiser of the user: denoise, protect and denoise again with the master key', { skip, timeout: 5 * 60_000 }, async () => {
  execFileSync(python, [script, 'denoiser', dir], { encoding: 'utf8' });
  const grey = new Uint8Array(24 * 24).map((_, i) => 128 + Math.round(60 * Math.sin(i / 5)));
  await writePng(p('grey.png'), grey, 1, 24, 24);
  const env = { NNLOCK_KEYS_DIR: p('keys') };
  const psnr = async (weights: string, key: string[] = []) => {
    const r = await runCli(['model', 'denoise', '-w', weights, '--module', p('denoiser.pt'), '-i', p('grey.png'), '--add-noise', '25', '--json', '-q', ...key], env);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out).psnr as number;
  };
  const plain = await psnr(p('denoiser.safetensors'));
  const keys = p('denoiser.keys');
  const lock = await runCli(
    ['protect', 'lock', p('denoiser.safetensors'), '--module', p('denoiser.pt'), '--task', 'denoising', '-r', '0.5', '--tiers', '2', '--keys', keys, '-o', p('denoiser.protected.safetensors')],
    env,
  );
  assert.equal(lock.code, 0, lock.err);
  assert.match(lock.out, /conv layers found by module type: first\.weight, mid\.weight, last\.weight/);
  const published = await psnr(p('denoiser.protected.safetensors'));
  const master = await psnr(p('denoiser.protected.safetensors'), ['--keys', keys]);
  assert.equal(master, plain, 'the master key restores the denoiser');
  assert.notEqual(published, plain, 'the published model denoises differently');
});

test('leaks no tensors', checkLeaks);
