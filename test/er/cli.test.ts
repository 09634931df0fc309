// `nnlock er train | eval | show` through the real CLI (runCli: main() with capturing streams) on
// a synthetic CIFAR-10 file: the inits, rounds, evaluation, the diagnostics, the refusals, the
// old `-t` alias of --test, and --force.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { writePng } from '../../src/io/image.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { saveKey } from '../../src/cipher/key-file.ts';
import { encryptCifarFiles } from '../../src/cipher/data.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
const N = 40;
const images = new Uint8Array(N * 3072).map((_, i) => ((i % 3072) * 7 + Math.floor(i / 3072) * 31 + ((i * 2654435761) >>> 24)) % 256);
const labels = Array.from({ length: N }, (_, i) => i % 10);
const tiny = ['-a', 'vgg11-bn-w0.125', '--epochs', '1', '--batch', '16', '--workers', '0'];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-er-cli-'));
  await writeCifar10(p('plain.bin'), images, labels);
  await saveKey(deriveKey(new Uint8Array(32).fill(3), { kind: 'orthogonal', k: 4 }), p('o.json'));
  await saveKey(deriveKey(new Uint8Array(32).fill(4), { kind: 'hill256', k: 4 }), p('h.json'));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('er train whitens the adaptation network by default; refuses --init whiten without one', async () => {
  let r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), ...tiny, '--whiten-images', '20', '-o', p('er-whiten.safetensors')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /adaptation network whitened from 20 training images \(window eigenvalues [\d.e+-]+ to [\d.e+-]+, ε [\d.e+-]+\)/);
  assert.match(r.out, /round 1: train accuracy [\d.]+\nwrote /);
  r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '--adaptation', 'none', '--init', 'whiten', '-o', p('x.safetensors'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /init whiten initialises the adaptation network/);
  assert.ok(!fs.existsSync(p('x.safetensors')));
  // The output is never overwritten without --force.
  r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), ...tiny, '-o', p('er-whiten.safetensors'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /er-whiten\.safetensors exists; pass --force/);
});

test('er train --init statistical needs a prior, and reads one', async () => {
  let r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '--init', 'statistical', '-o', p('x.safetensors'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--init statistical needs --prior/);
  r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '--prior', p('plain.bin'), '-o', p('x.safetensors'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--prior is only used by --init statistical/);
  r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), ...tiny, '--init', 'statistical', '--prior', p('plain.bin'), '-o', p('er-stat.safetensors'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /adaptation network set to the decryption recovered from the statistics of 40 training ciphertexts and 40 prior images \(no key\)/);
  const res = JSON.parse(r.out);
  assert.equal(res.init.kind, 'statistical');
  assert.equal(res.init.recovery, undefined, 'the recovered matrices stay out of the JSON');
  assert.ok(!fs.existsSync(p('x.safetensors')));
});

test('er train (two rounds, old -t alias), eval with --decryption, show', async () => {
  let r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '-t', p('plain.bin'), ...tiny, '--rounds', '2', '--init', 'identity', '-o', p('er.safetensors'), '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`-t` of `nnlock er train` is now `--test`/);
  assert.match(r.out, /round 2: train accuracy [\d.]+, test accuracy [\d.]+/);
  r = await runCli(['er', 'eval', '-w', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--decryption', '--json']);
  assert.equal(r.code, 0, r.err);
  const ev = JSON.parse(r.out);
  assert.equal(ev.images, N);
  assert.ok(Number.isFinite(ev.decryption.raw.psnr) && Math.abs(ev.decryption.raw.ssim) <= 1);
  assert.ok(ev.decryption.colourAffine.psnr >= ev.decryption.perChannelAffine.psnr - 0.5, 'the colour fit is at least as good as the per-channel one');
  r = await runCli(['er', 'eval', '-w', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--decryption', '--limit', '20']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^accuracy [\d.]+ on 20 encrypted images \(vgg11-bn-w0\.125, adaptation aligned/);
  assert.match(r.out, /\| adaptation output, per-channel affine fit \(oracle\) \| /);
  r = await runCli(['er', 'show', '-w', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--count', '3', '-o', p('grid.png'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { out: p('grid.png'), rows: 3, columns: 5, classes: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] });
  const meta = await sharp(p('grid.png')).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! > meta.height!, 'five columns, three rows');
  r = await runCli(['er', 'show', '-w', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '-o', p('grid.png')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /grid\.png exists; pass --force/);
});

test('er refuses a model trained for another key, and inits that cannot be exact', async () => {
  let r = await runCli(['er', 'eval', '-w', p('er.safetensors'), '-K', p('h.json'), '-d', p('plain.bin')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /was trained for key [0-9a-f]{16} \(orthogonal\), not for key/);
  r = await runCli(['er', 'train', '-K', p('h.json'), '-d', p('plain.bin'), '--init', 'key-inverse', '-o', p('x.safetensors')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /hill256 cipher \(mod 256\) is not linear/);
  r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '--adaptation', 'padded', '--init', 'key-inverse', '-o', p('x.safetensors')]);
  assert.match(r.err, /only the aligned network can represent the inverse/);
  r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '--encrypted-data', p('plain.bin'), '-o', p('x.safetensors')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /give exactly one of --data and --encrypted-data/);
  r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('plain.bin'), '--epochs', '0', '-o', p('x.safetensors')]);
  assert.equal(r.code, 2, 'numeric flags are checked where declared');
  assert.ok(!fs.existsSync(p('x.safetensors')));
});

test('er train on an encrypted dataset as stored, and the plaintext baseline', async () => {
  await encryptCifarFiles([p('plain.bin')], p('enc.safetensors'), deriveKey(new Uint8Array(32).fill(3), { kind: 'orthogonal', k: 4 }));
  let r = await runCli([
    'er',
    'train',
    '-K',
    p('o.json'),
    '--encrypted-data',
    p('enc.safetensors'),
    '--encrypted-test',
    p('enc.safetensors'),
    ...tiny,
    '--init',
    'identity',
    '-o',
    p('enc-er.safetensors'),
    '--json',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).history[0].testAccuracy >= 0, true);
  r = await runCli(['er', 'eval', '-w', p('enc-er.safetensors'), '-K', p('o.json'), '--encrypted-data', p('enc.safetensors'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).images, N);
  r = await runCli(['er', 'train', '-K', p('o.json'), '--encrypted-data', p('enc.safetensors'), '--augment', ...tiny, '-o', p('x.safetensors')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /augmentation works on plaintext before encryption/);
  r = await runCli(['er', 'train', '-d', p('plain.bin'), '--test', p('plain.bin'), ...tiny, '--augment', '--mean', '0.5,0.5,0.5', '--std', '0.25,0.25,0.25', '-o', p('plain-er.safetensors')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /training vgg11-bn-w0\.125 on 40 plaintext images/);
  r = await runCli(['er', 'eval', '-w', p('plain-er.safetensors'), '-d', p('plain.bin'), '--mean', '0.5,0.5,0.5', '--std', '0.25,0.25,0.25', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).keyId, 'none');
  assert.ok(!fs.existsSync(p('x.safetensors')));
});

test('er train, eval and show take an image folder of class subfolders (12 classes, resized to 32×32); other data is refused clearly', async () => {
  for (let c = 0; c < 12; c++) {
    fs.mkdirSync(p(`photos/class-${String(c).padStart(2, '0')}`), { recursive: true });
    for (let i = 0; i < 2; i++) {
      const px = Uint8Array.from({ length: 40 * 40 * 3 }, (_, j) => (j * (c + 1) + i * 37) % 256);
      await writePng(p(`photos/class-${String(c).padStart(2, '0')}/${i}.png`), px, 3, 40, 40);
    }
  }
  let r = await runCli(['er', 'train', '-K', p('o.json'), '-d', p('photos'), '--test', p('photos'), ...tiny, '--init', 'identity', '-o', p('er-photos.safetensors'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).history.length, 1);
  r = await runCli(['er', 'eval', '-w', p('er-photos.safetensors'), '-K', p('o.json'), '-d', p('photos'), '--decryption', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).images, 24);
  // The model file keeps the class names; eval labels a folder by them and refuses a class it does not know.
  assert.deepEqual(
    JSON.parse(r.out).classes,
    Array.from({ length: 12 }, (_, c) => `class-${String(c).padStart(2, '0')}`),
  );
  fs.cpSync(p('photos'), p('photos-stray'), { recursive: true });
  fs.renameSync(p('photos-stray/class-11'), p('photos-stray/zebra'));
  r = await runCli(['er', 'eval', '-w', p('er-photos.safetensors'), '-K', p('o.json'), '-d', p('photos-stray'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /do not match the model's classes .*'zebra' is not among them/);
  r = await runCli(['er', 'show', '-w', p('er-photos.safetensors'), '-K', p('o.json'), '-d', p('photos'), '--count', '2', '-o', p('photos-grid.png'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).rows, 2);
  // A CIFAR-10 model (its file names CIFAR's ten classes) refuses twelve other classes.
  r = await runCli(['er', 'eval', '-w', p('er-whiten.safetensors'), '-K', p('o.json'), '-d', p('photos'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /do not match the model's classes \(airplane, automobile/);
  // A file written before class names were saved still opens; its 10-class head cannot tell 12 classes apart.
  const f = await readSafetensors(p('er-whiten.safetensors'));
  const { class_names: _names, ...oldMetadata } = f.metadata;
  await writeSafetensors(p('er-old.safetensors'), f.tensors, oldMetadata);
  r = await runCli(['er', 'eval', '-w', p('er-old.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).classes, null);
  r = await runCli(['er', 'eval', '-w', p('er-old.safetensors'), '-K', p('o.json'), '-d', p('photos'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /12 classes, but .* tells 10 apart/);
  // Anything else: what it is not, and what would be accepted.
  fs.mkdirSync(p('empty'));
  for (const [data, message] of [
    [p('o.json'), /not plaintext images of a kind nnlock er reads; give CIFAR-10 \.bin file\(s\), .* image folder/],
    [p('empty'), /a folder without CIFAR-10 files .* or class subfolders/],
  ] as const) {
    r = await runCli(['er', 'train', '-K', p('o.json'), '-d', data, ...tiny, '-o', p('never.safetensors'), '--quiet']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, message);
  }
  assert.ok(!fs.existsSync(p('never.safetensors')));
});

test('--help is there for every er verb', async () => {
  for (const verb of ['train', 'eval', 'show']) {
    const r = await runCli(['er', verb, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`Usage: nnlock er ${verb}`));
    assert.match(r.out, /--json/);
  }
});

test('leaks no tensors', checkLeaks);
