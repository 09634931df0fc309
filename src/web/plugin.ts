// The web page as a fastify plugin: `GET /` (the HTML), `GET /app/app.js` (the page's script,
// src/web/browser/app.ts bundled with esbuild when the plugin is registered, so it works from the
// sources under tsx and from the packaged dist/ alike) and `GET /app/style.css`. The server
// (`nnlock serve`) registers it; the page then talks to that server's /v1 API from the same origin.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { build } from 'esbuild';
import { PAGE_CSS, PAGE_HTML } from './page.ts';

/** Where the page's script starts: the TypeScript source, or its compiled form in dist/. */
function entryPoint(): string {
  for (const name of ['./browser/app.ts', './browser/app.js']) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('the web page script (src/web/browser/app.ts or dist/web/browser/app.js) is missing');
}

let bundled: Promise<string> | null = null;

/** The page's script as one ES module for browsers (built once per process). */
export function pageScript(): Promise<string> {
  bundled ??= build({ entryPoints: [entryPoint()], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', minify: false, legalComments: 'none', logLevel: 'silent' }).then(
    (r) => r.outputFiles[0].text,
  );
  bundled.catch(() => {
    bundled = null; // a failed build is retried by the next server
  });
  return bundled;
}

/**
 * The page's security policy: scripts and styles only from this origin, images also from blob:
 * (the denoised images), no framing, no form posts elsewhere.
 */
export const PAGE_CSP = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export const webPlugin: FastifyPluginAsync = async (app: FastifyInstance) => {
  const script = await pageScript();
  const headers = { 'content-security-policy': PAGE_CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
  app.get('/', async (_req, reply) => reply.headers(headers).type('text/html; charset=utf-8').send(PAGE_HTML));
  app.get('/app/app.js', async (_req, reply) => reply.headers(headers).type('text/javascript; charset=utf-8').send(script));
  app.get('/app/style.css', async (_req, reply) => reply.headers(headers).type('text/css; charset=utf-8').send(PAGE_CSS));
};
