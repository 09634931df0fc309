// Interop with PyTorch: a safetensors file written by nnlock loads into the same PyTorch model
// with strict=True and gives the same outputs, and the reverse. Needs Debian's python3-torch;
// without it the test is skipped and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { randn, abs, sub, max } from '../../src/ops/index.ts';
import { modelSpec, loadWeights, saveWeights } from '../../src/models/index.ts';
import { DnCNN } from '../../src/models/dncnn.ts';
import { readTensorFile, writeTensorFile } from '../../src/io/tensor-file.ts';
import type { Module } from '../../src/nn/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const python = process.env.NNLOCK_TORCH_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const skip = hasTorch ? false : `PyTorch not found (${python} -c 'import torch' failed): apt-get install python3-torch to run this check`;

const MODELS: Record<string, { make: () => Module; input: number[] }> = {
  resnet20: { make: () => modelSpec('resnet20').create(), input: [2, 3, 32, 32] },
  'vgg11-bn-w0.125': { make: () => modelSpec('vgg11-bn-w0.125').create(), input: [2, 3, 32, 32] },
  'dncnn-17': { make: () => new DnCNN({ depth: 17, features: 16 }), input: [1, 1, 24, 24] },
};

test('nnlock ⇄ PyTorch weights, strict=True both ways, same outputs', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-interop-'));
  manualSeed(5);
  for (const [name, { make, input }] of Object.entries(MODELS)) {
    const m = make();
    scope(() => m.train().forward(randn(input)));
    m.eval();
    await scope(async () => {
      const x = randn(input);
      const y = noGrad(() => m.forward(x));
      await saveWeights(m, join(dir, `nnlock-${name}.safetensors`));
      await writeTensorFile(join(dir, `input-${name}.safetensors`), new Map([['x', x]]));
      await writeTensorFile(join(dir, `output-nnlock-${name}.safetensors`), new Map([['y', y]]));
    });
    m.dispose();
  }
  const report = JSON.parse(execFileSync(python, [join(import.meta.dirname, 'torch_models.py'), dir], { encoding: 'utf8' }));
  for (const name of Object.keys(MODELS)) {
    assert.ok(report[name].max_abs_diff_on_nnlock_weights < 1e-4, `${name}: PyTorch output on nnlock weights differs by ${report[name].max_abs_diff_on_nnlock_weights}`);
    const m = MODELS[name].make().eval();
    await loadWeights(m, join(dir, `torch-${name}.safetensors`)); // strict by default
    const { tensors: xs } = await readTensorFile(join(dir, `input-${name}.safetensors`));
    const { tensors: ys } = await readTensorFile(join(dir, `output-torch-${name}.safetensors`));
    scope(() => {
      const diff = max(
        abs(
          sub(
            noGrad(() => m.forward(xs.get('x')!)),
            ys.get('y')!,
          ),
        ),
      ).item();
      assert.ok(diff < 1e-4, `${name}: nnlock output on PyTorch weights differs by ${diff}`);
    });
    for (const t of [...xs.values(), ...ys.values()]) t.dispose();
    m.dispose();
  }
});

test('leaks no tensors', checkLeaks);
