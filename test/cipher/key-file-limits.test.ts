// Hostile cipher key files: every field is validated before any derivation work, and every
// rejection loop of the derivation is bounded, so a small file cannot make nnlock spin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CipherKeyError, deriveKey, maxAttempts, minMaxCondition } from '../../src/cipher/key.ts';
import { loadKey, parseKey, serializeKey } from '../../src/cipher/key-file.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nnlock-keyfile-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const secret = 'ab'.repeat(32);
const fingerprint = 'cd'.repeat(32);
const head = { format: 'nnlock-cipher-key', version: 1, kind: 'uniform', k: 4, channels: 3, shuffle: false, maxCondition: 500, secret, fingerprint };

// No timings here (a loaded CI machine makes them flaky): each test shows the bound by what it
// refuses with. The validation message names the field, so no derivation ran; the derivation's
// message names its attempt cap, so its loop is bounded.

test('a 300-byte key file with k: 16 and maxCondition: 1.01 is refused by validation, before any derivation', async () => {
  const text = JSON.stringify({ ...head, k: 16, maxCondition: 1.01 });
  assert.ok(text.length < 320);
  const p = path.join(dir, 'spin.json');
  fs.writeFileSync(p, text);
  await assert.rejects(loadKey(p), (e: Error) => {
    assert.ok(e instanceof CipherKeyError);
    assert.match(e.message, /corrupt key file .*spin\.json: "maxCondition" 1\.01 is below 128/);
    return true;
  });
  // The same for orthogonal keys (condition 1 only up to rounding) and for keygen itself.
  assert.throws(() => parseKey(JSON.stringify({ ...head, kind: 'orthogonal', k: 16, maxCondition: 1 })), /"maxCondition" 1 is below 1\.000001/);
  assert.throws(() => deriveKey(new Uint8Array(32), { kind: 'uniform', k: 16, maxCondition: 1.01 }), /maxCondition 1\.01 is below 128 for a uniform key with k=16/);
  assert.equal(minMaxCondition('hill256', 16), 1);
});

test('every field is validated before any work', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ k: 17 }, /"k" must be an integer in 1\.\.16/],
    [{ k: 0 }, /"k" must be an integer/],
    [{ k: 2.5 }, /"k" must be an integer/],
    [{ channels: 0 }, /"channels" must be an integer in 1\.\.16/],
    [{ channels: 1e9 }, /"channels" must be an integer in 1\.\.16/],
    [{ maxCondition: '500' }, /"maxCondition" must be a number/],
    [{ maxCondition: 0.5 }, /"maxCondition" must be a number ≥ 1/],
    [{ maxCondition: Number.POSITIVE_INFINITY }, /"maxCondition" must be at most 1000000000000000 to derive/], // JSON's 1e400 is Infinity
    [{ kind: 'rot13' }, /unknown key kind 'rot13'/],
    [{ secret: 'zz' }, /"secret" must be 64 hex digits/],
    [{ secret: undefined, matrices: [[1, 2, 3]] }, /1 matrices for 3 channels/],
    [{ secret: undefined, channels: 1, matrices: [[1, 2, 3]] }, /"matrices"\[0\] must be 256 finite numbers/],
    [{ secret: undefined, channels: 1, shuffle: true, matrices: [Array(256).fill(0)] }, /"shuffleKey" is not 64 hex digits/],
  ];
  for (const [change, message] of bad) {
    const text = JSON.stringify({ ...head, ...change }).replace('"maxCondition":null', '"maxCondition":1e400');
    assert.throws(
      () => parseKey(text, 'k.json'),
      (e: Error) => e instanceof CipherKeyError && message.test(e.message) && e.message.startsWith('corrupt key file k.json'),
      JSON.stringify(change),
    );
  }
  // A genuine key still loads (the validation does not refuse what keygen writes).
  const key = deriveKey(new Uint8Array(32).fill(7), { kind: 'hill256', k: 4, channels: 3, shuffle: true });
  assert.equal(parseKey(serializeKey(key)).fingerprint, key.fingerprint);
  assert.equal(parseKey(serializeKey(key, 'matrices')).fingerprint, key.fingerprint);
});

test('every rejection loop is bounded: a hopeless derivation stops at its attempt cap with a clear error', () => {
  assert.ok(maxAttempts('uniform', 16) <= 64 && maxAttempts('hill256', 16) <= 64);
  // Just above the floor: accepted keys of this size practically never exist; the cheap lower bound
  // and the attempt cap end it (before: 1000 full SVDs, 12 minutes).
  assert.throws(() => deriveKey(new Uint8Array(32), { kind: 'uniform', k: 8, channels: 3, maxCondition: 32 }), /no usable uniform matrix for channel 0 in 250 attempts .*raise maxCondition/);
});

// Its speed (about 48 s before the parity test, seconds now) is bench material; here: it derives.
test('a hill256 k=16 key derives (even determinants are found by parity, not BigInt)', () => {
  const key = deriveKey(
    new Uint8Array(32).map((_, i) => i),
    { kind: 'hill256', k: 16, channels: 1 },
  );
  assert.equal(key.matrices[0].length, 256 * 256);
});

test('a key file that is a FIFO, a folder or a token is refused without reading or echoing it', async (t) => {
  await assert.rejects(loadKey(dir), /key file .* is a folder, not a regular file/);
  const token = `nnlock1-t2-${'x'.repeat(43)}`;
  await assert.rejects(loadKey(token), (e: Error) => !e.message.includes(token) && /key token or secret/.test(e.message));
  const fifo = path.join(dir, 'key.fifo');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch {
    return t.skip('mkfifo is not available');
  }
  await assert.rejects(loadKey(fifo), /is a FIFO \(named pipe\), not a regular file/);
});

test('leaks no tensors', checkLeaks);
