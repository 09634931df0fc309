// A protected model and its key file change together or not at all: a full disk (injected ENOSPC)
// or a kill at any step of `--force` over an existing pair leaves the old model with its old keys
// (or, once the new model is in place, the new pair), and no temporaries behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { setWriteFaultForTesting } from '../../src/io/atomic.ts';
import { protectModel, readKeyToken, recoverInterruptedWrite, unlockModel } from '../../src/protect/index.ts';
import { fileOf, tinyNet } from './fixtures.ts';

const checkLeaks = trackLeaks();
let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-pair-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function originalFile() {
  const net = tinyNet(3);
  try {
    return fileOf(net);
  } finally {
    net.dispose();
  }
}

/** The old pair is written; returns its paths and bytes. */
async function oldPair(name: string) {
  const model = path.join(dir, `${name}.protected.safetensors`);
  const keys = path.join(dir, 'private', `${name}.keys`);
  fs.mkdirSync(path.dirname(keys), { recursive: true });
  const p = await protectModel(await originalFile(), { ratio: 0.3 });
  await p.write(model, { keys });
  return { model, keys, modelBytes: fs.readFileSync(model), keyBytes: fs.readFileSync(keys) };
}

/** Whether the key file on disk unlocks the model on disk (the pair matches). */
async function pairMatches(model: string, keys: string): Promise<boolean> {
  try {
    await unlockModel(model, await readKeyToken(keys), { tier: 0 });
    return true;
  } catch {
    return false;
  }
}

function leftovers(): string[] {
  return [...fs.readdirSync(dir), ...fs.readdirSync(path.join(dir, 'private'))].filter((n) => n.includes('nnlock-'));
}

test('ENOSPC while writing the new model over an existing pair keeps the old model and its old keys', async () => {
  const old = await oldPair('full');
  const next = await protectModel(await originalFile(), { ratio: 0.3 });
  setWriteFaultForTesting((step, target) => {
    // The model's bytes, wherever they are written first (the model itself or a temporary beside it).
    if (step === 'write' && /^\.?full\.protected\.safetensors(\.nnlock-tmp-.*)?$/.test(path.basename(target))) {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
  });
  try {
    await assert.rejects(next.write(old.model, { keys: old.keys, force: true }), /ENOSPC/);
  } finally {
    setWriteFaultForTesting(null);
  }
  assert.ok(fs.readFileSync(old.keys).equals(old.keyBytes), 'the old key file is still there, unchanged');
  assert.ok(fs.readFileSync(old.model).equals(old.modelBytes), 'the old model is unchanged');
  assert.ok(await pairMatches(old.model, old.keys));
  assert.deepEqual(leftovers(), [], 'no temporary file left');
  // A failure on the last rename (the model's) also puts the old keys back.
  setWriteFaultForTesting((step, target) => {
    if (step === 'rename' && target === old.model) throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
  });
  try {
    await assert.rejects(next.write(old.model, { keys: old.keys, force: true }), /EIO/);
  } finally {
    setWriteFaultForTesting(null);
  }
  assert.ok(fs.readFileSync(old.keys).equals(old.keyBytes));
  assert.ok(await pairMatches(old.model, old.keys));
  assert.deepEqual(leftovers(), []);
});

test('a kill at each step of --force over an existing pair leaves a matching pair after recovery', async () => {
  const api = path.resolve(import.meta.dirname, '../../src/protect/index.ts');
  const atomic = path.resolve(import.meta.dirname, '../../src/io/atomic.ts');
  const fixtures = path.resolve(import.meta.dirname, './fixtures.ts');
  // Killed just before the key file's rename, before the model's rename, and after both.
  for (const [i, killAt] of ['keys', 'model', 'journal'].entries()) {
    const old = await oldPair(`kill${i}`);
    const script = path.join(dir, `kill${i}.mts`);
    fs.writeFileSync(
      script,
      `import { protectModel } from ${JSON.stringify(api)};
import { setWriteFaultForTesting } from ${JSON.stringify(atomic)};
import { fileOf, tinyNet } from ${JSON.stringify(fixtures)};
const net = tinyNet(3);
const p = await protectModel(fileOf(net), { ratio: 0.3 });
const targets = { keys: ${JSON.stringify(old.keys)}, model: ${JSON.stringify(old.model)}, journal: null };
setWriteFaultForTesting((step, target) => {
  const hit = ${JSON.stringify(killAt)} === 'journal' ? step === 'committed' : step === 'rename' && target === targets[${JSON.stringify(killAt)}];
  if (hit) process.kill(process.pid, 'SIGKILL');
});
await p.write(${JSON.stringify(old.model)}, { keys: ${JSON.stringify(old.keys)}, force: true });
console.log('not killed');
`,
    );
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), script], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', `killed at ${killAt}: ${r.stdout}${r.stderr}`);
    if (killAt === 'model') assert.ok(!(await pairMatches(old.model, old.keys)), 'before recovery the old model sits beside the new keys');
    const outcome = await recoverInterruptedWrite(old.model);
    assert.equal(outcome, killAt === 'journal' ? 'completed' : 'rolled-back', killAt);
    assert.ok(await pairMatches(old.model, old.keys), `killed at ${killAt}: the model and its key file match after recovery`);
    if (killAt !== 'journal') assert.ok(fs.readFileSync(old.keys).equals(old.keyBytes), `killed at ${killAt}: the old keys are back`);
    assert.deepEqual(leftovers(), [], `killed at ${killAt}: nothing left behind`);
  }
});

test('leaks no tensors', checkLeaks);
