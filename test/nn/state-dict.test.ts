// State dicts: round trips through safetensors files, and clear reports of what does not fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { randn, zeros } from '../../src/ops/creation.ts';
import { equal } from '../../src/ops/compare.ts';
import { BatchNorm2d, LoadStateDictError } from '../../src/nn/index.ts';
import { ResNetCifar, loadWeights, saveWeights } from '../../src/models/index.ts';
import { readTensorFile } from '../../src/io/tensor-file.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-sd-'));

test('save then load gives the same outputs (train-mode statistics included)', async () => {
  manualSeed(1);
  const a = new ResNetCifar(20);
  // one training-mode pass so running statistics differ from their initial values
  scope(() => a.train().forward(randn([4, 3, 32, 32])));
  const file = join(dir, 'a.safetensors');
  await saveWeights(a, file, { architecture: 'resnet20' });
  manualSeed(2);
  const b = new ResNetCifar(20);
  const meta = await loadWeights(b, file);
  assert.equal(meta.architecture, 'resnet20');
  scope(() => {
    const x = randn([2, 3, 32, 32]);
    a.eval();
    b.eval();
    assert.ok(
      equal(
        noGrad(() => a.forward(x)),
        noGrad(() => b.forward(x)),
      ),
    );
    assert.equal(b.stateDict().get('bn1.num_batches_tracked')?.item(), 1);
  });
  a.dispose();
  b.dispose();
});

test('loading reports missing, unexpected and mismatched entries', () => {
  const bn = new BatchNorm2d(3);
  const source = new Map([
    ['weight', zeros([3])],
    ['bias', zeros([4])],
    ['running_mean', zeros([3])],
    ['extra', zeros([1])],
  ]);
  assert.throws(
    () => bn.loadStateDict(source),
    (e: unknown) => {
      assert.ok(e instanceof LoadStateDictError);
      assert.deepEqual(e.report.missing, ['running_var']);
      assert.deepEqual(e.report.unexpected, ['extra']);
      assert.deepEqual(e.report.mismatched, [{ name: 'bias', expected: 'float32[3]', got: 'float32[4]' }]);
      return true;
    },
  );
  // nothing was copied: weight still ones
  assert.deepEqual(bn.weight?.toArray(), [1, 1, 1]);
  // non-strict tolerates missing and unexpected, never mismatches
  source.get('bias')?.dispose();
  source.set('bias', tensor([5, 6, 7]));
  const report = bn.loadStateDict(source, { strict: false });
  assert.deepEqual(report.missing, ['running_var']);
  assert.deepEqual(bn.bias?.toArray(), [5, 6, 7]);
  for (const t of source.values()) t.dispose();
  bn.dispose();
});

test('num_batches_tracked may be absent, as in files from older PyTorch', () => {
  const bn = new BatchNorm2d(2);
  const source = new Map([
    ['weight', zeros([2])],
    ['bias', zeros([2])],
    ['running_mean', zeros([2])],
    ['running_var', zeros([2])],
  ]);
  const r = bn.loadStateDict(source);
  assert.deepEqual(r.missing, []);
  for (const t of source.values()) t.dispose();
  bn.dispose();
});

test('dtype mismatch is reported', () => {
  const bn = new BatchNorm2d(2);
  const source = new Map([
    ['weight', zeros([2], { dtype: 'float64' })],
    ['bias', zeros([2])],
    ['running_mean', zeros([2])],
    ['running_var', zeros([2])],
  ]);
  assert.throws(() => bn.loadStateDict(source), /weight: expected float32\[2\], got float64\[2\]/);
  for (const t of source.values()) t.dispose();
  bn.dispose();
});

test('a wrong architecture names the file and the problem', async () => {
  const a = new ResNetCifar(20);
  const file = join(dir, 'r20.safetensors');
  await saveWeights(a, file, { architecture: 'resnet20' });
  const b = new ResNetCifar(32);
  await assert.rejects(loadWeights(b, file), /r20\.safetensors does not fit this model \(the file says its architecture is 'resnet20'\): missing keys: layer1\.3/);
  a.dispose();
  b.dispose();
});

test('a file written here keeps names, dtypes and byte-exact values', async () => {
  const a = new ResNetCifar(20);
  const file = join(dir, 'exact.safetensors');
  await saveWeights(a, file);
  const { tensors } = await readTensorFile(file);
  for (const [name, t] of a.stateDict()) {
    const u = tensors.get(name);
    assert.ok(u, name);
    assert.equal(u.dtype, t.dtype);
    assert.ok(equal(u, t), name);
  }
  for (const t of tensors.values()) t.dispose();
  a.dispose();
});

test('leaks no tensors', checkLeaks);
