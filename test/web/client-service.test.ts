// `nnlock client` against the real server (src/serve, in this process, on a random port) with
// tiny models made here: each answer is the offline answer of the tier its credential gives,
// encrypted classification (-K) answers as the ER model does on src/cipher's ciphertext, and each
// refusal (bad key, a tier above the credential, an unknown model, a wrong image) is one line
// with its status and code (exit 1), after which the server still answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { type Service, createService, hashApiKey, newApiKey, serveConfig } from '../../src/serve/index.ts';
import { type WebFixtures, argmax, makeWebFixtures, offlineClassify, offlineDenoise, offlineEr } from './fixtures.ts';
import { runCli } from '../helpers/cli.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const apiKey = newApiKey();
let f: WebFixtures;
let service: Service;
let server: string;

before(async () => {
  f = await makeWebFixtures();
  service = await createService(
    serveConfig({
      models: [
        { name: 'resnet', weights: f.classifier, keys: f.classifierKeys },
        { name: 'dncnn', weights: f.denoiser, keys: f.denoiserKeys },
        { name: 'er', weights: f.er },
      ],
      apiKeys: [{ name: 'bob', sha256: hashApiKey(apiKey), tier: 1 }],
      limits: { rateLimit: false },
      batching: { maxBatch: 4, maxWaitMs: 1 },
      host: '127.0.0.1',
      port: 0,
    }),
  );
  server = await service.listen();
});

after(() => service?.close());

interface Answer {
  model: string;
  tier: number;
  results: { image: string; top: { class: string; index: number; probability: number }[] }[];
}

async function classify(args: string[], env: Record<string, string> = {}): Promise<Answer> {
  const r = await runCli(['client', 'classify', '--server', server, '--json', ...args], env);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Answer;
}

function assertOffline(answer: Answer, offline: Float32Array, what: string): void {
  const top = answer.results[0].top;
  assert.equal(top[0].index, argmax(offline), `${what}: top class`);
  for (const t of top) assert.ok(Math.abs(t.probability - offline[t.index]) < 1e-5, `${what}: class ${t.index} ${t.probability} vs offline ${offline[t.index]}`);
}

test('classify at every tier: anonymous, tier tokens, an API key, and --tier below the credential', async () => {
  const cases: [string[], Record<string, string>, number][] = [
    [[], {}, 0],
    [['--token', f.tokens[0]], {}, 1],
    [['--api-key', apiKey], {}, 1],
    [['--keys', f.classifierKeys], {}, 3],
    [[], { NNLOCK_KEY: f.tokens[1] }, 2],
    [['--keys', f.classifierKeys, '--tier', '1'], {}, 1],
  ];
  for (const [args, env, tier] of cases) {
    const a = await classify(['--model', 'resnet', ...args, f.photo], env);
    assert.equal(a.tier, tier, args.join(' '));
    assertOffline(a, await offlineClassify(f, tier, f.photoChw), `tier ${tier}`);
  }
  const two = await classify(['--model', 'resnet', f.photo, f.photo]);
  assert.equal(two.results.length, 2);
});

test('classify -K: encrypted here, answered by the ER model as offline on the same ciphertext', async () => {
  const a = await classify(['--model', 'er', '-K', f.cipherKeyFile, f.photo]);
  const cipher = new BlockCipher(f.cipherKey);
  const ciphertext = noGrad(() => scope(() => cipher.encrypt(tensor(f.photoChw, [1, 3, 32, 32])).toTypedArray() as Uint8Array));
  cipher.dispose();
  assertOffline(a, await offlineEr(f, ciphertext), 'er');
});

test('denoise at two tiers writes each tier\u2019s offline output; --sigma reports PSNR', async () => {
  const grey = join(f.dir, 'grey.png');
  const g = Uint8Array.from({ length: 1024 }, (_, i) => Math.round((f.photoChw[i] + f.photoChw[1024 + i] + f.photoChw[2048 + i]) / 3));
  await sharp(g, { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toFile(grey);
  for (const [args, tier] of [
    [[], 0],
    [['--token', f.denoiserTokens[2]], 3],
  ] as [string[], number][]) {
    const out = join(f.dir, `denoised-${tier}.png`);
    const r = await runCli(['client', 'denoise', '--server', server, '--model', 'dncnn', ...args, grey, '-o', out, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { tier: number }).tier, tier);
    const got = await sharp(out).toColourspace('b-w').raw().toBuffer();
    const want = await offlineDenoise(f, tier, g, 32, 32);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - 255 * want[i]));
    assert.ok(worst <= 1, `tier ${tier}: ${worst} grey levels from offline`);
  }
  const noisy = await runCli(['client', 'denoise', '--server', server, '--model', 'dncnn', '--sigma', '25', grey, '-o', join(f.dir, 'noisy.png'), '--json']);
  assert.equal(noisy.code, 0, noisy.err);
  assert.ok(Number.isFinite((JSON.parse(noisy.out) as { psnr: number }).psnr));
});

test('refusals are one clear line (exit 1), never show the credential, and the server answers next', async () => {
  const refusals: [string[], RegExp][] = [
    [['classify', '--model', 'resnet', '--api-key', 'nnlock-not-a-real-key', f.photo], /answered 401 \(unauthorized\)/],
    [['classify', '--model', 'resnet', '--api-key', apiKey, '--tier', '3', f.photo], /answered 403 \(forbidden-tier\)/],
    [['classify', '--model', 'nope', f.photo], /no model "nope"/],
    [['classify', '--model', 'resnet', f.cipherKeyFile], /not a readable image/],
  ];
  for (const [args, message] of refusals) {
    const r = await runCli(['client', ...args.slice(0, 1), '--server', server, ...args.slice(1)]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.ok(!r.err.includes(apiKey) && !r.err.includes('nnlock-not-a-real-key'), 'a credential was printed');
    const next = await classify(['--model', 'resnet', f.photo]);
    assert.equal(next.tier, 0);
  }
  const models = await runCli(['client', 'models', '--server', server, '--json']);
  assert.deepEqual(
    (JSON.parse(models.out) as { models: { name: string; kind: string; tiers: number[] }[] }).models.map((m) => [m.name, m.kind, m.tiers]),
    [
      ['resnet', 'classifier', [0, 1, 2, 3]],
      ['dncnn', 'denoiser', [0, 1, 2, 3]],
      ['er', 'encrypted-classifier', [0]],
    ],
  );
});

test('leaks no tensors', checkLeaks);
