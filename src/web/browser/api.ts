// The nnlock service's HTTP API (/v1, see the README's "serve" section) as typed calls over
// fetch: used by the page and by `nnlock client` (node's fetch), so both speak it the same way.
// Credentials travel only in the Authorization header; nothing here logs or echoes them.

export type ModelKind = 'classifier' | 'denoiser' | 'encrypted-classifier';

/** What GET /v1/models says of a model (src/serve builds it). */
export interface ModelInfo {
  name: string;
  kind: ModelKind;
  tiers: number[];
  input: { channels: number; height: number | null; width: number | null };
  classes: string[] | null;
  /** encrypted-classifier: the ciphertext it expects (keyId: the fingerprint of the key it was trained for). */
  cipher: { kind: string; block: number; channels: number; keyId: string } | null;
}

export interface TopClass {
  class: string;
  index: number;
  probability: number;
}

export interface Classification {
  model: string;
  tier: number;
  /** One entry per image sent. */
  results: { top: TopClass[] }[];
}

export interface Denoised {
  png: Uint8Array;
  tier: number | null;
  /** With a noise σ: PSNR (dB) of noisy-then-denoised against the upload. */
  psnr: number | null;
}

/** A 4xx/5xx answer of the service: its error code and message, and the HTTP status. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A float32 tensor as the API carries it: little-endian bytes in base64. */
export interface TensorBody {
  shape: number[];
  dtype: 'float32';
  data: string;
}

export function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A float32 tensor body (little-endian, as every machine this runs on stores floats). */
export function tensorBody(data: Float32Array, shape: number[]): TensorBody {
  return { shape, dtype: 'float32', data: base64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
}

export interface ClientOptions {
  /** The server's base URL, e.g. http://127.0.0.1:8080 ('' in the page: the page's own origin). */
  server: string;
  /** A tier token or an API key; none: anonymous. */
  credential?: string;
  fetch?: typeof fetch;
}

/** Calls to one nnlock server with one credential. */
export class ServiceClient {
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly o: ClientOptions) {
    this.base = o.server.replace(/\/+$/, '');
    this.doFetch = o.fetch ?? ((input, init) => fetch(input, init));
  }

  private headers(contentType?: string): Record<string, string> {
    const h: Record<string, string> = {};
    if (contentType) h['content-type'] = contentType;
    if (this.o.credential) h.authorization = `Bearer ${this.o.credential}`;
    return h;
  }

  private async send(path: string, init: { method: string; body?: string | Uint8Array<ArrayBuffer>; contentType?: string }): Promise<Response> {
    let r: Response;
    try {
      r = await this.doFetch(`${this.base}${path}`, { method: init.method, body: init.body, headers: this.headers(init.contentType) });
    } catch (e) {
      throw new ServiceError(0, 'unreachable', `cannot reach the server at ${this.base || 'this page\u2019s origin'}: ${(e as Error).message}`);
    }
    if (r.ok) return r;
    let code = 'http-error';
    let message = `${r.status} ${r.statusText}`;
    try {
      const j = (await r.json()) as { error?: { code?: string; message?: string } };
      if (j.error?.code) code = j.error.code;
      if (j.error?.message) message = j.error.message;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ServiceError(r.status, code, message);
  }

  async models(): Promise<ModelInfo[]> {
    const r = await this.send('/v1/models', { method: 'GET' });
    return ((await r.json()) as { models: ModelInfo[] }).models;
  }

  private query(o: { top?: number; tier?: number; sigma?: number }): string {
    const q = new URLSearchParams();
    if (o.top !== undefined) q.set('top', String(o.top));
    if (o.tier !== undefined) q.set('tier', String(o.tier));
    if (o.sigma !== undefined) q.set('sigma', String(o.sigma));
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  /** Classifies images (PNG/JPEG bytes): one request with all of them. */
  async classifyImages(model: string, images: Uint8Array[], o: { top?: number; tier?: number } = {}): Promise<Classification> {
    const body = JSON.stringify({ images: images.map(base64) });
    const r = await this.send(`/v1/models/${encodeURIComponent(model)}/classify${this.query(o)}`, { method: 'POST', body, contentType: 'application/json' });
    return (await r.json()) as Classification;
  }

  /** Classifies one image sent as the body (image/png or image/jpeg). */
  async classifyImage(model: string, image: Uint8Array, contentType: 'image/png' | 'image/jpeg', o: { top?: number; tier?: number } = {}): Promise<Classification> {
    const r = await this.send(`/v1/models/${encodeURIComponent(model)}/classify${this.query(o)}`, { method: 'POST', body: image as Uint8Array<ArrayBuffer>, contentType });
    const j = (await r.json()) as { model: string; tier: number; top: TopClass[] };
    return { model: j.model, tier: j.tier, results: [{ top: j.top }] };
  }

  /** Classifies a float32 tensor [N, C, H, W] (the ciphertext an encrypted-classifier takes). */
  async classifyTensor(model: string, t: TensorBody, o: { top?: number; tier?: number } = {}): Promise<Classification> {
    const r = await this.send(`/v1/models/${encodeURIComponent(model)}/classify${this.query(o)}`, { method: 'POST', body: JSON.stringify({ tensor: t }), contentType: 'application/json' });
    return (await r.json()) as Classification;
  }

  async denoise(model: string, image: Uint8Array, contentType: 'image/png' | 'image/jpeg', o: { sigma?: number; tier?: number } = {}): Promise<Denoised> {
    const r = await this.send(`/v1/models/${encodeURIComponent(model)}/denoise${this.query(o)}`, { method: 'POST', body: image as Uint8Array<ArrayBuffer>, contentType });
    const psnr = r.headers.get('x-psnr');
    const tier = r.headers.get('x-tier');
    return { png: new Uint8Array(await r.arrayBuffer()), tier: tier === null ? null : Number(tier), psnr: psnr === null ? null : Number(psnr) };
  }
}
