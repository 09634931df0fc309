// `nnlock client` against a stand-in server that records what it receives (the real server's
// tests are in service.test.ts): with -K only the ciphertext is sent, bit-identical to src/cipher
// for hill256; every 4xx is one clear line (exit 1) and never shows the credential; command-line
// mistakes exit 2; denoise writes its PNG and never overwrites without --force.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { scope, tensor } from '../../src/tensor/index.ts';
import { div } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { serializeKey } from '../../src/cipher/key-file.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptPixels } from '../../src/cipher/data.ts';
import { writePng } from '../../src/io/image.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-client-'));
const TOKEN = 'nnlock1-tier2-0123456789abcdef';
const secret = new Uint8Array(32).map((_, i) => (i * 53 + 7) % 256);
const hill = deriveKey(secret, { kind: 'hill256', k: 4, shuffle: true });
const ortho = deriveKey(secret, { kind: 'orthogonal', k: 4 });
const hillFile = join(dir, 'hill.json');
const orthoFile = join(dir, 'ortho.json');
writeFileSync(hillFile, serializeKey(hill));
writeFileSync(orthoFile, serializeKey(ortho));
const image = Uint8Array.from({ length: 3 * 32 * 32 }, (_, i) => (i * 97 + (i >> 5) * 13) % 256);
const imagePath = join(dir, 'photo.png');

interface Received {
  url: string;
  auth: string | undefined;
  type: string | undefined;
  body: Buffer;
}
const received: Received[] = [];
let app: FastifyInstance;
let server: string;

const MODELS = [
  { name: 'er', kind: 'encrypted-classifier', tiers: [0], input: { channels: 3, height: 32, width: 32 }, classes: ['a', 'b'], cipher: { kind: 'hill256', block: 4, channels: 3 } },
  { name: 'er-real', kind: 'encrypted-classifier', tiers: [0], input: { channels: 3, height: 32, width: 32 }, classes: ['a', 'b'], cipher: { kind: 'orthogonal', block: 4, channels: 3 } },
  { name: 'clf', kind: 'classifier', tiers: [0, 1, 2], input: { channels: 3, height: 16, width: 16 }, classes: ['a', 'b'], cipher: null },
  { name: 'dn', kind: 'denoiser', tiers: [0, 1], input: { channels: 1, height: null, width: null }, classes: null, cipher: null },
];

before(async () => {
  await writePng(imagePath, image, 3, 32, 32);
  app = Fastify({ bodyLimit: 10 * 2 ** 20 });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addHook('preHandler', async (req) => {
    received.push({ url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body: Buffer.isBuffer(req.body) ? req.body : Buffer.from(JSON.stringify(req.body ?? '')) });
  });
  app.get('/v1/models', async () => ({ models: MODELS }));
  app.post('/v1/models/:name/classify', async (req, reply) => {
    const auth = req.headers.authorization;
    // A careless server that echoes the credential: the client must not print it.
    if (auth === 'Bearer wrong-key') return reply.code(401).send({ error: { code: 'unauthorized', message: `unknown key ${auth.slice(7)}` } });
    if ((req.query as { tier?: string }).tier === '9') return reply.code(403).send({ error: { code: 'forbidden-tier', message: 'tier 9 is above what this key unlocks (2)' } });
    const body = req.body as { images?: string[]; tensor?: { shape: number[] } };
    const n = body.images?.length ?? body.tensor?.shape[0] ?? 1;
    return { model: (req.params as { name: string }).name, tier: auth ? 2 : 0, results: Array.from({ length: n }, () => ({ top: [{ class: 'b', index: 1, probability: 0.75 }] })) };
  });
  app.post('/v1/models/:name/denoise', async (_req, reply) => reply.type('image/png').header('x-tier', '1').header('x-psnr', '29.5').send(readFileSync(imagePath)));
  await app.listen({ host: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

after(() => app?.close());

const last = () => received[received.length - 1];

test('client models --json lists what the server says', async () => {
  const r = await runCli(['client', 'models', '--server', server, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual((JSON.parse(r.out) as { models: unknown[] }).models, MODELS);
  const text = await runCli(['client', 'models', '--server', server]);
  assert.match(text.out, /er\s+encrypted-classifier\s+tiers 0 .*hill256 ciphertext k=4/);
});

test('classify -K (hill256): only the ciphertext PNG is sent, bit for bit src/cipher', async () => {
  const r = await runCli(['client', 'classify', '--server', server, '--model', 'er', '-K', hillFile, imagePath, imagePath, '--json']);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { tier: number; encrypted: { kind: string; keyId: string }; results: { image: string }[] };
  assert.equal(out.encrypted.kind, 'hill256');
  assert.equal(out.results.length, 2);
  const req = last();
  assert.equal(req.auth, undefined);
  const body = JSON.parse(req.body.toString()) as { images: string[] };
  assert.equal(body.images.length, 2);
  const want = scope(() => {
    const c = new BlockCipher(hill);
    const y = c.encrypt(tensor(image, [1, 3, 32, 32])).toTypedArray() as Uint8Array;
    c.dispose();
    return y;
  });
  for (const b64 of body.images) {
    const { data, info } = await sharp(Buffer.from(b64, 'base64')).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 3);
    const chw = new Uint8Array(3 * 32 * 32);
    for (let i = 0; i < 1024; i++) for (let c = 0; c < 3; c++) chw[c * 1024 + i] = data[i * 3 + c];
    assert.deepEqual(chw, want);
    assert.notDeepEqual(chw, image);
  }
  const sent = req.body.toString();
  assert.ok(!sent.includes(Buffer.from(secret).toString('hex')), 'the secret was sent');
  assert.ok(!sent.includes(Buffer.from(readFileSync(imagePath)).toString('base64')), 'the plaintext PNG was sent');
});

test('classify -K (orthogonal): one float32 tensor of src/cipher ciphertext', async () => {
  const r = await runCli(['client', 'classify', '--server', server, '--model', 'er-real', '-K', orthoFile, imagePath, '--json']);
  assert.equal(r.code, 0, r.err);
  const body = JSON.parse(last().body.toString()) as { tensor: { shape: number[]; dtype: string; data: string } };
  assert.deepEqual(body.tensor.shape, [1, 3, 32, 32]);
  assert.equal(body.tensor.dtype, 'float32');
  const got = new Float32Array(new Uint8Array(Buffer.from(body.tensor.data, 'base64')).buffer);
  const want = scope(() => {
    const c = new BlockCipher(ortho);
    const y = encryptPixels(div(toDtype(tensor(image, [1, 3, 32, 32]), 'float32'), 255), c).toTypedArray() as Float32Array;
    c.dispose();
    return y;
  });
  assert.deepEqual(got, want);
});

test('classify a plain classifier: images resized to its input, the token in the header only', async () => {
  const r = await runCli(['client', 'classify', '--server', server, '--model', 'clf', '--token', TOKEN, '--top', '3', imagePath]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /clf at tier 2:\n {2}.*photo\.png: b 75\.0%/);
  assert.ok(!r.out.includes(TOKEN) && !r.err.includes(TOKEN));
  const req = last();
  assert.equal(req.auth, `Bearer ${TOKEN}`);
  assert.match(req.url, /\?top=3$/);
  const png = Buffer.from((JSON.parse(req.body.toString()) as { images: string[] }).images[0], 'base64');
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height], [16, 16]);
  // The same from $NNLOCK_KEY, and an API key from --api-key.
  assert.equal((await runCli(['client', 'classify', '--server', server, '--model', 'clf', imagePath], { NNLOCK_KEY: TOKEN })).code, 0);
  assert.equal(last().auth, `Bearer ${TOKEN}`);
  assert.equal((await runCli(['client', 'classify', '--server', server, '--model', 'clf', '--api-key', 'ak-1', imagePath])).code, 0);
  assert.equal(last().auth, 'Bearer ak-1');
});

test('4xx answers: one line with status, code and message, never the credential (exit 1)', async () => {
  const bad = await runCli(['client', 'classify', '--server', server, '--model', 'clf', '--api-key', 'wrong-key', imagePath]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /the server answered 401 \(unauthorized\): unknown key \[credential\]/);
  assert.ok(!bad.err.includes('wrong-key') && !bad.out.includes('wrong-key'));
  const tier = await runCli(['client', 'classify', '--server', server, '--model', 'clf', '--token', TOKEN, '--tier', '9', imagePath]);
  assert.equal(tier.code, 1);
  assert.match(tier.err, /403 \(forbidden-tier\): tier 9 is above/);
  const unknown = await runCli(['client', 'classify', '--server', server, '--model', 'nope', imagePath]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no model "nope" \(it has: er, er-real, clf, dn\)/);
  const noKey = await runCli(['client', 'classify', '--server', server, '--model', 'er', imagePath]);
  assert.match(noKey.err, /classifies ciphertext: pass the cipher key with -K/);
  const wrongKind = await runCli(['client', 'classify', '--server', server, '--model', 'er', '-K', orthoFile, imagePath]);
  assert.match(wrongKind.err, /takes hill256 ciphertext with k=4/);
  const down = await runCli(['client', 'models', '--server', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.err, /cannot reach the server at http:\/\/127\.0\.0\.1:9/);
});

test('command-line mistakes exit 2', async () => {
  for (const args of [
    ['client', 'models'],
    ['client', 'models', '--server', 'localhost:8080'],
    ['client', 'classify', '--server', server, '--model', 'clf', '--token', TOKEN, '--api-key', 'x', imagePath],
    ['client', 'classify', '--server', server, imagePath],
    ['client', 'classify', '--server', server, '--model', 'clf', '--top', '0', imagePath],
  ]) {
    const r = await runCli(args, { NNLOCK_SERVER: '' });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.ok(!r.err.includes(TOKEN));
  }
});

test('denoise writes the PNG, reports tier and PSNR, and never overwrites without --force', async () => {
  const out = join(dir, 'clean.png');
  const r = await runCli(['client', 'denoise', '--server', server, '--model', 'dn', '--sigma', '25', imagePath, '-o', out, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { model: 'dn', input: imagePath, output: out, tier: 1, sigma: 25, psnr: 29.5 });
  assert.match(last().url, /\/v1\/models\/dn\/denoise\?sigma=25$/);
  assert.equal(last().type, 'image/png');
  assert.ok(existsSync(out));
  const again = await runCli(['client', 'denoise', '--server', server, '--model', 'dn', imagePath, '-o', out]);
  assert.equal(again.code, 1);
  assert.match(again.err, /exists; pass --force/);
  assert.equal((await runCli(['client', 'denoise', '--server', server, '--model', 'dn', imagePath, '-o', out, '--force'])).code, 0);
  const clf = await runCli(['client', 'denoise', '--server', server, '--model', 'clf', imagePath, '-o', join(dir, 'x.png')]);
  assert.match(clf.err, /clf is a classifier, not a denoiser/);
});

test('leaks no tensors', checkLeaks);
