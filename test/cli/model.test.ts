// `nnlock model train|eval|denoise` through the CLI's main(), on tiny synthetic data made here: a
// CIFAR-format folder of a few images, a denoiser and a folder of PNGs. The 0.1 forms (`train`,
// `eval --key`, `denoise --images`) run once each, to show the aliases still work.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '../../src/tensor/index.ts';
import { DnCNN, saveWeights } from '../../src/models/index.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { writePng } from '../../src/io/image.ts';
import { protectModel } from '../../src/protect/index.ts';
import { runCli } from '../helpers/cli.ts';
import { cifarBin } from '../helpers/cifar.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-model-cli-'));
const p = (name: string) => join(dir, name);
const ARCH = 'vgg11-bn-w0.125';

before(async () => {
  mkdirSync(p('cifar'));
  writeFileSync(p('cifar/data_batch_1.bin'), cifarBin(48, 1));
  writeFileSync(p('cifar/test_batch.bin'), cifarBin(20, 2));
  manualSeed(3);
  const dncnn = new DnCNN({ depth: 3, channels: 1 });
  await saveWeights(dncnn, p('dncnn.safetensors'), { architecture: 'dncnn-3' });
  dncnn.dispose();
  mkdirSync(p('images'));
  for (const [i, name] of ['a.png', 'b.png'].entries()) {
    await writePng(
      p(`images/${name}`),
      Uint8Array.from({ length: 24 * 24 }, (_, j) => (j * (i + 3)) % 256),
      1,
      24,
      24,
    );
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

const trainArgs = ['-a', ARCH, '-d', p('cifar'), '--epochs', '1', '--batch', '16'];

test('model train writes weights that say their architecture, classes and normalisation; --json is the run', async () => {
  const r = await runCli(['model', 'train', ...trainArgs, '-o', p('m.safetensors'), '--json', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const result = JSON.parse(r.out);
  assert.equal(result.weights, p('m.safetensors'));
  assert.equal(result.history.length, 1);
  assert.ok(result.testAccuracy >= 0 && result.testAccuracy <= 1);
  const { metadata } = await readSafetensors(p('m.safetensors'));
  assert.equal(metadata.architecture, ARCH);
  assert.equal(JSON.parse(metadata.class_names).length, 10);
  assert.equal(metadata.input_mean.split(',').length, 3);
});

test('model train refuses to overwrite without --force; the 0.1 `train` form still works', async () => {
  let r = await runCli(['model', 'train', ...trainArgs, '-o', p('m.safetensors'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.err, /m\.safetensors exists/);
  r = await runCli(['train', ...trainArgs, '-o', p('m.safetensors'), '--force', '--test-limit', '8']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`nnlock train` is now `nnlock model train`/);
  assert.match(r.err, /training vgg11-bn-w0\.125 \(\d+ parameters\) on 48 images, testing on 8/);
  assert.match(r.out, /wrote .*m\.safetensors: test accuracy \d\.\d{4} after 1 epochs/);
});

test('model eval reports accuracy as text and as JSON', async () => {
  let r = await runCli(['model', 'eval', '-w', p('m.safetensors'), '-d', p('cifar'), '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^accuracy \d\.\d{4} on 20 images \(vgg11-bn-w0\.125, /);
  r = await runCli(['model', 'eval', '-w', p('m.safetensors'), '-d', p('cifar/data_batch_1.bin'), '--limit', '10', '--json']);
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out);
  assert.equal(result.images, 10);
  assert.equal(result.architecture, ARCH);
  assert.ok(result.accuracy >= 0 && result.accuracy <= 1);
});

test('model eval runs a protected model at tier 0 without a key, unlocked with --token or the 0.1 --key', async () => {
  const file = await readSafetensors(p('m.safetensors'));
  const result = await protectModel(file, { importance: 'l1', ratio: 0.3, tiers: 2, architecture: ARCH });
  await writeSafetensors(p('locked.safetensors'), result.file.tensors, result.file.metadata);
  const tokens = result.tokens;
  const plain = JSON.parse((await runCli(['model', 'eval', '-w', p('m.safetensors'), '-d', p('cifar'), '--json'])).out);

  let r = await runCli(['model', 'eval', '-w', p('locked.safetensors'), '-d', p('cifar'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).tier, 0);
  r = await runCli(['model', 'eval', '-w', p('locked.safetensors'), '-d', p('cifar'), '--token', tokens[1], '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual({ ...JSON.parse(r.out), seconds: 0 }, { ...plain, seconds: 0, tier: 2, tiers: 2 });
  r = await runCli(['eval', '-w', p('locked.safetensors'), '-d', p('cifar'), '--key', tokens[1], '--tier', '1', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`--key` of `nnlock eval` is now `--token` of `nnlock model eval`/);
  assert.match(r.out, /protected model at tier 1\/2/);
  r = await runCli(['model', 'eval', '-w', p('m.safetensors'), '-d', p('cifar'), '--token', tokens[1]]);
  assert.equal(r.code, 1);
  assert.match(r.err, /is not a protected model/);
});

test('model eval never echoes a token passed to --keys, and first undoes an interrupted protected write', async () => {
  const file = await readSafetensors(p('m.safetensors'));
  const result = await protectModel(file, { importance: 'l1', ratio: 0.3, tiers: 2, architecture: ARCH });
  await writeSafetensors(p('pair.safetensors'), result.file.tensors, result.file.metadata);
  const token = result.tokens[1];
  let r = await runCli(['model', 'eval', '-w', p('pair.safetensors'), '-d', p('cifar'), '--keys', token]);
  assert.equal(r.code, 2, r.err);
  assert.ok(!r.err.includes(token) && !r.out.includes(token), r.err);
  assert.match(r.err, /looks like a key token \(not shown\)/);
  // A kill after the new key file was renamed into place but before the model: the journal names
  // a model id that is not on disk, and a key file made for it. Reading the model rolls back.
  writeFileSync(p('new.keys'), '# model never-written\n');
  const journal = { format: 'nnlock-pair-write', modelId: 'never-written', keys: p('new.keys'), keysTmp: p('k.tmp'), modelTmp: p('m.tmp'), backup: null };
  writeFileSync(p('.pair.safetensors.nnlock-pair'), JSON.stringify(journal));
  r = await runCli(['model', 'eval', '-w', p('pair.safetensors'), '-d', p('cifar'), '--limit', '4', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.ok(!existsSync(p('.pair.safetensors.nnlock-pair')), 'the journal is resolved');
  assert.ok(!existsSync(p('new.keys')), 'the key file of the model never written is removed');
});

test('usage errors exit 2: a bad number, two keys, --tier without a key, a missing flag', async () => {
  for (const args of [
    ['model', 'eval', '-w', p('m.safetensors'), '-d', p('cifar'), '--batch', '0'],
    ['model', 'eval', '-w', p('m.safetensors'), '-d', p('cifar'), '--keys', 'k', '--token', 't'],
    ['model', 'eval', '-w', p('m.safetensors'), '-d', p('cifar'), '--tier', '1'],
    ['model', 'train', '-a', ARCH, '-o', p('x.safetensors')],
    ['model', 'denoise', '-w', p('dncnn.safetensors'), '-i', p('images'), '--sigma', '-3'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.out, '');
  }
});

test('model denoise --add-noise scores every image and writes its PNGs; the 0.1 --images form still works', async () => {
  let r = await runCli(['model', 'denoise', '-w', p('dncnn.safetensors'), '-i', p('images'), '--add-noise', '25', '-o', p('den'), '--json', '--quiet']);
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out);
  assert.deepEqual(
    result.images.map((i: { name: string }) => i.name),
    ['a.png', 'b.png'],
  );
  assert.equal(result.addedNoise, 25);
  assert.ok(result.psnrNoisy > 15 && result.psnrNoisy < 25, String(result.psnrNoisy));
  for (const f of ['a-denoised.png', 'a-noisy.png', 'b-denoised.png', 'b-noisy.png']) assert.ok(existsSync(p(`den/${f}`)), f);
  r = await runCli(['model', 'denoise', '-w', p('dncnn.safetensors'), '-i', p('images'), '--add-noise', '25', '-o', p('den')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /exists/);
  r = await runCli(['denoise', '-w', p('dncnn.safetensors'), '--images', p('images'), '--sigma', '15']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /`--images` of `nnlock denoise` is now `--input` of `nnlock model denoise/);
  assert.match(r.out, /^a\.png +PSNR [\d.]+ dB {2}SSIM [\d.]+/);
  assert.match(r.out, /mean +PSNR .*σ = 15/);
  r = await runCli(['model', 'denoise', '-w', p('m.safetensors'), '-i', p('images')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /not a denoiser/);
});

test('model denoise cleans real noisy photos as they are: no noise added, no PSNR claimed, a file or a folder', async () => {
  await writePng(
    p('photo.png'),
    Uint8Array.from({ length: 3 * 16 * 16 }, (_, j) => (j * 29 + (j >> 8) * 71) % 256),
    3,
    16,
    16,
  );
  let r = await runCli(['model', 'denoise', '-w', p('dncnn.safetensors'), '-i', p('photo.png'), '-o', p('clean'), '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /1 image\(s\) denoised as they are .*colour images denoised one channel at a time.*no PSNR: there is no clean reference/);
  assert.doesNotMatch(r.out, /dB/);
  assert.ok(existsSync(p('clean/photo-denoised.png')) && !existsSync(p('clean/photo-noisy.png')));
  r = await runCli(['model', 'denoise', '-w', p('dncnn.safetensors'), '-i', p('images'), '--json']);
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out);
  assert.equal(result.addedNoise, null);
  assert.equal(result.psnr, undefined);
  r = await runCli(['model', 'denoise', '-w', p('dncnn.safetensors'), '-i', p('nothing.png')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /nothing\.png: no such file or folder/);
  assert.doesNotMatch(r.err, /ENOTDIR/);
});

test('0.1 `denoise` always added noise: its command line gives the same numbers as --add-noise; --sigma is the old spelling', async () => {
  const json = async (args: string[]) => {
    const r = await runCli([...args, '-w', p('dncnn.safetensors'), '-i', p('images'), '--json']);
    assert.equal(r.code, 0, r.err);
    return { result: JSON.parse(r.out), err: r.err };
  };
  const legacy = await json(['denoise']);
  assert.match(legacy.err, /`nnlock denoise` is now `nnlock model denoise --add-noise 25`/);
  assert.deepEqual(legacy.result, (await json(['model', 'denoise', '--add-noise', '25'])).result);
  const legacy15 = await json(['denoise', '--sigma', '15']);
  assert.equal(legacy15.result.addedNoise, 15);
  const old = await json(['model', 'denoise', '--sigma', '15']);
  assert.match(old.err, /`--sigma` of `nnlock model denoise` is now `--add-noise`/);
  assert.deepEqual(old.result, legacy15.result);
  const r = await runCli(['model', 'denoise', '-w', p('dncnn.safetensors'), '-i', p('images'), '--sigma', '15', '--add-noise', '15']);
  assert.equal(r.code, 2);
});

/** An image folder of `classes` class subfolders with `perClass` small PNGs each (class c has brightness 20c). */
async function imageFolder(root: string, classes: number, perClass: number): Promise<void> {
  for (let c = 0; c < classes; c++) {
    const cls = join(root, `class${String(c).padStart(2, '0')}`);
    mkdirSync(cls, { recursive: true });
    for (let i = 0; i < perClass; i++) await writePng(join(cls, `${i}.png`), new Uint8Array(3 * 8 * 8).fill(20 * c + i), 3, 8, 8);
  }
}

test('model train on an image folder: 12 classes, a seeded --val-split or train/ test/ folders, never its own training images', async () => {
  await imageFolder(p('photos'), 12, 3);
  const args = ['model', 'train', '-a', ARCH, '--epochs', '1', '--batch', '12'];
  let r = await runCli([...args, '-d', p('photos'), '--val-split', '0.34', '-o', p('photos.safetensors')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /on 24 images, testing on 12 held out by --val-split/);
  const { metadata } = await readSafetensors(p('photos.safetensors'));
  assert.deepEqual(
    JSON.parse(metadata.class_names),
    Array.from({ length: 12 }, (_, c) => `class${String(c).padStart(2, '0')}`),
  );
  r = await runCli([...args, '-d', p('photos'), '--test', p('photos'), '-o', p('x.safetensors')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /is the training data/);
  r = await runCli([...args, '-d', p('photos'), '-o', p('x.safetensors'), '--quiet', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).testAccuracy, null);

  // A parent folder of splits, with a stray folder of pictures beside them: not three classes.
  await imageFolder(p('split/train'), 12, 2);
  await imageFolder(p('split/test'), 12, 1);
  mkdirSync(p('split/pics'));
  await writePng(p('split/pics/holiday.png'), new Uint8Array(3 * 8 * 8), 3, 8, 8);
  r = await runCli([...args, '-d', p('split'), '-o', p('split.safetensors')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /on 24 images, testing on 12 of the data's held-out split/);
  r = await runCli([...args, '-d', p('split'), '--val-split', '0.5', '-o', p('y.safetensors')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /has its own held-out split/);
  r = await runCli(['model', 'eval', '-w', p('split.safetensors'), '-d', p('split'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).images, 12, 'the test/ folder, 12 classes');
  r = await runCli(['model', 'eval', '-w', p('split.safetensors'), '-d', p('split'), '--split', 'train', '--json']);
  assert.equal(JSON.parse(r.out).images, 24);
});

test('model eval refuses a folder whose classes are not the model’s', async () => {
  await imageFolder(p('other'), 3, 1);
  mkdirSync(p('other/zebra'));
  let r = await runCli(['model', 'eval', '-w', p('split.safetensors'), '-d', p('other')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /do not match the model's classes .*'zebra' is not among them/);
  // A CIFAR-10 model on a folder of other classes; a 12-class model on CIFAR-10.
  r = await runCli(['model', 'eval', '-w', p('m.safetensors'), '-d', p('photos')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /do not match the model's classes \(airplane, /);
  r = await runCli(['model', 'eval', '-w', p('split.safetensors'), '-d', p('cifar')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /classes of .*cifar \(airplane, .*\) are not those of .*split\.safetensors \(class00, /);
  // A subset of the model's classes is fine: labels are looked up by name.
  r = await runCli(['model', 'eval', '-w', p('split.safetensors'), '-d', p('split/test'), '--json']);
  assert.equal(r.code, 0, r.err);
  rmSync(p('other/zebra'), { recursive: true });
  r = await runCli(['model', 'eval', '-w', p('split.safetensors'), '-d', p('other'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).images, 3);
});

test('leaks no tensors', checkLeaks);
