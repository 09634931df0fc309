// The page's script (bundled by src/web/plugin.ts with esbuild, served at /app/app.js). Two
// sections, each a form:
//   Encrypted classification: a photo and a cipher key file; the photo is cropped and resized to
//     the model's input, encrypted here (./cipher.ts), shown beside its ciphertext, and only the
//     ciphertext is sent (a PNG for hill256, a float32 tensor otherwise). The key never leaves.
//   Tiers: a tier token or API key (or none), a protected classifier or denoiser and a photo; each
//     answer is added to a list, so the answer changing with the tier is there to see.
import { type ModelInfo, type TopClass, ServiceClient, ServiceError, tensorBody } from './api.ts';
import { type PageCipherKey, encryptBytes, encryptReal, keyId, parseKeyFile } from './cipher.ts';
import { encodePng } from './png.ts';
import { type CanvasEl, type El, type InputEl, type SelectEl, type TableEl, page } from './dom.ts';

const { document } = page();

const $ = <T extends El>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

/** An image as planes data[c·H·W + y·W + x] of bytes. */
interface Pixels {
  data: Uint8Array;
  channels: 1 | 3;
  height: number;
  width: number;
}

/**
 * A photo file to pixels of the given size: the largest centred crop of the target's aspect ratio,
 * resized (none when the photo already has the size, so its pixels come through unchanged).
 * Colour space conversion is off so that a PNG's bytes are the bytes the server would read.
 */
async function readPhoto(file: Blob, channels: 1 | 3, height: number | null, width: number | null): Promise<Pixels> {
  const bitmap = await page().createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const h = height ?? bitmap.height;
  const w = width ?? bitmap.width;
  const scale = Math.min(bitmap.width / w, bitmap.height / h);
  const cw = Math.round(w * scale);
  const ch = Math.round(h * scale);
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, Math.floor((bitmap.width - cw) / 2), Math.floor((bitmap.height - ch) / 2), cw, ch, 0, 0, w, h);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const data = new Uint8Array(channels * h * w);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    if (channels === 3) {
      data[i] = r;
      data[h * w + i] = g;
      data[2 * h * w + i] = b;
    } else data[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b); // ITU-R BT.601 luma
  }
  return { data, channels, height: h, width: w };
}

/** Draws planes of values into a canvas; `scale` maps each channel's value to 0..255. */
function draw(canvas: CanvasEl, p: { data: ArrayLike<number>; channels: number; height: number; width: number }, scale: (c: number) => (v: number) => number = () => (v) => v): void {
  const { height: h, width: w, channels } = p;
  canvas.width = w;
  canvas.height = h;
  const img = new (page().ImageData)(w, h);
  for (let c = 0; c < 3; c++) {
    const src = channels === 1 ? 0 : c;
    const f = scale(src);
    for (let i = 0; i < h * w; i++) img.data[4 * i + c] = f(p.data[src * h * w + i]);
  }
  for (let i = 0; i < h * w; i++) img.data[4 * i + 3] = 255;
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}

/** Real-valued ciphertext is not an image: shown min–max scaled per channel, as src/cipher's pictures. */
function minMaxPerChannel(p: { data: Float32Array; height: number; width: number }): (c: number) => (v: number) => number {
  return (c) => {
    const n = p.height * p.width;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = c * n; i < (c + 1) * n; i++) {
      lo = Math.min(lo, p.data[i]);
      hi = Math.max(hi, p.data[i]);
    }
    return (v) => (255 * (v - lo)) / (hi - lo || 1);
  };
}

function setStatus(el: El, text: string, kind: 'info' | 'error' = 'info'): void {
  el.textContent = text;
  el.dataset.kind = kind;
}

function message(e: unknown): string {
  if (e instanceof ServiceError) return e.status ? `The server said ${e.status} (${e.code}): ${e.message}` : e.message;
  return (e as Error).message;
}

/** The top classes as a table: class, probability (a bar and a percentage). */
function topTable(top: TopClass[], caption: string): TableEl {
  const table = document.createElement('table');
  table.className = 'top';
  table.createCaption().textContent = caption;
  const head = table.createTHead().insertRow();
  for (const t of ['Class', 'Probability']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = t;
    head.append(th);
  }
  const body = table.createTBody();
  for (const t of top) {
    const row = body.insertRow();
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = t.class;
    row.append(name);
    const cell = row.insertCell();
    const meter = document.createElement('meter');
    meter.min = 0;
    meter.max = 1;
    meter.value = t.probability;
    meter.setAttribute('aria-hidden', 'true');
    cell.append(meter, ` ${(100 * t.probability).toFixed(1)} %`);
  }
  return table;
}

function fillModels(select: SelectEl, models: ModelInfo[]): void {
  select.replaceChildren(
    ...models.map((m) => {
      const o = document.createElement('option');
      o.value = m.name;
      const size = m.input.height && m.input.width ? `, ${m.input.channels}×${m.input.height}×${m.input.width}` : '';
      const cipher = m.cipher ? `, ${m.cipher.kind} k=${m.cipher.block}` : '';
      o.textContent = `${m.name} (${m.kind}, tiers ${m.tiers.join(', ')}${size}${cipher})`;
      return o;
    }),
  );
  select.disabled = models.length === 0;
}

/** Section (a): encrypt in the page, send only the ciphertext. */
function encryptedSection(models: ModelInfo[]): void {
  const form = $<El>('enc-form');
  const select = $<SelectEl>('enc-model');
  const status = $('enc-status');
  const result = $('enc-result');
  const usable = models.filter((m) => m.kind === 'encrypted-classifier');
  fillModels(select, usable);
  if (usable.length === 0) setStatus(status, 'This server has no encrypted-classifier model.');
  let key: PageCipherKey | null = null;
  $<InputEl>('enc-key').addEventListener('change', async (ev) => {
    const file = (ev.target as InputEl).files?.[0];
    key = null;
    $('enc-key-id').textContent = '';
    if (!file) return;
    try {
      setStatus(status, 'Deriving the key in this page…');
      key = await parseKeyFile(await file.text());
      $('enc-key-id').textContent = `${key.kind} key, k=${key.k}, ${key.channels} channel(s)${key.shuffle ? ', shuffled blocks' : ''}, id ${keyId(key)}`;
      setStatus(status, 'Key ready. It stays in this page.');
    } catch (e) {
      setStatus(status, `That key file cannot be used: ${message(e)}`, 'error');
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const model = usable.find((m) => m.name === select.value);
    const photo = $<InputEl>('enc-photo').files?.[0];
    if (!model || !photo || !key) return setStatus(status, 'Choose a model, a photo and a cipher key file first.', 'error');
    if (model.cipher && (model.cipher.kind !== key.kind || model.cipher.block !== key.k || model.cipher.channels !== key.channels)) {
      return setStatus(
        status,
        `${model.name} takes ${model.cipher.kind} ciphertext with k=${model.cipher.block} and ${model.cipher.channels} channel(s); this key is ${key.kind}, k=${key.k}, ${key.channels} channel(s).`,
        'error',
      );
    }
    try {
      const plain = await readPhoto(photo, key.channels === 1 ? 1 : 3, model.input.height, model.input.width);
      draw($<CanvasEl>('enc-plain'), plain);
      const client = new ServiceClient({ server: '', credential: $<InputEl>('enc-token').value.trim() || undefined });
      setStatus(status, 'Encrypting in this page and sending the ciphertext…');
      let answer: Awaited<ReturnType<ServiceClient['classifyImage']>>;
      if (key.kind === 'hill256') {
        const cipher = await encryptBytes(key, plain);
        draw($<CanvasEl>('enc-cipher'), { ...plain, data: cipher });
        answer = await client.classifyImage(model.name, encodePng(cipher, plain.channels, plain.height, plain.width), 'image/png');
      } else {
        const cipher = await encryptReal(key, plain);
        const shown = { ...plain, data: cipher };
        draw($<CanvasEl>('enc-cipher'), shown, minMaxPerChannel(shown));
        answer = await client.classifyTensor(model.name, tensorBody(cipher, [1, plain.channels, plain.height, plain.width]));
      }
      result.replaceChildren(topTable(answer.results[0].top, `${model.name} at tier ${answer.tier}, from the ciphertext only`));
      setStatus(status, `Answered by ${model.name} (tier ${answer.tier}). Only the ciphertext was sent.`);
    } catch (e) {
      setStatus(status, message(e), 'error');
    }
  });
}

/** Section (b): one credential after another against a protected model; every answer is kept. */
function tierSection(models: ModelInfo[]): void {
  const form = $<El>('tier-form');
  const select = $<SelectEl>('tier-model');
  const status = $('tier-status');
  const history = $('tier-history');
  const usable = models.filter((m) => m.kind === 'classifier' || m.kind === 'denoiser');
  fillModels(select, usable);
  if (usable.length === 0) setStatus(status, 'This server has no protected classifier or denoiser.');
  const sigmaRow = $('tier-sigma-row');
  const update = () => {
    sigmaRow.hidden = usable.find((m) => m.name === select.value)?.kind !== 'denoiser';
  };
  select.addEventListener('change', update);
  update();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const model = usable.find((m) => m.name === select.value);
    const photo = $<InputEl>('tier-photo').files?.[0];
    if (!model || !photo) return setStatus(status, 'Choose a model and a photo first.', 'error');
    const credential = $<InputEl>('tier-token').value.trim() || undefined;
    const client = new ServiceClient({ server: '', credential });
    const who = credential ? 'with the credential given' : 'anonymously';
    try {
      setStatus(status, `Asking ${model.name} ${who}…`);
      const pixels = await readPhoto(photo, model.input.channels === 1 ? 1 : 3, model.input.height, model.input.width);
      const png = encodePng(pixels.data, pixels.channels, pixels.height, pixels.width);
      const item = document.createElement('li');
      if (model.kind === 'classifier') {
        const answer = await client.classifyImage(model.name, png, 'image/png');
        const best = answer.results[0].top[0];
        item.dataset.tier = String(answer.tier);
        item.append(topTable(answer.results[0].top, `Tier ${answer.tier} · ${model.name} (${who}): ${best ? `${best.class}, ${(100 * best.probability).toFixed(1)} %` : 'no classes'}`));
      } else {
        const sigmaText = $<InputEl>('tier-sigma').value.trim();
        const sigma = sigmaText === '' ? undefined : Number(sigmaText);
        const answer = await client.denoise(model.name, png, 'image/png', { sigma });
        item.dataset.tier = String(answer.tier);
        const figure = document.createElement('figure');
        const img = document.createElement('img');
        img.src = URL.createObjectURL(new Blob([answer.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
        img.alt = `the photo denoised by ${model.name} at tier ${answer.tier}`;
        const caption = document.createElement('figcaption');
        caption.textContent = `Tier ${answer.tier} · ${model.name} (${who})${answer.psnr !== null ? `: PSNR ${answer.psnr.toFixed(2)} dB at σ = ${sigma}` : ''}`;
        figure.append(img, caption);
        item.append(figure);
      }
      history.prepend(item);
      setStatus(status, `Answered at tier ${item.dataset.tier}.`);
    } catch (e) {
      setStatus(status, message(e), 'error');
    }
  });
  $('tier-clear').addEventListener('click', () => history.replaceChildren());
}

async function start(): Promise<void> {
  const status = $('page-status');
  try {
    const models = await new ServiceClient({ server: '' }).models();
    encryptedSection(models);
    tierSection(models);
    setStatus(status, `${models.length} model(s) on this server.`);
    document.body.dataset.ready = 'true';
  } catch (e) {
    setStatus(status, `Cannot list the models: ${message(e)}`, 'error');
  }
}

void start();
