// A user's own model as a TorchScript file (issue 11), on the committed fixture
// fixtures/tiny-scripted.pt (made by fixtures/make_tiny_scripted.py: Conv2d + BatchNorm2d + a 4-D
// positional embedding + Conv1d + Linear): loaded, mirrored with PyTorch's names and types, its
// tensors shared, gated for PSS, switched between train and eval, and damaged files refused.
// PyTorch itself is not needed here (torchscript-pytorch.test.ts compares with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { abs, max, mul, randn, sub, sum, zeros, full } from '../../src/ops/index.ts';
import { ScriptedConv2d, TorchScriptModel, torchScriptSpec } from '../../src/models/torchscript.ts';
import { TorchScriptArchiveError, checkTorchScriptArchive } from '../../src/models/torchscript-archive.ts';
import { openModel } from '../../src/models/load.ts';
import { writeTensorFile } from '../../src/io/tensor-file.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const FIXTURE = new URL('./fixtures/tiny-scripted.pt', import.meta.url);
const bytes = new Uint8Array(readFileSync(FIXTURE));
const dir = mkdtempSync(join(tmpdir(), 'nnlock-torchscript-'));

function maxDiff(a: Tensor, b: Tensor): number {
  return scope(() => max(abs(sub(a, b))).item());
}

test('a TorchScript module is mirrored with PyTorch names, order and module types', () => {
  const m = new TorchScriptModel(bytes, 'tiny');
  try {
    assert.equal(m.typeName, '__torch__.Tiny');
    assert.deepEqual(
      [...m.moduleTypes()].map(([p, t]) => [p, t.replace(/___torch_mangle_\d+\./, '')]),
      [
        ['', '__torch__.Tiny'],
        ['conv', '__torch__.torch.nn.modules.conv.Conv2d'],
        ['bn', '__torch__.torch.nn.modules.batchnorm.BatchNorm2d'],
        ['mix', '__torch__.torch.nn.modules.conv.Conv1d'],
        ['head', '__torch__.torch.nn.modules.linear.Linear'],
      ],
    );
    // state_dict order: the module's own parameters, then each child's parameters and buffers.
    assert.deepEqual(
      [...m.stateDict()].map(([n, t]) => `${n} ${t.dtype}[${t.shape.join(',')}]`),
      [
        'pos float32[1,2,4,4]',
        'conv.weight float32[2,1,3,3]',
        'conv.bias float32[2]',
        'bn.weight float32[2]',
        'bn.bias float32[2]',
        'bn.running_mean float32[2]',
        'bn.running_var float32[2]',
        'bn.num_batches_tracked int64[]',
        'mix.weight float32[2,2,3]',
        'mix.bias float32[2]',
        'head.weight float32[3,32]',
        'head.bias float32[3]',
      ],
    );
    assert.deepEqual([...m.convModules().keys()], ['conv.weight']);
    assert.ok(m.convModules().get('conv.weight') instanceof ScriptedConv2d);
    const spec = torchScriptSpec(m, 'classification');
    assert.equal(spec.name, 'torchscript:tiny');
    assert.equal(spec.inputChannels, 1);
    assert.throws(() => spec.create(), /loaded from its file/);
    const conv = m.convModules().get('conv.weight')!;
    assert.throws(() => scope(() => conv.forward(zeros([1]))), /part of a TorchScript model/);
  } finally {
    m.dispose();
  }
});

test("its tensors are the module's own: loading weights changes what forward computes", async () => {
  const m = new TorchScriptModel(bytes, 'tiny');
  try {
    await scope(async () => {
      manualSeed(3);
      const x = randn([2, 1, 4, 4]);
      const before = noGrad(() => m.forward(x));
      assert.deepEqual(before.shape, [2, 3]);
      // New weights through a safetensors file, loaded strictly, as `--module` does.
      const replaced = new Map([...m.stateDict()].map(([n, t]) => [n, t.dtype === 'int64' ? t : noGrad(() => mul(t, 0.5))]));
      const path = join(dir, 'half.safetensors');
      await writeTensorFile(path, replaced);
      const opened = await openModel(path, { module: FIXTURE.pathname, source: 'half' });
      try {
        assert.equal(opened.spec.name, 'torchscript:tiny-scripted.pt');
        const after = noGrad(() => opened.model.forward(x));
        assert.ok(maxDiff(before, after) > 1e-3, 'other weights give other outputs');
        m.loadStateDict(replaced);
        assert.ok(
          maxDiff(
            noGrad(() => m.forward(x)),
            after,
          ) < 1e-6,
          'loadStateDict reached the scripted module',
        );
      } finally {
        opened.model.dispose();
      }
    });
  } finally {
    m.dispose();
  }
});

test('weights that do not fit the module are refused with the keys that do not fit', async () => {
  const path = join(dir, 'wrong.safetensors');
  await scope(() => writeTensorFile(path, new Map([['conv.weight', zeros([2, 1, 3, 3])]])));
  await assert.rejects(openModel(path, { module: FIXTURE.pathname }), /do not fit the TorchScript model .*missing keys: pos/);
  await assert.rejects(openModel(path, { module: FIXTURE.pathname, arch: 'resnet20' }), /not both/);
});

test('a weight transform gates the conv weight at each forward: gradients reach the gate, the weight is put back', () => {
  const m = new TorchScriptModel(bytes, 'tiny');
  const conv = m.convModules().get('conv.weight')!;
  try {
    scope(() => {
      manualSeed(4);
      const x = randn([2, 1, 4, 4]);
      const weightBefore = conv.weight.toArray();
      const gate = full([2, 1, 1, 1], 0.5);
      gate.requiresGrad = true;
      conv.weightTransform = (w) => mul(w, gate);
      const gated = m.forward(x);
      sum(gated).backward();
      conv.weightTransform = null;
      assert.ok(gate.grad, 'the gradient reached the gate');
      assert.ok(Math.abs(sum(abs(gate.grad!)).item()) > 0);
      assert.deepEqual(conv.weight.toArray(), weightBefore, 'the stored weight is unchanged');
      // The same as loading the gated weight itself.
      const plain = noGrad(() => m.forward(x));
      assert.ok(maxDiff(plain, gated) > 1e-4, 'the gate changed the output');
      noGrad(() => m.loadStateDict(new Map([['conv.weight', mul(conv.weight, 0.5)]]), { strict: false }));
      assert.ok(
        maxDiff(
          noGrad(() => m.forward(x)),
          gated,
        ) < 1e-5,
      );
    });
  } finally {
    conv.weightTransform = null;
    m.dispose();
  }
});

test('train() and eval() reach the scripted module (batch norm uses batch statistics in training)', () => {
  const m = new TorchScriptModel(bytes, 'tiny');
  try {
    scope(() => {
      manualSeed(5);
      const x = mul(randn([4, 1, 4, 4]), 3);
      const tracked = () => m.stateDict().get('bn.num_batches_tracked')!.item();
      const evalOut = noGrad(() => m.forward(x));
      assert.equal(tracked(), 0, 'eval mode updates no statistics');
      m.train();
      const trainOut = noGrad(() => m.forward(x));
      assert.equal(tracked(), 1, 'training mode updated the running statistics');
      assert.ok(maxDiff(evalOut, trainOut) > 1e-3, 'training mode changed the output');
      m.eval();
      const again = noGrad(() => m.forward(x));
      assert.ok(
        maxDiff(
          again,
          noGrad(() => m.forward(x)),
        ) < 1e-7,
        'back in eval mode: deterministic',
      );
      assert.equal(tracked(), 1);
      // A flag set directly on one module (as freeze() restores them) is synced too.
      m.namedModules().find(([p]) => p === 'bn')![1].training = true;
      noGrad(() => m.forward(x));
      assert.equal(tracked(), 2);
    });
  } finally {
    m.dispose();
  }
});

test('damaged, foreign and non-TorchScript files are refused at once, by name, before libtorch reads them', async () => {
  const refuse = (b: Uint8Array, pattern: RegExp) => {
    // A TorchScriptArchiveError comes from the archive check, which runs before libtorch sees the bytes.
    assert.throws(
      () => new TorchScriptModel(b, 'm.pt'),
      (e: Error) => e instanceof TorchScriptArchiveError && pattern.test(e.message),
    );
  };
  refuse(new Uint8Array(100), /m\.pt is not an intact TorchScript file: it is not a zip archive/);
  refuse(bytes.subarray(0, bytes.length - 10), /no end record/);
  refuse(bytes.subarray(0, 5000), /no end record/);
  // One flipped bit in compressed code (fuzz mutation 316 of seed 11 took libtorch 5 s and 1.8 GB to refuse).
  const flipped = bytes.slice();
  flipped[6090] ^= 1;
  refuse(flipped, /code\/__torch__\/torch\/nn\/modules\/batchnorm\.py (fails its CRC-32 check|does not inflate)/);
  // A bit flip in a stored tensor record.
  const record = bytes.slice();
  record[100] ^= 0x10;
  refuse(record, /tiny-scripted\/data\/0 fails its CRC-32 check/);
  assert.deepEqual(checkTorchScriptArchive(bytes, 'ok').length, 25);
  // Not TorchScript at all: the message of the safetensors case, and a folder or missing file.
  await assert.rejects(TorchScriptModel.load(dir), /is a folder, not a regular file/);
  await assert.rejects(TorchScriptModel.load(join(dir, 'none.pt')), /no such file/);
  const st = join(dir, 'w.safetensors');
  writeFileSync(st, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]));
  await assert.rejects(TorchScriptModel.load(st), /not a zip archive/);
});

test('a disposed model refuses to run', () => {
  const m = new TorchScriptModel(bytes, 'tiny');
  m.dispose();
  m.dispose();
  assert.throws(() => scope(() => m.forward(zeros([1, 1, 4, 4]))), /tiny: the TorchScript model was disposed/);
});

test('leaks no tensors', checkLeaks);
