// Cipher outputs are never destroyed silently: concurrent keygens without --force cannot both write
// the key file; an output that is an input, or two inputs mapped to one output, are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createKeyFile } from '../../src/cipher/key-file.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { encryptFiles } from '../../src/cipher/files.ts';
import { knownPlaintextAttackOnFiles } from '../../src/attacks/known-plaintext-files.ts';
import { writePng } from '../../src/io/image.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-noclobber-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('two concurrent keygens without --force: exactly one writes the key file', async () => {
  const p = path.join(dir, 'key.json');
  const runs = await Promise.allSettled([createKeyFile(p, { kind: 'hill256', k: 4 }), createKeyFile(p, { kind: 'hill256', k: 4 })]);
  const won = runs.filter((r) => r.status === 'fulfilled');
  const lost = runs.filter((r) => r.status === 'rejected');
  assert.equal(won.length, 1, 'exactly one keygen succeeds');
  assert.match(lost[0].reason.message, /key\.json exists; pass --force/);
  // The file holds the winner's key.
  const winner = won[0].value;
  assert.ok(fs.readFileSync(p, 'utf8').includes(winner.fingerprint));
  // With --force it is replaced.
  await createKeyFile(p, { kind: 'hill256', k: 4, force: true });
});

test('encrypt: an output that is an input needs --force; two inputs to one output are refused', async () => {
  const key = deriveKey(new Uint8Array(32).fill(3), { kind: 'hill256', k: 4, channels: 1 });
  fs.mkdirSync(path.join(dir, 'a'));
  fs.mkdirSync(path.join(dir, 'b'));
  const x = path.join(dir, 'a', 'x.png');
  const y = path.join(dir, 'b', 'x.png');
  await writePng(x, new Uint8Array(64).fill(5), 1, 8, 8);
  await writePng(y, new Uint8Array(64).fill(9), 1, 8, 8);
  const before = fs.readFileSync(x);
  await assert.rejects(encryptFiles([x], x, key), /x\.png is also an input: writing it would replace it; pass --force/);
  // a/x.png and b/x.png would both become out/x.png: the second would overwrite the first.
  await assert.rejects(encryptFiles([x, y], path.join(dir, 'out'), key), /would both be written to .*out\/x\.png/);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'out')), [], 'nothing written');
  // Into the inputs' own folder: the outputs are the inputs.
  const w = path.join(dir, 'a', 'w.png');
  await writePng(w, new Uint8Array(64).fill(7), 1, 8, 8);
  await assert.rejects(encryptFiles([x, w], path.join(dir, 'a'), key), /is also an input/);
  assert.ok(fs.readFileSync(x).equals(before));
  await encryptFiles([x], x, key, { force: true }); // asked for: replaced in place
  assert.ok(!fs.readFileSync(x).equals(before));
});

test('cipher encrypt from the CLI: a failed image leaves no empty claimed output behind', async () => {
  const keyFile = path.join(dir, 'k1.json');
  await createKeyFile(keyFile, { kind: 'hill256', k: 4, channels: 1 });
  const good = path.join(dir, 'g.png');
  await writePng(good, new Uint8Array(64).fill(1), 1, 8, 8);
  const bad = path.join(dir, 'bad.png');
  fs.writeFileSync(bad, 'not a png');
  const out = path.join(dir, 'enc');
  const r = await runCli(['cipher', 'encrypt', '-K', keyFile, good, bad, '-o', out]);
  assert.equal(r.code, 1);
  assert.match(r.err, /bad\.png: not a readable image/);
  assert.deepEqual(fs.readdirSync(out), ['g.png'], 'the finished output stays, the failed one leaves nothing');
});

test('attack known-plaintext --out-key: a key file that appears during the attack is not replaced', async () => {
  const key = deriveKey(new Uint8Array(32).fill(4), { kind: 'hill256', k: 4, channels: 1 });
  const plain = path.join(dir, 'kp-plain.png');
  let s = 7;
  const pixels = Uint8Array.from({ length: 32 * 32 }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 24;
  });
  await writePng(plain, pixels, 1, 32, 32);
  const cipher = path.join(dir, 'kp-cipher.png');
  await encryptFiles([plain], cipher, key);
  const outKey = path.join(dir, 'kp-recovered.json');
  const o = { plain, cipher, kind: 'hill256' as const, k: 4, trueKey: key, outKey };
  // The out-key check passes (no file yet); the file is created while the attack runs.
  const attack = knownPlaintextAttackOnFiles(o);
  fs.writeFileSync(outKey, 'the user’s own file');
  await assert.rejects(attack, /kp-recovered\.json exists; pass --force/);
  assert.equal(fs.readFileSync(outKey, 'utf8'), 'the user’s own file');
  // With force it is replaced, by the recovered key.
  const r = await knownPlaintextAttackOnFiles({ ...o, force: true });
  assert.equal(r.recovered, true);
  assert.equal(r.keyFile, outKey);
  assert.notEqual(fs.readFileSync(outKey, 'utf8'), 'the user’s own file');
});

test('leaks no tensors', checkLeaks);
