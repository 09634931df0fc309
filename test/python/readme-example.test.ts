// The README's PyTorch example (the ```python block after `<!-- python-example: tier -->`) runs as
// written: in a fresh folder holding what it names (a protected resnet20, a key file with only the
// tier-1 line, and `my_models.py` giving the PyTorch twin of nnlock's resnet20), with
// PYTHONPATH=python as the README says. It must exit 0 and print nothing (no token, no warning).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, noGrad } from '../../src/tensor/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import { entriesFromTensors } from '../../src/io/tensor-file.ts';
import { protectModel } from '../../src/protect/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const repo = join(import.meta.dirname, '..', '..');
const python = process.env.NNLOCK_TORCH_PYTHON ?? '/usr/bin/python3';

function pythonExample(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const m = /<!--\s*python-example:\s*tier\s*-->\s*\n```python\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(m, 'README.md has no ```python block after <!-- python-example: tier -->');
  return m[1];
}

test("the README's PyTorch example loads tier 1 and prints nothing", async () => {
  const code = pythonExample();
  assert.ok(code.split('\n').length <= 5, `the example has ${code.split('\n').length} lines: the issue asks for five`);
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-python-example-'));
  manualSeed(20);
  const model = modelSpec('resnet20').create();
  const file = { tensors: noGrad(() => entriesFromTensors(model.stateDict())), metadata: { architecture: 'resnet20' } };
  model.dispose();
  const p = await protectModel(file, { tiers: 3 });
  await p.write(join(dir, 'r20.protected.safetensors'), { keys: join(dir, 'r20.keys') });
  writeFileSync(join(dir, 't1.keys'), `tier 1: ${p.tokens[0]}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'my_models.py'), `import sys\nsys.path.insert(0, ${JSON.stringify(join(repo, 'test', 'interop'))})\nfrom torch_models import ResNetCifar as resnet20\n`);
  // The example, then a check that it did load tier 1 (its last kernels still hold decoys).
  const check = [
    '',
    'import torch',
    'top = nnlock_torch.load_protected("r20.protected.safetensors", nnlock_torch.read_key_file("r20.keys"))',
    'mine = model.state_dict()',
    'assert any(not torch.equal(mine[n], top[n]) for n in top), "tier 1 equals the top tier"',
    'try:',
    '    nnlock_torch.load_protected("r20.protected.safetensors", nnlock_torch.read_key_file("t1.keys"), tier=2)',
    '    raise SystemExit("a tier-1 key unlocked tier 2")',
    'except nnlock_torch.TierTooHighError:',
    '    pass',
  ].join('\n');
  const r = spawnSync(python, ['-c', code + check], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONPATH: `${join(repo, 'python')}:${dir}`, PYTHONDONTWRITEBYTECODE: '1' } });
  assert.equal(r.status, 0, `the README example failed:\n${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, '');
});

test('leaks no tensors', checkLeaks);
