// The Fashion-MNIST opener on tiny idx files made by the test: the four files (gzip or not) read
// as 1×H×W datasets with Fashion-MNIST's class names, through loadFashionMnist, the
// `fashion-mnist:DIR` spec and a plain folder path; its test split is its held-out data; missing
// files are named; `model train` and `model eval` take it (a grayscale model, its one-channel
// normalisation recorded).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FASHION_MNIST_CLASSES, fashionMnistDir, hasFashionMnist, isFashionMnistFolder, loadFashionMnist } from '../../src/data/fashion-mnist.ts';
import { hasHeldOutSplit, openDataset } from '../../src/data/open.ts';
import { normalisationFrom } from '../../src/data/normalisation.ts';
import { stripeImages, writeTinyFashionMnist } from '../helpers/fashion.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-fashion-'));
  writeTinyFashionMnist(dir, { train: 12, test: 6, size: 16, classes: 3 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('loadFashionMnist reads both splits as 1×H×W bytes with the ten class names', async () => {
  const train = await loadFashionMnist(dir, 'train');
  const t10k = await loadFashionMnist(dir, 'test');
  assert.equal(train.length, 12);
  assert.equal(t10k.length, 6);
  assert.deepEqual(train.shape, [1, 16, 16]);
  assert.deepEqual(train.classes, FASHION_MNIST_CLASSES);
  assert.equal(FASHION_MNIST_CLASSES.length, 10);
  const want = stripeImages(12, 16, 3, 0);
  assert.deepEqual([...train.get(4).image], [...want.images.subarray(4 * 256, 5 * 256)]);
  assert.equal(train.get(4).label, want.labels[4]);
  assert.equal(t10k.get(0).label, 1, 'the test split is the t10k files (salt 1)');
});

test('openDataset takes fashion-mnist:DIR and a folder of idx files; the test split is held out', async () => {
  for (const spec of [`fashion-mnist:${dir}`, dir]) {
    const train = await openDataset(spec, { split: 'train', limit: 5 });
    assert.equal(train.length, 5, spec);
    assert.deepEqual(train.shape, [1, 16, 16]);
    const held = await openDataset(spec, { split: 'val' });
    assert.equal(held.length, 6, `${spec}: val and test name the t10k files`);
    assert.ok(hasHeldOutSplit(spec), spec);
  }
  assert.equal(fashionMnistDir('fashion-mnist:'), '/usr/share/datasets/fashion-mnist', "a bare spec names Debian's copy");
  assert.equal(fashionMnistDir('/some/cifar'), undefined);
  assert.ok(isFashionMnistFolder(dir) && hasFashionMnist(dir));
});

test('missing files are named, with how to install the data', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-fashion-empty-'));
  try {
    assert.ok(!hasFashionMnist(empty) && !isFashionMnistFolder(empty));
    await assert.rejects(loadFashionMnist(empty, 'test'), /no Fashion-MNIST test files \(t10k-images-idx3-ubyte\[\.gz\] and t10k-labels-idx1-ubyte\[\.gz\]\)/);
    fs.copyFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), path.join(empty, 'train-images-idx3-ubyte.gz'));
    assert.ok(isFashionMnistFolder(empty) && !hasFashionMnist(empty), 'one file is a Fashion-MNIST folder, not a whole one');
    await assert.rejects(openDataset(empty), /no Fashion-MNIST train files/);
    await assert.rejects(openDataset(`fashion-mnist:${path.join(empty, 'nope')}`), /no such file or folder \(Fashion-MNIST: install Debian's dataset-fashion-mnist/);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('a grayscale model records one mean and one std, and they read back', () => {
  assert.deepEqual(normalisationFrom({ input_mean: '0.286', input_std: '0.353' }), { mean: [0.286], std: [0.353] });
  assert.throws(() => normalisationFrom({ input_mean: '0.1,0.2' }), /three \(or, for a grayscale model, one\)/);
});

test('model train and eval take fashion-mnist:DIR: a grayscale smallcnn with its one-channel normalisation', async () => {
  const out = path.join(dir, 'fm.safetensors');
  let r = await runCli(['model', 'train', '-a', 'smallcnn', '-d', `fashion-mnist:${dir}`, '--epochs', '1', '--batch', '4', '--no-augment', '-o', out, '--quiet']);
  assert.equal(r.code, 0, r.err);
  r = await runCli(['model', 'eval', '-w', out, '-d', dir, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).images, 6);
  const { readSafetensorsMetadata } = await import('../../src/io/safetensors.ts');
  const metadata = await readSafetensorsMetadata(out);
  assert.equal(metadata.input_mean, '0.286');
  assert.equal(metadata.architecture, 'smallcnn');
});

test('leaks no tensors', checkLeaks);
