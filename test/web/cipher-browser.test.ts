// The page's cipher module running in chromium, against src/cipher in node: key files of every
// kind derive to the same fingerprint there, and hill256 ciphertexts are bit-identical (real
// kinds within float32 rounding). WebCrypto needs a secure context, so the module is loaded from
// a page on 127.0.0.1 (localhost counts as secure).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { scope, tensor } from '../../src/tensor/index.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { serializeKey } from '../../src/cipher/key-file.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptPixels } from '../../src/cipher/data.ts';
import { div } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { chromiumMissing, launchChromium } from './chromium.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const missing = chromiumMissing();
let app: FastifyInstance;
let browser: Browser;
let page: Page;

before(async () => {
  if (missing) return;
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('../../src/web/browser/cipher.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'pageCipher',
    platform: 'browser',
    logLevel: 'silent',
  });
  app = Fastify();
  app.get('/', async (_r, reply) => reply.type('text/html').send('<!doctype html><title>cipher</title><script src="/cipher.js"></script>'));
  app.get('/cipher.js', async (_r, reply) => reply.type('text/javascript').send(bundle.outputFiles[0].text));
  await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage();
  const { port } = app.server.address() as { port: number };
  await page.goto(`http://127.0.0.1:${port}/`);
});

after(async () => {
  await browser?.close();
  await app?.close();
});

interface Case {
  text: string;
  image: number[];
  channels: number;
  height: number;
  width: number;
}

test('in chromium: the same keys and ciphertexts as src/cipher (hill256 bit for bit)', { skip: missing ?? false }, async () => {
  const cases: Case[] = [];
  const want: (Uint8Array | Float32Array)[] = [];
  const fingerprints: string[] = [];
  const kinds = ['hill256', 'hill256', 'hill256', 'orthogonal', 'uniform'] as const;
  for (let i = 0; i < 30; i++) {
    const kind = kinds[i % kinds.length];
    const k = [2, 4, 8][i % 3];
    const channels = i % 2 ? 3 : 1;
    const key = deriveKey(new Uint8Array(randomBytes(32)), { kind, k, channels, shuffle: i % 4 < 2 });
    const [height, width] = [k * 4, k * 3];
    const image = new Uint8Array(randomBytes(channels * height * width));
    const cipher = new BlockCipher(key);
    want.push(
      scope(() => {
        const x = tensor(image, [1, channels, height, width]);
        return kind === 'hill256' ? (cipher.encrypt(x).toTypedArray() as Uint8Array) : (encryptPixels(div(toDtype(x, 'float32'), 255), cipher).toTypedArray() as Float32Array);
      }),
    );
    cipher.dispose();
    fingerprints.push(key.fingerprint);
    cases.push({ text: serializeKey(key), image: [...image], channels, height, width });
  }
  const got = await page.evaluate(async (cs: Case[]) => {
    // biome-ignore lint/suspicious/noExplicitAny: the bundle's global, typed in node by the module itself
    const m = (globalThis as any).pageCipher as typeof import('../../src/web/browser/cipher.ts');
    const out: { fingerprint: string; cipher: number[] }[] = [];
    for (const c of cs) {
      const key = await m.parseKeyFile(c.text);
      const planes = { data: Uint8Array.from(c.image), channels: c.channels, height: c.height, width: c.width };
      const y = key.kind === 'hill256' ? await m.encryptBytes(key, planes) : await m.encryptReal(key, planes);
      out.push({ fingerprint: key.fingerprint, cipher: [...y] });
    }
    return out;
  }, cases);
  let hill = 0;
  let worst = 0;
  got.forEach((g, i) => {
    assert.equal(g.fingerprint, fingerprints[i], `case ${i}: fingerprint`);
    if (want[i] instanceof Uint8Array) {
      assert.deepEqual(g.cipher, [...want[i]], `case ${i}: hill256 ciphertext`);
      hill++;
    } else for (let j = 0; j < want[i].length; j++) worst = Math.max(worst, Math.abs(g.cipher[j] - want[i][j]));
  });
  assert.equal(hill, 18);
  assert.ok(worst < 1e-5, `real kinds: largest difference ${worst}`);
});

test('leaks no tensors', checkLeaks);
