// `nnlock serve` as scripts run it: the simplest form, exactly as the issue writes it, in a real
// process (`bin/nnlock.js serve --model NAME=FILE --keys KEYFILE --port P`), answering a tier
// token's request over HTTP and stopping cleanly on SIGTERM; and `nnlock serve hash-key`.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { runCli } from '../helpers/cli.ts';
import { type Fixtures, makeFixtures, offlineClassify, randomPng } from './fixtures.ts';

const checkLeaks = trackLeaks();
let f: Fixtures;
const BIN = new URL('../../bin/nnlock.js', import.meta.url).pathname;

before(async () => {
  f = await makeFixtures();
});

/** Starts `nnlock serve ARGS --port 0 --json` and resolves with its address once it listens. */
function startServe(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', '0', '--json', '--log', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NNLOCK_THREADS: '1' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = new Promise<{ address: string; models: { name: string; tiers: number[] }[] }>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      try {
        resolve(JSON.parse(out));
      } catch {
        // not all of the JSON yet
      }
    });
    exited.then((code) => reject(new Error(`nnlock serve exited (${code}) before listening: ${err}`)));
  });
  return { child, listening, exited, stderr: () => err };
}

test('nnlock serve --model NAME=FILE --keys KEYFILE --port P serves every tier of the key file', { timeout: 120_000 }, async () => {
  const s = startServe(['--model', `resnet=${f.classifier}`, '--keys', f.classifierKeys]);
  try {
    const { address, models } = await s.listening;
    assert.deepEqual(models, [{ name: 'resnet', kind: 'classifier', tiers: [0, 1, 2, 3] }]);
    const list = (await (await fetch(`${address}/v1/models`)).json()) as { models: { name: string; tiers: number[] }[] };
    assert.deepEqual(list.models[0].tiers, [0, 1, 2, 3]);
    const img = await randomPng(5);
    const r = await fetch(`${address}/v1/models/resnet/classify`, {
      method: 'POST',
      headers: { 'content-type': 'image/png', authorization: `Bearer ${f.classifierTokens[1]}` },
      body: img.png,
    });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { tier: number; top: { class: string; index: number; probability: number }[] };
    assert.equal(body.tier, 2);
    const [expected] = await offlineClassify(f.classifier, f.classifierTokens, 2, [img.chw]);
    for (const t of body.top) assert.ok(Math.abs(t.probability - expected[t.index]) < 1e-5);
    assert.equal(typeof body.top[0].class, 'string');
  } finally {
    s.child.kill('SIGTERM');
  }
  assert.equal(await s.exited, 0, `nnlock serve stops cleanly on SIGTERM: ${s.stderr()}`);
});

test('nnlock serve --config FILE: a bad config is a clear failure, no server', async () => {
  const config = join(f.dir, 'bad.json');
  writeFileSync(config, JSON.stringify({ models: [{ name: 'resnet', weights: f.classifier }], apiKeys: [{ name: 'x', sha256: 'plaintext-key', tier: 1 }] }));
  const r = await runCli(['serve', '--config', config]);
  assert.equal(r.code, 1);
  assert.match(r.err, /sha256.*64 hex digits/);
  const none = await runCli(['serve', '--port', '0']);
  assert.equal(none.code, 2, 'nothing to serve is a usage error');
});

test('nnlock serve hash-key: a new key and its SHA-256, or the hash of a given key', async () => {
  const made = await runCli(['serve', 'hash-key', '--json']);
  assert.equal(made.code, 0, made.err);
  const { key, sha256 } = JSON.parse(made.out);
  assert.match(key, /^nnk_[A-Za-z0-9_-]{43}$/);
  assert.equal(sha256, createHash('sha256').update(key).digest('hex'));
  const given = await runCli(['serve', 'hash-key', 'my-key']);
  assert.equal(given.code, 0);
  assert.match(given.out, new RegExp(createHash('sha256').update('my-key').digest('hex')));
});

test('leaks no tensors', checkLeaks);
