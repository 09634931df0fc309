// The page end to end, in Debian's chromium (playwright-core), against the real server
// (src/serve, with the page's plugin) on a random port, with tiny models made here:
//   1. encrypted classification: a photo and a cipher key file are uploaded and the request the
//      page sent is captured. With an orthogonal key its body is a float32 tensor within float32
//      rounding of src/cipher's ciphertext; with a hill256 key it is the hill256 ciphertext of the photo, bit for bit what
//      src/cipher makes of it, and neither the key nor the plaintext was sent; the prediction
//      shown is the ER model's offline answer on that ciphertext;
//   2. tiers: the same photo to the protected classifier anonymously, with tier tokens and with an
//      API key; each answer shown is that tier's offline answer, and they change with the tier;
//   3. the same with a protected denoiser: each tier's image is that tier's offline output;
//   4. a screenshot of the page (to a temporary folder; NNLOCK_UPDATE_SCREENSHOT=1 writes the
//      committed docs/web-client.png instead, so a test run never dirties the checkout); then a
//      denoise with added noise shows its PSNR.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Browser, Page, Request } from 'playwright-core';
import { noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptPixels } from '../../src/cipher/data.ts';
import { div } from '../../src/ops/arithmetic.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { toHex } from '../../src/cipher/key.ts';
import { type Service, createService, hashApiKey, newApiKey, serveConfig } from '../../src/serve/index.ts';
import { type WebFixtures, argmax, makeWebFixtures, offlineClassify, offlineDenoise, offlineEr } from './fixtures.ts';
import { chromiumMissing, launchChromium } from './chromium.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const missing = chromiumMissing();
const SCREENSHOT =
  process.env.NNLOCK_UPDATE_SCREENSHOT === '1' ? fileURLToPath(new URL('../../docs/web-client.png', import.meta.url)) : join(mkdtempSync(join(tmpdir(), 'nnlock-web-')), 'web-client.png');
const apiKey = newApiKey();
let f: WebFixtures;
let service: Service;
let browser: Browser;
let page: Page;
let classes: Record<string, string[]>;
const sent: { url: string; type: string | null; auth: string | null; body: Buffer }[] = [];
const denoised: { tier: string | null; png: Buffer }[] = [];

before(async () => {
  if (missing) return;
  f = await makeWebFixtures();
  service = await createService(
    serveConfig({
      models: [
        { name: 'resnet', weights: f.classifier, keys: f.classifierKeys },
        { name: 'dncnn', weights: f.denoiser, keys: f.denoiserKeys },
        { name: 'er', weights: f.er },
        { name: 'er-real', weights: f.erReal },
      ],
      apiKeys: [{ name: 'alice', sha256: hashApiKey(apiKey), tier: 2 }],
      port: 0,
      host: '127.0.0.1',
      limits: { rateLimit: false },
      batching: { maxBatch: 4, maxWaitMs: 1 },
    }),
  );
  const address = await service.listen();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('request', (r: Request) => {
    if (r.method() !== 'POST') return;
    const h = r.headers();
    sent.push({ url: r.url(), type: h['content-type'] ?? null, auth: h.authorization ?? null, body: r.postDataBuffer() ?? Buffer.alloc(0) });
  });
  page.on('response', async (r) => {
    if (r.url().includes('/denoise') && r.ok()) denoised.push({ tier: r.headers()['x-tier'] ?? null, png: await r.body() });
  });
  await page.goto(address);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  const listed = (await (await fetch(`${address}/v1/models`)).json()) as { models: { name: string; classes: string[] }[] };
  classes = Object.fromEntries(listed.models.map((m) => [m.name, m.classes]));
});

after(async () => {
  await browser?.close();
  await service?.close();
});

/** CHW bytes of a PNG. */
async function pngChw(png: Buffer): Promise<{ chw: Uint8Array; channels: number; height: number; width: number }> {
  const grey = (await sharp(png).metadata()).channels === 1; // sharp decodes grey to RGB unless told
  const { data, info } = await (grey ? sharp(png).toColourspace('b-w') : sharp(png)).raw().toBuffer({ resolveWithObject: true });
  const plane = info.height * info.width;
  const chw = new Uint8Array(info.channels * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < info.channels; c++) chw[c * plane + p] = data[p * info.channels + c];
  return { chw, channels: info.channels, height: info.height, width: info.width };
}

/** Waits until the answers list has one more entry than `count`. */
async function historyGrows(count: number): Promise<void> {
  // A locator, not a predicate: the page's security policy forbids evaluating strings.
  await page.locator('#tier-history > li').nth(count).waitFor({ timeout: 20_000 });
}

const percent = (p: number) => `${(100 * p).toFixed(1)} %`;

test('encrypted classification with an orthogonal key: a float32 tensor within rounding of src/cipher', { skip: missing ?? false }, async () => {
  await page.selectOption('#enc-model', 'er-real');
  await page.setInputFiles('#enc-key', f.realKeyFile);
  await page.locator('#enc-key-id', { hasText: 'orthogonal' }).waitFor({ timeout: 20_000 });
  await page.setInputFiles('#enc-photo', f.photo);
  const before = sent.length;
  await page.click('#enc-form button[type="submit"]');
  await page.locator('#enc-result caption', { hasText: 'er-real' }).waitFor({ timeout: 20_000 });
  const req = sent.slice(before);
  assert.equal(req.length, 1);
  assert.equal(req[0].type, 'application/json');
  const body = JSON.parse(req[0].body.toString()) as { tensor: { shape: number[]; dtype: string; data: string } };
  assert.deepEqual([body.tensor.shape, body.tensor.dtype], [[1, 3, 32, 32], 'float32']);
  const got = new Float32Array(new Uint8Array(Buffer.from(body.tensor.data, 'base64')).buffer);
  const cipher = new BlockCipher(f.realKey);
  const want = noGrad(() => scope(() => encryptPixels(div(toDtype(tensor(f.photoChw, [1, 3, 32, 32]), 'float32'), 255), cipher).toTypedArray() as Float32Array));
  cipher.dispose();
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst < 1e-5, `the page's ciphertext is ${worst} from src/cipher's`);
  // The answer shown is the ER model's offline answer on what the page sent.
  const offline = await offlineEr(f, got, f.erReal);
  const best = argmax(offline);
  const first = (await page.locator('#enc-result tbody tr').first().textContent())?.trim() ?? '';
  assert.ok(first.startsWith(classes['er-real'][best]) && first.endsWith(percent(offline[best])), `shown ${first}, offline ${classes['er-real'][best]} ${percent(offline[best])}`);
});

test('encrypted classification: the page sends only the ciphertext, bit for bit src/cipher, and shows the offline answer', { skip: missing ?? false }, async () => {
  await page.selectOption('#enc-model', 'er');
  await page.setInputFiles('#enc-key', f.cipherKeyFile);
  await page.locator('#enc-key-id', { hasText: 'hill256' }).waitFor({ timeout: 20_000 });
  assert.match((await page.textContent('#enc-key-id')) ?? '', new RegExp(`hill256 key, k=4, 3 channel\\(s\\), shuffled blocks, id ${f.cipherKey.fingerprint.slice(0, 16)}`));
  await page.setInputFiles('#enc-photo', f.photo);
  const before = sent.length;
  await page.click('#enc-form button[type="submit"]');
  // Wait for this model's answer: the previous test's answer (er-real) may still be on the page.
  await page.locator('#enc-result caption', { hasText: /^er at tier/ }).waitFor({ timeout: 20_000 });
  const requests = sent.slice(before);
  assert.equal(requests.length, 1, 'one request');
  const req = requests[0];
  assert.match(req.url, /\/v1\/models\/er\/classify$/);
  assert.equal(req.type, 'image/png');
  // The ciphertext, against src/cipher's encryption of the same photo.
  const got = await pngChw(req.body);
  assert.deepEqual([got.channels, got.height, got.width], [3, 32, 32]);
  const cipher = new BlockCipher(f.cipherKey);
  const want = noGrad(() => scope(() => cipher.encrypt(tensor(f.photoChw, [1, 3, 32, 32])).toTypedArray() as Uint8Array));
  cipher.dispose();
  assert.deepEqual(got.chw, want, 'the page sent the hill256 ciphertext of the photo, bit for bit');
  // Neither the key nor the plaintext left the page (in any request it made).
  const secretHex = toHex(f.cipherKey.secret!);
  const keyText = readFileSync(f.cipherKeyFile, 'utf8');
  const photoBytes = readFileSync(f.photo);
  for (const r of sent) {
    assert.ok(!r.body.includes(secretHex) && !r.body.includes(keyText), 'the key was sent');
    assert.ok(!r.body.includes(photoBytes), 'the plaintext photo was sent');
  }
  // The prediction shown is the server's offline answer on that ciphertext.
  const offline = await offlineEr(f, want);
  const best = argmax(offline);
  const firstRow = await page.$$eval('#enc-result tbody tr', (rows) => rows.map((r) => r.textContent?.trim() ?? ''));
  assert.ok(firstRow[0].startsWith(classes.er[best]), `top class shown ${firstRow[0]}, offline ${classes.er[best]}`);
  assert.ok(firstRow[0].endsWith(percent(offline[best])), `probability shown ${firstRow[0]}, offline ${percent(offline[best])}`);
  assert.match((await page.textContent('#enc-status')) ?? '', /Only the ciphertext was sent/);
});

/** Sends the photo to resnet with a credential (or none); the newest answer's tier and rows. */
async function tierAnswer(credential: string): Promise<{ tier: number; rows: string[] }> {
  await page.fill('#tier-token', credential);
  const count = await page.locator('#tier-history > li').count();
  await page.click('#tier-form button[type="submit"]');
  await historyGrows(count);
  const item = page.locator('#tier-history > li').first();
  return { tier: Number(await item.getAttribute('data-tier')), rows: await item.locator('tbody tr').allTextContents() };
}

test('tiers: anonymous, tier tokens and an API key each get their tier, as offline', { skip: missing ?? false }, async () => {
  await page.selectOption('#tier-model', 'resnet');
  await page.setInputFiles('#tier-photo', f.photo);
  const cases: [string, number][] = [
    ['', 0],
    [f.tokens[0], 1],
    [apiKey, 2],
    [f.tokens[2], 3],
  ];
  const answers: string[] = [];
  for (const [credential, tier] of cases) {
    const a = await tierAnswer(credential);
    assert.equal(a.tier, tier, `credential for tier ${tier}`);
    const offline = await offlineClassify(f, tier, f.photoChw);
    const best = argmax(offline);
    assert.ok(a.rows[0].trim().startsWith(classes.resnet[best]), `tier ${tier}: shown ${a.rows[0]}, offline ${classes.resnet[best]}`);
    assert.ok(a.rows[0].trim().endsWith(percent(offline[best])), `tier ${tier}: shown ${a.rows[0]}, offline ${percent(offline[best])}`);
    answers.push(a.rows.join('|'));
  }
  assert.ok(new Set(answers).size > 1, 'the answers change with the tier');
  // A bad credential is a clear error on the page, and the next request is answered.
  await page.fill('#tier-token', 'not-a-key');
  await page.click('#tier-form button[type="submit"]');
  await page.waitForSelector('#tier-status[data-kind="error"]', { timeout: 20_000 });
  assert.match((await page.textContent('#tier-status')) ?? '', /The server said 401/);
  assert.equal((await tierAnswer(f.tokens[1])).tier, 2);
  // No request carried a credential other than in the Authorization header.
  for (const r of sent) for (const t of [...f.tokens, apiKey]) assert.ok(!r.url.includes(t) && !r.body.includes(t));
});

test("tiers with a denoiser: each tier's image is its offline output, and they differ", { skip: missing ?? false }, async () => {
  await page.selectOption('#tier-model', 'dncnn');
  assert.equal(await page.isVisible('#tier-sigma'), true, 'a denoiser shows the noise field');
  await page.fill('#tier-sigma', ''); // no noise: the answer is deterministic, so it can be held against offline
  const grey = Uint8Array.from({ length: f.photoChw.length / 3 }, (_, i) => Math.round(0.299 * f.photoChw[i] + 0.587 * f.photoChw[1024 + i] + 0.114 * f.photoChw[2048 + i]));
  const outputs: string[] = [];
  for (const [credential, tier] of [
    ['', 0],
    [f.denoiserTokens[0], 1],
    [f.denoiserTokens[2], 3],
  ] as [string, number][]) {
    const before = denoised.length;
    await page.fill('#tier-token', credential);
    const count = await page.locator('#tier-history > li').count();
    await page.click('#tier-form button[type="submit"]');
    await historyGrows(count);
    const item = page.locator('#tier-history > li').first();
    assert.equal(await item.getAttribute('data-tier'), String(tier));
    assert.match((await item.locator('figcaption').textContent()) ?? '', new RegExp(`^Tier ${tier} `));
    assert.equal(await item.locator('img').evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth), 32);
    while (denoised.length === before) await new Promise((r) => setTimeout(r, 20));
    const answer = denoised[denoised.length - 1];
    assert.equal(answer.tier, String(tier));
    // The page sent the photo in grey (the model's one channel): check that, then the answer.
    const req = await pngChw(sent[sent.length - 1].body);
    assert.deepEqual([req.channels, req.height, req.width], [1, 32, 32]);
    assert.deepEqual(req.chw, grey);
    const got = await pngChw(answer.png);
    const want = await offlineDenoise(f, tier, grey, 32, 32);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got.chw[i] - 255 * want[i]));
    assert.ok(worst <= 1, `tier ${tier}: the image shown differs from the offline output by ${worst} grey levels`);
    outputs.push(Buffer.from(got.chw).toString('base64'));
  }
  assert.equal(new Set(outputs).size, 3, 'each tier denoises differently');
});

test('screenshot of the page', { skip: missing ?? false }, async () => {
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  const meta = await sharp(SCREENSHOT).metadata();
  assert.ok((meta.width ?? 0) >= 1000 && (meta.height ?? 0) > 800);
});

// After the screenshot: the added noise is random, and the screenshot should not change from run to run.
test('a denoiser with a noise σ: the page shows the PSNR the server measured', { skip: missing ?? false }, async () => {
  await page.fill('#tier-sigma', '25');
  const count = await page.locator('#tier-history > li').count();
  await page.click('#tier-form button[type="submit"]');
  await historyGrows(count);
  assert.match((await page.locator('#tier-history > li figcaption').first().textContent()) ?? '', /^Tier 3 · dncnn \(with the credential given\): PSNR \d+\.\d\d dB at σ = 25$/);
  assert.match(sent[sent.length - 1].url, /\/v1\/models\/dncnn\/denoise\?sigma=25$/);
});

test('leaks no tensors', checkLeaks);
