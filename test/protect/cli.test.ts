// The protection commands, run in-process through the CLI's main() on a tiny model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { buildProgram, main } from '../../src/cli/main.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { fileOf, sameBytes, tinyNet } from './fixtures.ts';

const checkLeaks = trackLeaks();
let dir = '';
let modelPath = '';

/**
 * Runs `nnlock ...args`, capturing console.log (what the commands print) and stderr (errors).
 * stdout itself is left alone: the test runner reports through it.
 */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = console.log;
  const errWrite = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => { out += `${a.join(' ')}\n`; };
  process.stderr.write = ((s: string | Uint8Array) => { err += String(s); return true; }) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'nnlock', ...args]);
    return { code, out, err };
  } finally {
    console.log = log;
    process.stderr.write = errWrite;
  }
}

const p = (name: string) => path.join(dir, name);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-cli-'));
  modelPath = p('tiny.safetensors');
  const model = tinyNet(3);
  const file = fileOf(model, { note: 'tiny' });
  model.dispose();
  await writeSafetensors(modelPath, file.tensors, file.metadata);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('every protection command has --help', () => {
  const program = buildProgram();
  for (const cmd of ['importance', 'protect', 'unlock', 'keys', 'protect-info']) {
    const c = program.commands.find((x) => x.name() === cmd);
    assert.ok(c, cmd);
    assert.match(c.helpInformation(), new RegExp(`Usage: nnlock ${cmd} \\[options\\] <`));
  }
});

test('protect → key file (0600) → unlock bit-identical → keys for a lower tier', async () => {
  const r = await run('protect', modelPath, '-r', '0.2', '-t', '3', '-o', p('prot.safetensors'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /protected \d+ of 152 kernels in 2 conv layers/);
  assert.match(r.out, /tier 3: restores/);
  assert.doesNotMatch(r.out, /nnlock1-/); // keys never printed by protect
  const keyFile = p('prot.safetensors.keys');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(keyFile, 'utf8').match(/nnlock1-t\d-/g)!.length, 3);

  const again = await run('protect', modelPath, '-r', '0.2', '-o', p('prot.safetensors'));
  assert.equal(again.code, 1);
  assert.match(again.err, /exists \(use --force/);

  const dry = await run('unlock', p('prot.safetensors'), '-k', keyFile);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /key accepted \(tier 3 of 3\)/);
  assert.match(dry.out, /nothing written/);

  const u = await run('unlock', p('prot.safetensors'), '-k', keyFile, '-o', p('unlocked.safetensors'));
  assert.equal(u.code, 0, u.err);
  const [orig, back] = await Promise.all([readSafetensors(modelPath), readSafetensors(p('unlocked.safetensors'))]);
  for (const [name, e] of orig.tensors) assert.ok(sameBytes(back.tensors.get(name)!.data, e.data), name);
  assert.deepEqual(back.metadata, orig.metadata);

  const k = await run('keys', p('prot.safetensors'), '-k', keyFile, '-t', '1', '-o', p('user.keys'));
  assert.equal(k.code, 0, k.err);
  assert.equal(fs.statSync(p('user.keys')).mode & 0o777, 0o600);
  const low = await run('unlock', p('prot.safetensors'), '-k', p('user.keys'));
  assert.match(low.out, /key accepted \(tier 1 of 3\)/);
  const high = await run('unlock', p('prot.safetensors'), '-k', p('user.keys'), '-t', '2', '-o', p('nope.safetensors'));
  assert.equal(high.code, 1);
  assert.match(high.err, /tier-1 key cannot unlock tier 2/);
  assert.ok(!fs.existsSync(p('nope.safetensors')));
  const printed = await run('keys', p('prot.safetensors'), '-k', keyFile);
  assert.equal(printed.out.match(/^tier \d: nnlock1-t\d-/gm)!.length, 3);

  const info = await run('protect-info', p('prot.safetensors'));
  assert.match(info.out, /tiers: 3/);
  assert.match(info.out, /conv1.weight \[8×3×3×3\]/);
});

test('clear errors: wrong key, malformed token, missing files, wrong architecture, missing data', async () => {
  await run('protect', modelPath, '-o', p('e.safetensors'), '--force');
  const wrong = await run('unlock', p('e.safetensors'), '-k', p('prot.safetensors.keys'), '-o', p('e-out.safetensors'));
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /wrong key/);
  assert.ok(!fs.existsSync(p('e-out.safetensors')));
  const bad = await run('unlock', p('e.safetensors'), '--key', 'nnlock1-t1-tooshort-00000000');
  assert.match(bad.err, /malformed key token/);
  assert.match((await run('unlock', p('e.safetensors'))).err, /no key given/);
  assert.match((await run('unlock', p('missing.safetensors'), '--key', 'x')).err, /missing.safetensors: no such file/);
  assert.match((await run('unlock', p('e.safetensors'), '-k', p('missing.keys'))).err, /cannot read key file .*no such file/);
  assert.match((await run('unlock', modelPath, '-k', p('e.safetensors.keys'))).err, /not a protected model/);
  assert.match((await run('protect', p('e.safetensors'), '-o', p('ee.safetensors'))).err, /already protected/);
  assert.match((await run('protect', modelPath, '-a', 'resnet20', '-o', p('x.safetensors'))).err, /is not a resnet20 model: missing keys/);
  assert.match((await run('protect', modelPath, '-a', 'resnet7', '-o', p('x.safetensors'))).err, /unknown architecture 'resnet7'/);
  assert.match((await run('protect', modelPath, '-r', '1.5', '-o', p('x.safetensors'))).err, /--ratio must be a number in \[0, 1\)/);
  assert.match((await run('protect', modelPath, '--layers', 'head', '-o', p('x.safetensors'))).err, /cannot protect layer 'head'/);
  assert.match((await run('protect', modelPath, '-s', 'pss', '-o', p('x.safetensors'))).err, /does not say its architecture/);
  assert.match((await run('importance', modelPath, '-s', 'pss', '-o', p('x.safetensors'))).err, /does not say its architecture/);
  assert.match((await run('importance', modelPath, '-s', 'bogus', '-o', p('x.safetensors'))).err, /unknown importance strategy 'bogus'/);
  assert.ok(!fs.existsSync(p('x.safetensors')));
});

test('importance file → protect --importance', async () => {
  const i = await run('importance', modelPath, '-s', 'magnitude', '-o', p('imp.safetensors'));
  assert.equal(i.code, 0, i.err);
  assert.match(i.out, /magnitude importance of 2 conv layers \(152 kernels\)/);
  const r = await run('protect', modelPath, '-i', p('imp.safetensors'), '-r', '0.1', '-t', '2', '--fractions', '0.5,1', '-o', p('i.safetensors'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /importance magnitude \(from/);
  assert.match(r.out, /tier 1: restores \d+ kernels \(fraction 0.5000\)/);
  // An importance file of some layers protects those layers.
  await run('importance', modelPath, '-s', 'l1', '--layers', 'conv2', '-o', p('imp2.safetensors'));
  const only = await run('protect', modelPath, '-i', p('imp2.safetensors'), '-t', '2', '-o', p('i2.safetensors'));
  assert.equal(only.code, 0, only.err);
  assert.match(only.out, /in 1 conv layer \(/);
  assert.match((await run('protect-info', p('i2.safetensors'))).out, /protected conv layers \(1\): conv2.weight/);
  // An importance file of other weights is refused.
  const other = tinyNet(4);
  const f = fileOf(other);
  other.dispose();
  await writeSafetensors(p('other.safetensors'), f.tensors, f.metadata);
  const mismatch = await run('protect', p('other.safetensors'), '-i', p('imp.safetensors'), '-o', p('o.safetensors'));
  assert.match(mismatch.err, /computed on other weights/);
});

test('leaks no tensors', checkLeaks);
