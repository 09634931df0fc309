// The service answers every tier with the offline result of that tier's weights, refuses each bad
// input and bad credential with its 4xx JSON error and then answers the next request correctly,
// and never logs a key. Models are tiny and made here (fixtures.ts); requests go through fastify's
// inject, and a few over a real port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { trackLeaks } from '../helpers/leaks.ts';
import { type Fixtures, argmax, hillEncrypt, makeFixtures, offlineClassify, offlineDenoise, offlineEr, randomPng } from './fixtures.ts';
import { type Service, createService, hashApiKey, newApiKey, serveConfig } from '../../src/serve/index.ts';

const checkLeaks = trackLeaks();
let f: Fixtures;
let service: Service;
let logs = '';
const keys = { alice: newApiKey(), bob: newApiKey(), carol: newApiKey() };

before(async () => {
  f = await makeFixtures();
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs += chunk.toString();
      done();
    },
  });
  service = await createService(
    serveConfig({
      models: [
        { name: 'resnet', weights: f.classifier, keys: f.classifierKeys },
        { name: 'dncnn', weights: f.denoiser, keys: f.denoiserKeys },
        { name: 'er', weights: f.er },
      ],
      apiKeys: [
        { name: 'alice', sha256: hashApiKey(keys.alice), tier: 2 },
        { name: 'bob', sha256: hashApiKey(keys.bob), tiers: { resnet: 1 } },
        { name: 'carol', sha256: hashApiKey(keys.carol), tier: 3, revoked: true },
      ],
      limits: { bodyBytes: 200_000, imagePixels: 100_000, imagesPerRequest: 4, rateLimit: false },
      batching: { maxBatch: 8, maxWaitMs: 2 },
    }),
    { logger: { level: 'debug', stream } },
  );
});

after(async () => {
  await service?.close();
});

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

async function classifyPng(png: Buffer, headers: Record<string, string> = {}, query = '') {
  return service.app.inject({ method: 'POST', url: `/v1/models/resnet/classify${query}`, headers: { 'content-type': 'image/png', ...headers }, payload: png });
}

function assertMatches(top: { index: number; probability: number }[], expected: Float32Array, what: string): void {
  assert.equal(top.length, 5, `${what}: top 5 by default`);
  assert.equal(top[0].index, argmax(expected), `${what}: the top class is the offline one`);
  for (const t of top) assert.ok(Math.abs(t.probability - expected[t.index]) < 1e-5, `${what}: class ${t.index} has probability ${t.probability}, offline ${expected[t.index]}`);
}

/** A correct request after a refused one: the server still answers, and right. */
async function assertStillServing(): Promise<void> {
  const img = await randomPng(99);
  const r = await classifyPng(img.png, bearer(f.classifierTokens[1]));
  assert.equal(r.statusCode, 200, r.body);
  const [expected] = await offlineClassify(f.classifier, f.classifierTokens, 2, [img.chw]);
  assertMatches(r.json().top, expected, 'the request after an error');
}

async function assertError(r: { statusCode: number; json(): unknown }, status: number, code: string): Promise<string> {
  assert.equal(r.statusCode, status, JSON.stringify(r.json()));
  const body = r.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 10, 'the error says what is wrong');
  await assertStillServing();
  return body.error.message;
}

test('GET /v1/models lists the models with their tiers and input specs', async () => {
  const r = await service.app.inject({ url: '/v1/models' });
  assert.equal(r.statusCode, 200);
  const { models } = r.json();
  assert.deepEqual(
    models.map((m: { name: string; kind: string; tiers: number[] }) => [m.name, m.kind, m.tiers]),
    [
      ['resnet', 'classifier', [0, 1, 2, 3]],
      ['dncnn', 'denoiser', [0, 1, 2, 3]],
      ['er', 'encrypted-classifier', [0]],
    ],
  );
  assert.deepEqual(models[0].input, { channels: 3, height: 32, width: 32 });
  assert.equal(models[0].classes[3], 'cat');
  assert.equal(models[0].cipher, null);
  assert.deepEqual({ ...models[2].cipher, keyId: undefined }, { kind: 'hill256', block: 4, channels: 3, keyId: undefined });
});

test('each tier token gets the offline result of its tier (one PNG)', async () => {
  const img = await randomPng(1);
  const answers: number[][] = [];
  for (const tier of [0, 1, 2, 3]) {
    const r = await classifyPng(img.png, tier === 0 ? {} : bearer(f.classifierTokens[tier - 1]));
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json();
    assert.equal(body.tier, tier);
    assert.equal(body.model, 'resnet');
    const [expected] = await offlineClassify(f.classifier, f.classifierTokens, tier, [img.chw]);
    assertMatches(body.top, expected, `tier ${tier}`);
    answers.push(body.top.map((t: { probability: number }) => t.probability));
  }
  assert.notDeepEqual(answers[0], answers[3], 'the tiers answer differently (else this test proves nothing)');
});

test('API keys get their configured tier; ?tier= asks for a lower one; ?top= sets k', async () => {
  const img = await randomPng(2);
  const alice = await classifyPng(img.png, bearer(keys.alice));
  assert.equal(alice.json().tier, 2);
  assertMatches(alice.json().top, (await offlineClassify(f.classifier, f.classifierTokens, 2, [img.chw]))[0], 'alice');
  const bob = await classifyPng(img.png, bearer(keys.bob));
  assert.equal(bob.json().tier, 1);
  const lower = await classifyPng(img.png, bearer(f.classifierTokens[2]), '?tier=1&top=3');
  assert.equal(lower.json().tier, 1);
  assert.equal(lower.json().top.length, 3);
  const [t1] = await offlineClassify(f.classifier, f.classifierTokens, 1, [img.chw]);
  assert.ok(Math.abs(lower.json().top[0].probability - t1[argmax(t1)]) < 1e-5);
});

test('several images in one JSON request, each answered at the tier', async () => {
  const imgs = await Promise.all([3, 4, 5].map((s) => randomPng(s)));
  const r = await service.app.inject({
    method: 'POST',
    url: '/v1/models/resnet/classify',
    headers: bearer(f.classifierTokens[2]),
    payload: { images: imgs.map((i) => i.png.toString('base64')) },
  });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json();
  assert.equal(body.tier, 3);
  const expected = await offlineClassify(
    f.classifier,
    f.classifierTokens,
    3,
    imgs.map((i) => i.chw),
  );
  body.results.forEach((res: { top: { index: number; probability: number }[] }, i: number) => assertMatches(res.top, expected[i], `image ${i}`));
});

test('every switch between tiers (up, down, through tier 0) gives each tier its offline answer', async () => {
  const img = await randomPng(4);
  const expected = await Promise.all([0, 1, 2, 3].map((t) => offlineClassify(f.classifier, f.classifierTokens, t, [img.chw])));
  // Every ordered pair of tiers, one after the other: each transition a → b happens at least once.
  const order = [0, 1, 2, 3].flatMap((a) => [0, 1, 2, 3].filter((b) => b !== a).flatMap((b) => [a, b]));
  for (const [j, tier] of order.entries()) {
    const r = await classifyPng(img.png, tier === 0 ? {} : bearer(f.classifierTokens[tier - 1]));
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().tier, tier);
    assertMatches(r.json().top, expected[tier][0], `request ${j} (tier ${order[j - 1] ?? '-'} → ${tier})`);
  }
});

test('concurrent requests of mixed tiers are batched and none gets another tier', async () => {
  const imgs = await Promise.all([6, 7].map((s) => randomPng(s)));
  const expected = await Promise.all(
    [0, 1, 2, 3].map((t) =>
      offlineClassify(
        f.classifier,
        f.classifierTokens,
        t,
        imgs.map((i) => i.chw),
      ),
    ),
  );
  const jobs = Array.from({ length: 24 }, (_, j) => ({ tier: j % 4, image: j % 2 }));
  const replies = await Promise.all(jobs.map((j) => classifyPng(imgs[j.image].png, j.tier === 0 ? {} : bearer(f.classifierTokens[j.tier - 1]))));
  replies.forEach((r, j) => {
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().tier, jobs[j].tier);
    assertMatches(r.json().top, expected[jobs[j].tier][jobs[j].image], `request ${j}`);
  });
});

test('denoise returns a PNG at the tier, with X-PSNR when noise is added', async () => {
  const { png, chw } = await randomPng(8, 24, 20, 1);
  const gray = Float32Array.from(chw, (v) => v / 255);
  for (const tier of [0, 3]) {
    const r = await service.app.inject({
      method: 'POST',
      url: '/v1/models/dncnn/denoise',
      headers: { 'content-type': 'image/png', ...(tier ? bearer(f.denoiserTokens[tier - 1]) : {}) },
      payload: png,
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.headers['content-type'], 'image/png');
    assert.equal(r.headers['x-tier'], String(tier));
    const meta = await sharp(r.rawPayload).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [24, 20, 1], 'a grey image comes back grey, of its own size');
    const data = await sharp(r.rawPayload).toColourspace('b-w').raw().toBuffer();
    const expected = await offlineDenoise(f.denoiser, f.denoiserTokens, tier, gray, 20, 24);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(data[i] - Math.round(expected[i] * 255)));
    assert.ok(worst <= 1, `denoised pixels differ from offline by up to ${worst}`);
  }
  const noisy = await service.app.inject({ method: 'POST', url: '/v1/models/dncnn/denoise?sigma=25', headers: { 'content-type': 'image/png' }, payload: png });
  assert.equal(noisy.statusCode, 200);
  const psnr = Number(noisy.headers['x-psnr']);
  assert.ok(psnr > 5 && psnr < 60, `X-PSNR ${noisy.headers['x-psnr']}`);
});

test('the encrypted classifier classifies hill256 ciphertext sent as PNG or as a tensor', async () => {
  const img = await randomPng(9);
  const cipher = hillEncrypt(f.cipherSecret, img.chw);
  const expected = await offlineEr(f.er, cipher);
  const plane = 32 * 32;
  const hwc = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = cipher[c * plane + p];
  const png = await sharp(hwc, { raw: { width: 32, height: 32, channels: 3 } })
    .png()
    .toBuffer();
  const asPng = await service.app.inject({ method: 'POST', url: '/v1/models/er/classify', headers: { 'content-type': 'image/png' }, payload: png });
  assert.equal(asPng.statusCode, 200, asPng.body);
  assertMatches(asPng.json().top, expected, 'ciphertext PNG');
  const asBytes = await service.app.inject({
    method: 'POST',
    url: '/v1/models/er/classify',
    payload: { tensor: { shape: [1, 3, 32, 32], dtype: 'uint8', data: Buffer.from(cipher).toString('base64') } },
  });
  assert.equal(asBytes.statusCode, 200, asBytes.body);
  assertMatches(asBytes.json().results[0].top, expected, 'ciphertext uint8 tensor');
  const floats = Float32Array.from(cipher, (v) => v / 255);
  const asFloats = await service.app.inject({
    method: 'POST',
    url: '/v1/models/er/classify',
    payload: { tensor: { shape: [1, 3, 32, 32], dtype: 'float32', data: Buffer.from(floats.buffer).toString('base64') } },
  });
  assertMatches(asFloats.json().results[0].top, expected, 'ciphertext float32 tensor');
});

// ---- bad input: each a 4xx with its code, and the server answers the next request ----

test('unknown model: 404 unknown-model', async () => {
  const img = await randomPng(10);
  const r = await service.app.inject({ method: 'POST', url: '/v1/models/nope/classify', headers: { 'content-type': 'image/png' }, payload: img.png });
  await assertError(r, 404, 'unknown-model');
});

test('malformed image: 400 bad-image', async () => {
  const r = await classifyPng(Buffer.from('not a png at all, just bytes'));
  await assertError(r, 400, 'bad-image');
  const truncated = (await randomPng(11)).png.subarray(0, 60);
  await assertError(await classifyPng(Buffer.from(truncated)), 400, 'bad-image');
});

test('an image of the wrong size: 400 bad-image that names both sizes', async () => {
  const img = await randomPng(12, 40, 30);
  const message = await assertError(await classifyPng(img.png), 400, 'bad-image');
  assert.match(message, /40×30.*32×32/);
});

test('an image of another format (WebP) sent as PNG: 400 bad-image', async () => {
  const webp = await sharp(Buffer.alloc(32 * 32 * 3, 128), { raw: { width: 32, height: 32, channels: 3 } })
    .webp()
    .toBuffer();
  await assertError(await classifyPng(webp), 400, 'bad-image');
});

test('an image of too many pixels: 413 too-large, refused before decoding', async () => {
  const big = await sharp({ create: { width: 400, height: 400, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .png()
    .toBuffer();
  await assertError(await classifyPng(big), 413, 'too-large');
});

test('a body over the size limit: 413 too-large', async () => {
  await assertError(await classifyPng(Buffer.alloc(300_000, 1)), 413, 'too-large');
});

test('too many images in one request: 413 too-large', async () => {
  const img = (await randomPng(13)).png.toString('base64');
  const r = await service.app.inject({ method: 'POST', url: '/v1/models/resnet/classify', payload: { images: [img, img, img, img, img] } });
  await assertError(r, 413, 'too-large');
});

test('an unsupported Content-Type: 415', async () => {
  const r = await service.app.inject({ method: 'POST', url: '/v1/models/resnet/classify', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
  await assertError(r, 415, 'unsupported-media-type');
});

test('malformed JSON and wrong tensors: 400 bad-request', async () => {
  const bad = await service.app.inject({ method: 'POST', url: '/v1/models/resnet/classify', headers: { 'content-type': 'application/json' }, payload: '{"images": [' });
  await assertError(bad, 400, 'bad-request');
  const shape = await service.app.inject({ method: 'POST', url: '/v1/models/er/classify', payload: { tensor: { shape: [1, 3, 16, 16], dtype: 'float32', data: '' } } });
  await assertError(shape, 400, 'bad-request');
  const short = await service.app.inject({ method: 'POST', url: '/v1/models/er/classify', payload: { tensor: { shape: [1, 3, 32, 32], dtype: 'float32', data: 'AAAA' } } });
  await assertError(short, 400, 'bad-request');
  const neither = await service.app.inject({ method: 'POST', url: '/v1/models/resnet/classify', payload: { pictures: [] } });
  await assertError(neither, 400, 'bad-request');
  const top = await classifyPng((await randomPng(14)).png, {}, '?top=zero');
  await assertError(top, 400, 'bad-request');
});

test('classify on a denoiser (and denoise on a classifier): 400 bad-request', async () => {
  const img = await randomPng(15);
  await assertError(await service.app.inject({ method: 'POST', url: '/v1/models/dncnn/classify', headers: { 'content-type': 'image/png' }, payload: img.png }), 400, 'bad-request');
  await assertError(await service.app.inject({ method: 'POST', url: '/v1/models/resnet/denoise', headers: { 'content-type': 'image/png' }, payload: img.png }), 400, 'bad-request');
});

// ---- bad credentials ----

test('an unknown API key: 401 unauthorized', async () => {
  await assertError(await classifyPng((await randomPng(16)).png, bearer(newApiKey())), 401, 'unauthorized');
});

test('a revoked API key: 401 that says it was revoked', async () => {
  const message = await assertError(await classifyPng((await randomPng(17)).png, bearer(keys.carol)), 401, 'unauthorized');
  assert.match(message, /revoked/);
});

test("another model's tier token, and a damaged one: 401 unauthorized", async () => {
  await assertError(await classifyPng((await randomPng(18)).png, bearer(f.denoiserTokens[2])), 401, 'unauthorized');
  const t = f.classifierTokens[1];
  // The good token first, twice: remembered as checked, it must not let a damaged copy through.
  for (let i = 0; i < 2; i++) assert.equal((await classifyPng((await randomPng(18)).png, bearer(t))).json().tier, 2);
  const damaged = t.slice(0, -3) + (t.endsWith('A') ? 'BBB' : 'AAA');
  await assertError(await classifyPng((await randomPng(18)).png, bearer(damaged)), 401, 'unauthorized');
  await assertError(await classifyPng((await randomPng(18)).png, { authorization: 'Basic dXNlcjpwYXNz' }), 401, 'unauthorized');
});

test('a lower-tier credential asking for a higher tier: 403 forbidden-tier', async () => {
  const img = (await randomPng(19)).png;
  await assertError(await classifyPng(img, bearer(f.classifierTokens[0]), '?tier=2'), 403, 'forbidden-tier');
  await assertError(await classifyPng(img, bearer(keys.alice), '?tier=3'), 403, 'forbidden-tier');
  await assertError(await classifyPng(img, {}, '?tier=1'), 403, 'forbidden-tier');
  await assertError(await classifyPng(img, bearer(f.classifierTokens[2]), '?tier=7'), 403, 'forbidden-tier');
  // bob's key grants nothing on the denoiser
  const r = await service.app.inject({ method: 'POST', url: '/v1/models/dncnn/denoise', headers: { 'content-type': 'image/png', ...bearer(keys.bob) }, payload: img });
  await assertError(r, 403, 'forbidden-tier');
});

test('an unknown route: 404 not-found in the same JSON shape', async () => {
  await assertError(await service.app.inject({ url: '/v2/whatever' }), 404, 'not-found');
});

test('health, readiness and Prometheus metrics by model, tier and status', async () => {
  assert.equal((await service.app.inject({ url: '/healthz' })).statusCode, 200);
  assert.deepEqual((await service.app.inject({ url: '/readyz' })).json(), { status: 'ready', models: 3 });
  const m = await service.app.inject({ url: '/metrics' });
  assert.equal(m.statusCode, 200);
  assert.match(m.body, /nnlock_requests_total\{route="\/v1\/models\/:name\/classify",model="resnet",tier="3",status="200"\} \d+/);
  assert.match(m.body, /nnlock_errors_total\{[^}]*status="401",code="unauthorized"\} \d+/);
  assert.match(m.body, /nnlock_request_duration_seconds_bucket\{[^}]*model="resnet",tier="2"/);
  assert.match(m.body, /nnlock_batch_size_count\{model="resnet",tier="\d"\} \d+/);
});

test("every answer carries X-Request-Id: the client's when it is usable, else the server's own", async () => {
  const img = await randomPng(22);
  const own = await classifyPng(img.png, { 'x-request-id': 'bench.7:client-42' });
  assert.equal(own.statusCode, 200);
  assert.equal(own.headers['x-request-id'], 'bench.7:client-42');
  // Errors name their request too.
  const missing = await service.app.inject({ method: 'POST', url: '/v1/models/nope/classify', headers: { 'content-type': 'image/png', 'x-request-id': 'r-404' }, payload: img.png });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.headers['x-request-id'], 'r-404');
  // Too long, or characters that do not belong in a log line: replaced, not echoed.
  const seen = new Set<string>();
  for (const bad of [undefined, 'x'.repeat(129), 'two words', 'semi;colon', '']) {
    const r = await classifyPng(img.png, bad === undefined ? {} : { 'x-request-id': bad });
    assert.equal(r.statusCode, 200);
    const id = String(r.headers['x-request-id']);
    assert.match(id, /^req-\d+$/, `for ${JSON.stringify(bad)} the server's own id, got ${id}`);
    seen.add(id);
  }
  assert.equal(seen.size, 5, 'the server gives each request its own id');
});

test('tiers share memory: the workers hold the model once and per tier only the kernels it changes', async () => {
  const { models } = await service.memory();
  const r = models.resnet;
  assert.equal(r.tiers, 4);
  // ratio 0.3: each tier changes at most 30 % of the conv kernels: its own values per tier, the
  // published ones once for all tiers (4 copies at most), and int64 indices (8 bytes per 36-byte kernel)
  assert.ok(r.tierBytes < 4 * 0.31 * (44 / 36) * r.modelBytes, `tier copies ${r.tierBytes} bytes for a ${r.modelBytes}-byte model`);
  assert.equal(models.er.tierBytes, 0);
});

test('keys and tokens never reach the logs', async () => {
  await classifyPng((await randomPng(20)).png, bearer(keys.alice));
  assert.ok(logs.length > 1000, 'the requests were logged');
  for (const secret of [...Object.values(keys), ...f.classifierTokens, ...f.denoiserTokens]) {
    assert.ok(!logs.includes(secret), 'a key or token is in the log');
    assert.ok(!logs.includes(secret.slice(-20)), 'part of a key or token is in the log');
  }
});

test('a real port: the same answers over HTTP', async () => {
  const s = await createService(serveConfig({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], port: 0 }));
  try {
    const address = await s.listen();
    const img = await randomPng(21);
    const r = await fetch(`${address}/v1/models/resnet/classify`, { method: 'POST', headers: { 'content-type': 'image/png', ...bearer(f.classifierTokens[2]) }, body: img.png });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { tier: number; top: { index: number; probability: number }[] };
    assert.equal(body.tier, 3);
    assertMatches(body.top, (await offlineClassify(f.classifier, f.classifierTokens, 3, [img.chw]))[0], 'over HTTP');
  } finally {
    await s.close();
  }
});

test('leaks no tensors', checkLeaks);
