// The cipher commands, run in-process on synthetic files. The program is built here from the
// cipher register function only (with main()'s error handling), so this file does not depend on
// the other commands that src/cli/main.ts registers. (The er commands: test/er/cli.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerCipher } from '../../src/cli/commands/cipher.ts';
import { buildErModel, saveErModel } from '../../src/er/model-file.ts';
import { writeCifar10 } from '../../src/io/cifar.ts';
import { loadKey } from '../../src/cipher/key-file.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir = '';
const p = (name: string) => path.join(dir, name);
const N = 40;
const images = new Uint8Array(N * 3072).map((_, i) => ((i % 3072) * 7 + Math.floor(i / 3072) * 31 + ((i * 2654435761) >>> 24)) % 256);
const labels = Array.from({ length: N }, (_, i) => i % 10);

/** What src/cli/main.ts main() does, for a program with the cipher commands only. */
async function main(argv: string[]): Promise<number> {
  const program = new Command('nnlock').exitOverride();
  registerCipher(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    process.stderr.write(`nnlock: ${(e as Error).message}\n`);
    return 1;
  }
}

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

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-cipher-cli-'));
  await writeCifar10(p('plain.bin'), images, labels);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('keygen writes a 0600 key file from a secret file, refuses to overwrite, and reports bad input', async () => {
  fs.writeFileSync(p('secret.hex'), `${'ab'.repeat(32)}\n`);
  let r = await run('cipher', 'keygen', '--kind', 'hill256', '-k', '4', '--shuffle', '--secret-file', p('secret.hex'), '-o', p('h.json'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /wrote .*h\.json \(mode 0600\): hill256 key, k=4/);
  assert.ok(!r.out.includes('ab'.repeat(32)), 'the secret is not printed');
  assert.equal(fs.statSync(p('h.json')).mode & 0o777, 0o600);
  const again = await run('cipher', 'keygen', '--kind', 'hill256', '--secret-file', p('secret.hex'), '-o', p('h2.json'));
  assert.equal(again.code, 0);
  assert.equal((await loadKey(p('h2.json'))).matrices[0].join(), (await loadKey(p('h.json'))).matrices[0].join(), 'same secret, same key');
  r = await run('cipher', 'keygen', '--kind', 'hill256', '-o', p('h.json'));
  assert.equal(r.code, 1);
  assert.match(r.err, /exists; pass --force/);
  r = await run('cipher', 'keygen', '--kind', 'affine', '-o', p('x.json'));
  assert.match(r.err, /unknown key kind 'affine'/);
  r = await run('cipher', 'keygen', '--kind', 'uniform', '-k', '0', '-o', p('x.json'));
  assert.match(r.err, /--block must be an integer ≥ 1/);
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
  fs.writeFileSync(p('bad.json'), fs.readFileSync(p('o.json'), 'utf8').replace(/"secret": "(.)/, (_m, c: string) => `"secret": "${c === 'a' ? 'b' : 'a'}`));
  r = await run('cipher', 'encrypt', '-K', p('bad.json'), p('plain.bin'), '-o', p('x.safetensors'));
  assert.equal(r.code, 1);
  assert.match(r.err, /corrupt key file .*bad\.json: fingerprint mismatch/);
  r = await run('cipher', 'encrypt', '-K', p('o.json'), p('missing.bin'), '-o', p('x.safetensors'));
  assert.match(r.err, /missing\.bin: no such file/);
});

test('known-plaintext attack from files recovers a working key without the key', async () => {
  const r = await run('cipher', 'attack', 'known-plaintext', '--plain', p('plain.bin'), '--cipher', p('enc.safetensors'), '--kind', 'orthogonal',
    '-k', '4', '--images', '1', '--true-key', p('o.json'), '--out-key', p('rec.json'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /the true key was recovered/);
  const rec = await loadKey(p('rec.json'));
  assert.equal(rec.secret, null);
  assert.equal(fs.statSync(p('rec.json')).mode & 0o777, 0o600);
  const d = await run('cipher', 'decrypt', '-K', p('rec.json'), p('enc.safetensors'), '-o', p('dec3.bin'));
  // The recovered key is another key object (no secret): the file's key id differs, so it is refused...
  assert.equal(d.code, 1);
  assert.match(d.err, /not with this key/);
  const a = await run('cipher', 'attack', 'assess', '-K', p('h.json'), '--plain', p('plain.bin'), '--images', '8', '-o', p('assess'));
  assert.equal(a.code, 0, a.err);
  assert.ok(fs.existsSync(p('assess.json')) && fs.existsSync(p('assess.md')));
  assert.match(a.out, /Shuffled positions: 20 known images, key recovered: yes/);
});

test('cipher attack statistical runs from files (JSON, grid) and refuses hill256', async () => {
  // 40 random images: too few and too unnatural for a good recovery (the unit test measures that); here: the plumbing.
  let r = await run('cipher', 'attack', 'statistical', '--cipher', p('enc.safetensors'), '--prior', p('plain.bin'), '--plain', p('plain.bin'), '--grid', p('stat.png'), '--json');
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out);
  assert.equal(res.cipherImages, N);
  assert.equal(res.priorImages, N);
  assert.ok(Number.isFinite(res.recovered.psnr) && res.recovered.images === N);
  assert.ok(fs.existsSync(p('stat.png')));
  r = await run('cipher', 'attack', 'statistical', '--cipher', p('enc.bin'), '--prior', p('plain.bin'));
  assert.equal(r.code, 1);
  assert.match(r.err, /hill256 ciphertext \(mod 256\) does not transform its statistics linearly/);
});

test('attack learned scores a model file from `nnlock er train`', async () => {
  const key = await loadKey(p('o.json'));
  const spec = { architecture: 'vgg11-bn-w0.125', adaptation: 'aligned' as const, k: 4, channels: 3, numClasses: 10, init: 'identity' as const };
  const model = buildErModel(spec);
  await saveErModel(p('er.safetensors'), model, spec, key).finally(() => model.dispose());
  const r = await run('cipher', 'attack', 'learned', '-m', p('er.safetensors'), '-K', p('o.json'), '-d', p('plain.bin'), '--images', '20', '-o', p('learned'));
  assert.equal(r.code, 0, r.err);
  assert.match(fs.readFileSync(p('learned.md'), 'utf8'), /per-channel affine fit \(oracle\)/);
});

test('--help is there for every command', async () => {
  for (const cmd of [['cipher', 'keygen'], ['cipher', 'encrypt'], ['cipher', 'decrypt'], ['cipher', 'attack', 'assess'], ['cipher', 'attack', 'known-plaintext'], ['cipher', 'attack', 'statistical'],
    ['cipher', 'attack', 'learned']]) {
    let text = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string | Uint8Array) => { text += String(s); return true; }) as typeof process.stdout.write;
    try {
      await main(['node', 'nnlock', ...cmd, '--help']);
    } finally {
      process.stdout.write = write;
    }
    assert.match(text, new RegExp(`Usage: nnlock ${cmd.join(' ')}`), cmd.join(' '));
  }
});

test('leaks no tensors', checkLeaks);
