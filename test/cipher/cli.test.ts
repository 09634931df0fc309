// The cipher, attack and er commands, run in-process (test/helpers/cli.ts runCli, the real
// main()) on synthetic files: the noun–verb grammar, --json, usage errors (exit 2), failures
// (exit 1), and a few 0.1 command lines that must keep working with a note on stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { loadKey } from '../../src/cipher/key-file.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
const N = 40;
const images = new Uint8Array(N * 3072).map((_, i) => ((i % 3072) * 7 + Math.floor(i / 3072) * 31 + ((i * 2654435761) >>> 24)) % 256);
const labels = Array.from({ length: N }, (_, i) => i % 10);
const run = (...args: string[]) => runCli(args);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-cipher-cli-'));
  await writeCifar10(p('plain.bin'), images, labels);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('keygen writes a 0600 key file from a secret file, refuses to overwrite, and reports bad input', async () => {
  fs.writeFileSync(p('secret.hex'), `${'ab'.repeat(32)}\n`);
  // The 0.1 form: -k was the block size; it still works, with a note.
  let r = await run('cipher', 'keygen', '--kind', 'hill256', '-k', '4', '--shuffle', '--secret-file', p('secret.hex'), '-o', p('h.json'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`-k` of `nnlock cipher keygen` is now `--block`/);
  assert.match(r.out, /wrote .*h\.json \(mode 0600\): hill256 key, k=4/);
  assert.ok(!r.out.includes('ab'.repeat(32)), 'the secret is not printed');
  assert.equal(fs.statSync(p('h.json')).mode & 0o777, 0o600);
  const again = await run('cipher', 'keygen', '--kind', 'hill256', '--secret-file', p('secret.hex'), '-o', p('h2.json'), '--json');
  assert.equal(again.code, 0, again.err);
  const info = JSON.parse(again.out);
  assert.equal(info.kind, 'hill256');
  assert.equal(info.keyFile, p('h2.json'));
  assert.match(info.keyId, /^[0-9a-f]{16}$/);
  assert.equal((await loadKey(p('h2.json'))).matrices[0].join(), (await loadKey(p('h.json'))).matrices[0].join(), 'same secret, same key');
  r = await run('cipher', 'keygen', '--kind', 'hill256', '-o', p('h.json'));
  assert.equal(r.code, 1);
  assert.match(r.err, /exists; pass --force/);
  // Usage errors: exit 2, before anything is written.
  r = await run('cipher', 'keygen', '--kind', 'affine', '-o', p('x.json'));
  assert.equal(r.code, 2);
  assert.match(r.err, /must be one of uniform, orthogonal, hill256, got 'affine'/);
  r = await run('cipher', 'keygen', '--kind', 'uniform', '--block', '0', '-o', p('x.json'));
  assert.equal(r.code, 2);
  assert.match(r.err, /--block <k>.*must be an integer ≥ 1/);
  r = await run('cipher', 'keygen', '--kind', 'uniform', '--secret', 'ab'.repeat(32), '--secret-file', p('secret.hex'), '-o', p('x.json'));
  assert.equal(r.code, 2);
  assert.match(r.err, /give --secret or --secret-file, not both/);
  assert.ok(!fs.existsSync(p('x.json')));
  r = await run('cipher', 'keygen', '--kind', 'orthogonal', '-o', p('o.json'));
  assert.equal(r.code, 0);
});

test('encrypt and decrypt a CIFAR-10 file (exact for hill256, byte-identical after rounding otherwise)', async () => {
  let r = await run('cipher', 'encrypt', '-K', p('h.json'), p('plain.bin'), '-o', p('enc.bin'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /encrypted 40 images/);
  r = await run('cipher', 'decrypt', '-K', p('h.json'), p('enc.bin'), '-o', p('dec.bin'));
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(fs.readFileSync(p('dec.bin')), fs.readFileSync(p('plain.bin')));
  r = await run('cipher', 'encrypt', '-K', p('o.json'), p('plain.bin'), '-o', p('enc.safetensors'));
  assert.equal(r.code, 0, r.err);
  r = await run('cipher', 'decrypt', '-K', p('o.json'), p('enc.safetensors'), '-o', p('dec2.bin'));
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(fs.readFileSync(p('dec2.bin')), fs.readFileSync(p('plain.bin')));
  // Wrong key, corrupt key file, missing input.
  r = await run('cipher', 'decrypt', '-K', p('h.json'), p('enc.safetensors'), '-o', p('x.bin'));
  assert.equal(r.code, 1);
  assert.match(r.err, /encrypted with a orthogonal key, not with this hill256 key|holds floats/);
  fs.writeFileSync(
    p('bad.json'),
    fs.readFileSync(p('o.json'), 'utf8').replace(/"secret": "(.)/, (_m, c: string) => `"secret": "${c === 'a' ? 'b' : 'a'}`),
  );
  r = await run('cipher', 'encrypt', '-K', p('bad.json'), p('plain.bin'), '-o', p('x.safetensors'));
  assert.equal(r.code, 1);
  assert.match(r.err, /corrupt key file .*bad\.json: fingerprint mismatch/);
  r = await run('cipher', 'encrypt', '-K', p('o.json'), p('missing.bin'), '-o', p('x.safetensors'));
  assert.match(r.err, /missing\.bin: no such file/);
  // Outputs are not overwritten without --force.
  r = await run('cipher', 'encrypt', '-K', p('o.json'), p('plain.bin'), '-o', p('enc.safetensors'));
  assert.equal(r.code, 1);
  assert.match(r.err, /enc\.safetensors exists; pass --force/);
  r = await run('cipher', 'encrypt', '-K', p('o.json'), p('plain.bin'), '-o', p('enc.safetensors'), '--force', '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).count, N);
});

test('known-plaintext attack from files recovers a working key without the key', async () => {
  const r = await run(
    'cipher',
    'attack',
    'known-plaintext',
    '--plain',
    p('plain.bin'),
    '--cipher',
    p('enc.safetensors'),
    '--kind',
    'orthogonal',
    '-k',
    '4',
    '--images',
    '1',
    '--true-key',
    p('o.json'),
    '--out-key',
    p('rec.json'),
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`nnlock cipher attack known-plaintext` is now `nnlock attack known-plaintext`/);
  assert.match(r.err, /`-k` of .* is now `--block`/);
  assert.match(r.out, /the true key was recovered/);
  const rec = await loadKey(p('rec.json'));
  assert.equal(rec.secret, null);
  assert.equal(fs.statSync(p('rec.json')).mode & 0o777, 0o600);
  const d = await run('cipher', 'decrypt', '-K', p('rec.json'), p('enc.safetensors'), '-o', p('dec3.bin'));
  // The recovered key is another key object (no secret): the file's key id differs, so it is refused...
  assert.equal(d.code, 1);
  assert.match(d.err, /not with this key/);
  const a = await run('attack', 'assess', '-K', p('h.json'), '--plain', p('plain.bin'), '--limit', '8', '-o', p('assess'));
  assert.equal(a.code, 0, a.err);
  assert.ok(fs.existsSync(p('assess.json')) && fs.existsSync(p('assess.md')));
  assert.match(a.out, /Shuffled positions: 20 known images, key recovered: yes/);
});

test('attack statistical runs from files (JSON, grid) and refuses hill256 (er train --init statistical: test/er/cli.test.ts)', async () => {
  // 40 random images: too few and too unnatural for a good recovery (the unit test measures that); here: the plumbing.
  let r = await run('attack', 'statistical', '--cipher', p('enc.safetensors'), '--prior', p('plain.bin'), '--plain', p('plain.bin'), '--grid', p('stat.png'), '--json');
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out);
  assert.equal(res.cipherImages, N);
  assert.equal(res.priorImages, N);
  assert.ok(Number.isFinite(res.recovered.psnr) && res.recovered.images === N);
  assert.ok(fs.existsSync(p('stat.png')));
  r = await run('attack', 'statistical', '--cipher', p('enc.bin'), '--prior', p('plain.bin'));
  assert.equal(r.code, 1);
  assert.match(r.err, /hill256 ciphertext \(mod 256\) does not transform its statistics linearly/);
});

test('er train (two rounds), eval, show and attack learned on a tiny backbone', async () => {
  let r = await run(
    'er',
    'train',
    '-K',
    p('o.json'),
    '-d',
    p('plain.bin'),
    '-t',
    p('plain.bin'),
    '-a',
    'vgg11-bn-w0.125',
    '--rounds',
    '2',
    '--epochs',
    '1',
    '--batch',
    '16',
    '--workers',
    '0',
    '--init',
    'identity',
    '-o',
    p('er.safetensors'),
    '--quiet',
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /round 2: train accuracy [\d.]+, test accuracy [\d.]+/);
  r = await run('er', 'eval', '-m', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--decryption', '--json');
  assert.equal(r.code, 0, r.err);
  const ev = JSON.parse(r.out);
  assert.equal(ev.images, N);
  assert.ok(Number.isFinite(ev.decryption.raw.psnr) && Math.abs(ev.decryption.raw.ssim) <= 1);
  assert.ok(ev.decryption.colourAffine.psnr >= ev.decryption.perChannelAffine.psnr - 0.5, 'the colour fit is at least as good as the per-channel one');
  r = await run('er', 'show', '-m', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--count', '3', '-o', p('grid.png'));
  assert.equal(r.code, 0, r.err);
  assert.ok(fs.statSync(p('grid.png')).size > 100);
  r = await run('attack', 'learned', '-m', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--limit', '20', '-o', p('learned'), '--json');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`-m` of `nnlock attack learned` is now `--weights`/, 'the 0.1 -m still works, with a note');
  assert.match(fs.readFileSync(p('learned.md'), 'utf8'), /per-channel affine fit \(oracle\)/);
  assert.equal(JSON.parse(r.out).images, 20);
  // The model refuses another key; key-inverse init is refused where it cannot be exact.
  r = await run('er', 'eval', '-m', p('er.safetensors'), '-K', p('h.json'), '-d', p('plain.bin'));
  assert.match(r.err, /was trained for key [0-9a-f]{16} \(orthogonal\), not for key/);
  r = await run('er', 'train', '-K', p('h.json'), '-d', p('plain.bin'), '--init', 'key-inverse', '-o', p('x.safetensors'));
  assert.match(r.err, /hill256 cipher \(mod 256\) is not linear/);
  r = await run('er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '--adaptation', 'padded', '--init', 'key-inverse', '-o', p('x.safetensors'));
  assert.match(r.err, /only the aligned network can represent the inverse/);
});

test('info reports the engine (with --json); demo without any data says where to find it', async () => {
  let r = await run('info', '--steps', '1', '--batch', '2', '--json');
  assert.equal(r.code, 0, r.err);
  const info = JSON.parse(r.out);
  assert.match(info.malloc, /^(nnlock's policy \(mmap threshold 256 MiB, trim threshold 512 MiB\)|left alone)/);
  assert.equal(info.steps.length, 2, 'warm-up and one timed step');
  assert.ok(info.imagesPerSecond > 0 && info.threads >= 1);
  r = await run('info', '--steps', '0');
  assert.equal(r.code, 2, 'a usage error');
  // Neither the fixtures nor Fashion-MNIST (the tests never read the real dataset): the engine, and where data comes from.
  r = await run('demo', '--data', p('no-fixtures'), '--fashion-mnist', p('no-fashion'), '-o', p('demo'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /== engine: libtorch/);
  assert.match(r.out, /neither the shared fixtures .* nor Fashion-MNIST .* were found: install Fashion-MNIST with `apt-get install dataset-fashion-mnist`/);
});

test('--help is there for every command', async () => {
  for (const cmd of [
    ['cipher', 'keygen'],
    ['cipher', 'encrypt'],
    ['cipher', 'decrypt'],
    ['attack', 'assess'],
    ['attack', 'known-plaintext'],
    ['attack', 'statistical'],
    ['attack', 'learned'],
    ['info'],
    ['demo'],
  ]) {
    const r = await run(...cmd, '--help');
    assert.equal(r.code, 0, cmd.join(' '));
    assert.match(r.out, new RegExp(`Usage: nnlock ${cmd.join(' ')}`), cmd.join(' '));
  }
  // The 0.1 group name still answers.
  const r = await run('cipher', 'attack', 'assess', '--help');
  assert.match(r.out, /Usage: nnlock attack assess/);
});

test('leaks no tensors', checkLeaks);
