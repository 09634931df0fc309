// The service's policies, each on a service configured for it: anonymous requests refused, the
// per-key rate limit, the request timeout, a tier unlocked from a client's own token when the
// server has no key file, dynamic batching across requests and workers, and a graceful shutdown
// that finishes the requests in flight. After each refusal the service answers correctly.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trackLeaks } from '../helpers/leaks.ts';
import { type Fixtures, argmax, makeFixtures, offlineClassify, randomPng } from './fixtures.ts';
import { availableParallelism } from 'node:os';
import { type Service, MAX_DEFAULT_WORKERS, createService, defaultWorkers, hashApiKey, newApiKey, serveConfig } from '../../src/serve/index.ts';

const checkLeaks = trackLeaks();
let f: Fixtures;

before(async () => {
  f = await makeFixtures();
});

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

function classify(s: Service, png: Buffer, headers: Record<string, string> = {}) {
  return s.app.inject({ method: 'POST', url: '/v1/models/resnet/classify', headers: { 'content-type': 'image/png', ...headers }, payload: png });
}

async function withService(config: Record<string, unknown>, fn: (s: Service) => Promise<void>): Promise<void> {
  const s = await createService(serveConfig(config));
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

async function assertTier(r: { statusCode: number; body: string; json(): { tier: number; top: { index: number; probability: number }[] } }, tier: number, chw: Uint8Array) {
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json().tier, tier);
  const [expected] = await offlineClassify(f.classifier, f.classifierTokens, tier, [chw]);
  for (const t of r.json().top) assert.ok(Math.abs(t.probability - expected[t.index]) < 1e-5, `tier ${tier}: class ${t.index}`);
}

test('anonymous "deny": no credentials is a 401; a token still works', async () => {
  await withService({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], anonymous: 'deny' }, async (s) => {
    const img = await randomPng(1);
    const r = await classify(s, img.png);
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error.code, 'unauthorized');
    await assertTier(await classify(s, img.png, bearer(f.classifierTokens[0])), 1, img.chw);
  });
});

test('the rate limit is per credential: a 429 rate-limited for one key, the others go on', async () => {
  const key = newApiKey();
  await withService(
    { models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], apiKeys: [{ name: 'k', sha256: hashApiKey(key), tier: 3 }], limits: { rateLimit: { max: 2, windowMs: 60_000 } } },
    async (s) => {
      const img = await randomPng(2);
      for (let i = 0; i < 2; i++) assert.equal((await classify(s, img.png, bearer(key))).statusCode, 200);
      const limited = await classify(s, img.png, bearer(key));
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.code, 'rate-limited');
      assert.ok(limited.headers['retry-after'], 'says when to retry');
      // another credential is not limited, and health checks never are
      await assertTier(await classify(s, img.png, bearer(f.classifierTokens[1])), 2, img.chw);
      for (let i = 0; i < 4; i++) assert.equal((await s.app.inject({ url: '/healthz' })).statusCode, 200);
    },
  );
});

test('a request whose inference outlasts the timeout: 503 timeout, and the server goes on', async () => {
  // maxWaitMs far above the timeout: a lone request waits for its batch longer than it may. The
  // timeout leaves room for a cold worker's first batch on a loaded machine (up to ~100 ms seen).
  await withService({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], limits: { requestTimeoutMs: 400 }, batching: { maxWaitMs: 10_000, maxBatch: 2 } }, async (s) => {
    const img = await randomPng(3);
    const r = await classify(s, img.png);
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().error.code, 'timeout');
    // two requests of one tier fill a batch at once: answered
    const [a, b] = await Promise.all([classify(s, img.png, bearer(f.classifierTokens[2])), classify(s, img.png, bearer(f.classifierTokens[2]))]);
    await assertTier(a, 3, img.chw);
    await assertTier(b, 3, img.chw);
  });
});

test("without a key file, a client's own token unlocks its tier in memory (once, cached by tier)", async () => {
  await withService({ models: [{ name: 'resnet', weights: f.classifier }] }, async (s) => {
    const img = await randomPng(4);
    const model = s.models.get('resnet')!;
    assert.ok(!model.holds(2));
    assert.equal((await s.memory()).models.resnet.tiers, 1, 'only the published weights at start');
    const [a, b] = await Promise.all([classify(s, img.png, bearer(f.classifierTokens[1])), classify(s, img.png, bearer(f.classifierTokens[1]))]);
    await assertTier(a, 2, img.chw);
    await assertTier(b, 2, img.chw);
    assert.ok(model.holds(2));
    assert.equal((await s.memory()).models.resnet.tiers, 2, 'tier 2 unlocked once for both requests');
    // the top token can ask for tier 1, unlocked now from it
    const low = await s.app.inject({ method: 'POST', url: '/v1/models/resnet/classify?tier=1', headers: { 'content-type': 'image/png', ...bearer(f.classifierTokens[2]) }, payload: img.png });
    await assertTier(low, 1, img.chw);
    // an API-key-less server holds no token: an anonymous request cannot ask for tier 2
    const anon = await s.app.inject({ method: 'POST', url: '/v1/models/resnet/classify?tier=2', headers: { 'content-type': 'image/png' }, payload: img.png });
    assert.equal(anon.statusCode, 403);
  });
});

test('the config can unlock some tiers at start only; the others unlock on first use', async () => {
  const key = newApiKey();
  await withService({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys, tiers: [3] }], apiKeys: [{ name: 'k', sha256: hashApiKey(key), tier: 2 }] }, async (s) => {
    assert.equal((await s.memory()).models.resnet.tiers, 2, 'tier 0 and tier 3');
    const img = await randomPng(5);
    await assertTier(await classify(s, img.png, bearer(f.classifierTokens[2])), 3, img.chw);
    await assertTier(await classify(s, img.png, bearer(f.classifierTokens[0])), 1, img.chw);
    await assertTier(await classify(s, img.png, bearer(key)), 2, img.chw); // unlocked from the key file
    assert.equal((await s.memory()).models.resnet.tiers, 4);
  });
});

test('requests that arrive together run as one batch; two workers give the same answers', async () => {
  await withService({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], batching: { maxBatch: 16, maxWaitMs: 30, workers: 2 } }, async (s) => {
    const imgs = await Promise.all(Array.from({ length: 8 }, (_, i) => randomPng(10 + i)));
    const replies = await Promise.all(imgs.map((img) => classify(s, img.png, bearer(f.classifierTokens[2]))));
    const expected = await offlineClassify(
      f.classifier,
      f.classifierTokens,
      3,
      imgs.map((i) => i.chw),
    );
    replies.forEach((r, i) => {
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().top[0].index, argmax(expected[i]));
    });
    const metrics = await s.metrics.registry.getSingleMetricAsString('nnlock_batch_size');
    const count = Number(/nnlock_batch_size_count\{model="resnet",tier="3"\} (\d+)/.exec(metrics)?.[1]);
    const sum = Number(/nnlock_batch_size_sum\{model="resnet",tier="3"\} (\d+)/.exec(metrics)?.[1]);
    assert.equal(sum, 8);
    assert.ok(count < 8, `8 requests ran in ${count} batches`);
  });
});

test('without a worker count the workers follow the cores: workers × threads = cores', async () => {
  assert.deepEqual(defaultWorkers({}, 2), { workers: 2, threads: 1 });
  assert.deepEqual(defaultWorkers({ threads: 2 }, 8), { workers: 4, threads: 2 });
  assert.deepEqual(defaultWorkers({ threads: 4 }, 2), { workers: 1, threads: 4 });
  assert.deepEqual(defaultWorkers({}, 64), { workers: MAX_DEFAULT_WORKERS, threads: 1 });
  assert.deepEqual(defaultWorkers({ devices: ['cuda:0', 'cuda:1'] }, 64), { workers: 2, threads: undefined });
  // The config keeps what was written (the CLI's flags may still add threads); the service resolves it.
  const config = serveConfig({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }] });
  assert.equal(config.batching.workers, undefined);
  await withService({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }] }, async (s) => {
    const slots = (s.pool as unknown as { slots: unknown[] }).slots;
    assert.equal(slots.length, Math.min(MAX_DEFAULT_WORKERS, availableParallelism()));
    const img = await randomPng(9);
    await assertTier(await classify(s, img.png, bearer(f.classifierTokens[0])), 1, img.chw);
  });
});

test('batching.pipeline reaches the pool (default 2); anything but a positive integer is refused', async () => {
  const models = [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }];
  assert.equal(serveConfig({ models }).batching.pipeline, undefined);
  assert.throws(() => serveConfig({ models, batching: { pipeline: 0 } }), /batching\.pipeline/);
  assert.throws(() => serveConfig({ models, batching: { pipeline: 1.5 } }), /batching\.pipeline/);
  await withService({ models, batching: { pipeline: 1 } }, async (s) => assert.equal(s.pool.pipeline, 1));
  await withService({ models }, async (s) => assert.equal(s.pool.pipeline, 2));
});

test('a worker that dies is replaced, with every model and tier, and the next request is answered', async () => {
  await withService({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }] }, async (s) => {
    const img = await randomPng(7);
    await assertTier(await classify(s, img.png, bearer(f.classifierTokens[1])), 2, img.chw);
    const slots = (s.pool as unknown as { slots: { worker: import('node:worker_threads').Worker }[] }).slots;
    await slots[0].worker.terminate();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.pool.restarts, 1);
    await assertTier(await classify(s, img.png, bearer(f.classifierTokens[1])), 2, img.chw);
    await assertTier(await classify(s, img.png), 0, img.chw);
  });
});

test('a client that goes away takes its images out of the queue: no worker runs them', async () => {
  const s = await createService(serveConfig({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], port: 0, batching: { maxWaitMs: 2000 } }));
  try {
    const address = new URL(await s.listen());
    const img = await randomPng(8);
    const req = request({ host: address.hostname, port: address.port, method: 'POST', path: '/v1/models/resnet/classify', headers: { 'content-type': 'image/png' } });
    req.on('error', () => {});
    req.end(img.png);
    for (let i = 0; i < 100 && s.pool.queued === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.pool.queued, 1, 'the image waits for its batch');
    req.destroy();
    for (let i = 0; i < 100 && s.pool.queued > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.pool.queued, 0, 'and leaves the queue when its client goes');
    const batches = await s.metrics.registry.getSingleMetricAsString('nnlock_batch_size');
    assert.doesNotMatch(batches, /nnlock_batch_size_count\{[^}]*\} [1-9]/, 'no batch ran');
  } finally {
    await s.close();
  }
});

test('graceful shutdown: requests in flight finish, then the server stops', async () => {
  const s = await createService(serveConfig({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], port: 0, batching: { maxWaitMs: 300 } }));
  const address = await s.listen();
  const img = await randomPng(6);
  const inFlight = fetch(`${address}/v1/models/resnet/classify`, { method: 'POST', headers: { 'content-type': 'image/png', ...bearer(f.classifierTokens[2]) }, body: img.png });
  // Until the request is in, waiting for its batch (a fixed wait was too short on a loaded machine,
  // and a request that arrives after close() began gets fastify's 503).
  for (let i = 0; i < 50 && s.pool.queued === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const closed = s.close();
  const r = await inFlight;
  assert.equal(r.status, 200, 'the request in flight was answered');
  const body = (await r.json()) as { tier: number };
  assert.equal(body.tier, 3);
  await closed;
  await assert.rejects(fetch(`${address}/healthz`), 'the server no longer listens');
});

test('HTTPS from certificate files (--tls-cert/--tls-key, "tls" in the config)', async (t) => {
  const cert = join(f.dir, 'cert.pem');
  const key = join(f.dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  if (made.status !== 0) return t.skip('openssl is not available to make a certificate');
  await withService({ models: [{ name: 'resnet', weights: f.classifier, keys: f.classifierKeys }], port: 0, tls: { cert, key } }, async (s) => {
    const address = new URL(await s.listen());
    assert.equal(address.protocol, 'https:');
    const img = await randomPng(9);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: 'localhost',
          port: address.port,
          method: 'POST',
          path: '/v1/models/resnet/classify',
          ca: readFileSync(cert),
          headers: { 'content-type': 'image/png', ...bearer(f.classifierTokens[2]) },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end(img.png);
    });
    const r = JSON.parse(body);
    assert.equal(r.tier, 3);
    const [expected] = await offlineClassify(f.classifier, f.classifierTokens, 3, [img.chw]);
    assert.equal(r.top[0].index, argmax(expected));
  });
});

test('leaks no tensors', checkLeaks);
