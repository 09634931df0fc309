// `--device` on every command that computes, on a machine without CUDA: `--device cpu` changes no
// number, a CUDA device is refused with one clear line before any work (no file written), and the
// service refuses a config that names a GPU this libtorch cannot see.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cuda } from '../../src/tensor/index.ts';
import { ConfigError, serveConfig } from '../../src/serve/config.ts';
import { runCli } from '../helpers/cli.ts';
import { cifarBin } from '../helpers/cifar.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-device-cli-'));
const p = (name: string) => join(dir, name);
const ARCH = 'vgg11-bn-w0.125';
const noCuda = cuda.deviceCount() === 0;

before(() => {
  mkdirSync(p('cifar'));
  writeFileSync(p('cifar/data_batch_1.bin'), cifarBin(32, 1));
  writeFileSync(p('cifar/test_batch.bin'), cifarBin(16, 2));
});

after(() => rmSync(dir, { recursive: true, force: true }));

const train = (out: string, ...extra: string[]) => runCli(['model', 'train', '-a', ARCH, '-d', p('cifar'), '--epochs', '1', '--batch', '16', '-o', out, '--json', '--quiet', ...extra]);

test('model train and eval: --device cpu gives the very numbers of no flag', async () => {
  const plain = await train(p('plain.safetensors'));
  assert.equal(plain.code, 0, plain.err);
  const onCpu = await train(p('cpu.safetensors'), '--device', 'cpu');
  assert.equal(onCpu.code, 0, onCpu.err);
  const a = JSON.parse(plain.out);
  const b = JSON.parse(onCpu.out);
  assert.equal(b.history[0].trainLoss, a.history[0].trainLoss);
  assert.equal(b.testAccuracy, a.testAccuracy);
  assert.ok(readFileSync(p('plain.safetensors')).equals(readFileSync(p('cpu.safetensors'))), 'the same weights, byte for byte');
  const evalPlain = await runCli(['model', 'eval', '-w', p('plain.safetensors'), '-d', p('cifar'), '--json', '--quiet']);
  const evalCpu = await runCli(['model', 'eval', '-w', p('plain.safetensors'), '-d', p('cifar'), '--device', 'cpu', '--json', '--quiet']);
  assert.equal(evalCpu.code, 0, evalCpu.err);
  assert.equal(JSON.parse(evalCpu.out).accuracy, JSON.parse(evalPlain.out).accuracy);
});

// Every command that computes, with what it needs to start (the device is refused while the
// command line is read, so none of these files has to exist).
const COMMANDS: [string, string[]][] = [
  ['model train', ['model', 'train', '-a', ARCH, '-d', 'DATA', '-o', 'OUT']],
  ['model eval', ['model', 'eval', '-w', 'W', '-d', 'DATA']],
  ['model denoise', ['model', 'denoise', '-w', 'W', '-i', 'DATA', '-o', 'OUT']],
  ['protect importance', ['protect', 'importance', 'W', '-s', 'pss', '-d', 'DATA', '-o', 'OUT']],
  ['protect lock', ['protect', 'lock', 'W', '-o', 'OUT']],
  ['er train', ['er', 'train', '-a', ARCH, '-d', 'DATA', '-o', 'OUT']],
  ['er eval', ['er', 'eval', '-w', 'W', '-d', 'DATA']],
  ['attack learned', ['attack', 'learned', '-w', 'W', '-K', 'KEY', '-d', 'DATA']],
  ['attack finetune', ['attack', 'finetune', 'W', '-d', 'DATA', '--test', 'DATA']],
  ['demo', ['demo', '-o', 'OUT']],
  ['serve', ['serve', '--model', 'm=W']],
];

for (const [name, args] of COMMANDS) {
  test(`${name} --device cuda:7 / cuda: refused before any work (exit 2), nothing written`, { skip: !noCuda && 'this machine has CUDA' }, async () => {
    for (const device of ['cuda:7', 'cuda']) {
      const out = p(`${name.replace(' ', '-')}-${device.replace(':', '')}`);
      const r = await runCli([...args.map((a) => (a === 'OUT' ? out : a === 'DATA' ? p('cifar') : a === 'W' ? p('plain.safetensors') : a)), '--device', device]);
      assert.equal(r.code, 2, `${name}: ${r.err}`);
      assert.match(r.err, new RegExp(`${device === 'cuda' ? 'cuda' : 'cuda:7'}: this libtorch sees 0 CUDA devices \\(`));
      assert.equal(existsSync(out), false, `${name} wrote ${out}`);
    }
  });
}

test('--device takes only cpu, cuda and cuda:<index>', async () => {
  const r = await runCli(['model', 'eval', '-w', 'W', '-d', 'D', '--device', 'gpu0']);
  assert.equal(r.code, 2);
  assert.match(r.err, /'gpu0' is not a device: use cpu, cuda or cuda:<index>/);
});

test('NNLOCK_DEVICE sets the default; a GPU this libtorch lacks fails the command (exit 1) before it writes', { skip: !noCuda && 'this machine has CUDA' }, async () => {
  const r = await runCli(['model', 'train', '-a', ARCH, '-d', p('cifar'), '--epochs', '1', '-o', p('env.safetensors'), '--quiet'], { NNLOCK_DEVICE: 'cuda' });
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /cuda: this libtorch sees 0 CUDA devices/);
  assert.equal(existsSync(p('env.safetensors')), false);
  const cpu = await runCli(['model', 'eval', '-w', p('plain.safetensors'), '-d', p('cifar'), '--json', '--quiet'], { NNLOCK_DEVICE: 'cpu' });
  assert.equal(cpu.code, 0, cpu.err);
});

test("under a launcher (LOCAL_RANK=1) plain cuda means cuda:1, the process's own GPU", { skip: !noCuda && 'this machine has CUDA' }, async () => {
  const r = await runCli(['model', 'eval', '-w', p('plain.safetensors'), '-d', p('cifar'), '--device', 'cuda', '--json', '--quiet'], { LOCAL_RANK: '1' });
  assert.equal(r.code, 2);
  assert.match(r.err, /cuda:1: this libtorch sees 0 CUDA devices/);
  const explicit = await runCli(['model', 'eval', '-w', p('plain.safetensors'), '-d', p('cifar'), '--device', 'cuda:0', '--json', '--quiet'], { LOCAL_RANK: '1' });
  assert.match(explicit.err, /cuda:0: this libtorch sees 0 CUDA devices/, 'an explicit index is kept');
});

test('serve: a config that puts a model or a worker on a GPU this libtorch lacks is refused at startup', { skip: !noCuda && 'this machine has CUDA' }, async () => {
  const models = [{ name: 'm', weights: 'm.safetensors' }];
  assert.throws(
    () => serveConfig({ models: [{ ...models[0], device: 'cuda:1' }] }),
    (e: Error) => e instanceof ConfigError && /^models\[0\]\.device: cuda:1: this libtorch sees 0 CUDA devices/.test(e.message),
  );
  assert.throws(() => serveConfig({ models, batching: { workers: 2, devices: ['cpu', 'cuda'] } }), /batching\.devices\[1\]: cuda: this libtorch sees 0 CUDA devices/);
  assert.throws(() => serveConfig({ models, batching: { devices: [] } }), /batching\.devices must be a non-empty list/);
  assert.throws(() => serveConfig({ models: [{ ...models[0], device: 'tpu' }] }), /models\[0\]\.device: 'tpu' is not a device/);
  const ok = serveConfig({ models: [{ ...models[0], device: 'cpu' }], batching: { workers: 2, devices: ['cpu'] } });
  assert.equal(ok.models[0].device, 'cpu');
  assert.deepEqual(ok.batching.devices, ['cpu']);
  writeFileSync(p('serve.json'), JSON.stringify({ models: [{ name: 'm', weights: 'plain.safetensors', device: 'cuda:0' }] }));
  const r = await runCli(['serve', '--config', p('serve.json')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /serve\.json: models\[0\]\.device: cuda:0: this libtorch sees 0 CUDA devices/);
});

test('leaks no tensors', checkLeaks);
