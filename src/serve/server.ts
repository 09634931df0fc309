// The HTTP service (fastify): the /v1 API over the served models, health, readiness and metrics.
// createService() loads every configured model into the inference workers (src/serve/pool.ts),
// then builds the routes; listen() and close() start and stop it (close lets in-flight requests
// finish, then stops the workers). Plugins (the web page, src/web/plugin.ts) are registered in
// one place: registerPlugins() below, through SERVICE_PLUGINS (src/serve/plugins.ts) and the
// caller's `plugins`.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { type ServeConfig, defaultWorkers } from './config.ts';
import { ApiKeys, hashApiKey } from './api-keys.ts';
import { type ServedModel, loadServedModel } from './catalog.ts';
import { type CancelSignal, InferencePool } from './pool.ts';
import { ServeMetrics } from './metrics.ts';
import { ServeError, type ServeErrorCode, errorBody } from './errors.ts';
import { answeringTier, credentialOf, requestedTier } from './access.ts';
import { type ClassifyResult, classify, denoise } from './handlers.ts';
import { SERVICE_PLUGINS, type ServicePlugin } from './plugins.ts';

export interface ServiceOptions {
  /** More fastify plugins to register (after SERVICE_PLUGINS), each given the service. */
  plugins?: readonly ServicePlugin[];
  /**
   * fastify's logger: false (default: nothing is logged), or pino options such as
   * `{ level: 'info', stream }`. The Authorization header is never logged.
   */
  logger?: false | { level?: string; stream?: NodeJS.WritableStream };
}

export interface Service {
  readonly app: FastifyInstance;
  readonly config: ServeConfig;
  readonly models: ReadonlyMap<string, ServedModel>;
  readonly pool: InferencePool;
  readonly metrics: ServeMetrics;
  /** Starts listening; resolves to the address (http(s)://host:port). */
  listen(): Promise<string>;
  /** Stops taking requests, lets in-flight ones finish, stops the workers. */
  close(): Promise<void>;
  /** Tensor bytes the workers hold per model (the model once, plus each tier's protected layers). */
  memory(): ReturnType<InferencePool['memory']>;
}

interface RequestFacts {
  model: string;
  tier: string;
  code?: ServeErrorCode;
}

/**
 * A client's X-Request-Id that the server takes as the request's id (and answers with): short, and
 * only characters that are safe in a header and a log line. Any other is replaced by the server's own.
 */
const CLIENT_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

function fastifyOptions(config: ServeConfig, logger: ServiceOptions['logger']): FastifyServerOptions & Record<string, unknown> {
  let served = 0;
  const options: FastifyServerOptions & Record<string, unknown> = {
    // Every answer carries X-Request-Id: the client's when it sent a usable one (to follow a request
    // through proxies, logs and load tests that must pair answers with requests), else req-N.
    genReqId: (req) => {
      const id = req.headers['x-request-id'];
      return typeof id === 'string' && CLIENT_REQUEST_ID.test(id) ? id : `req-${++served}`;
    },
    bodyLimit: config.limits.bodyBytes,
    // The HTTP server's own bound on a request (a slow client), above the inference timeout.
    requestTimeout: config.limits.requestTimeoutMs + 5_000,
    logger: logger ? { level: logger.level ?? 'info', stream: logger.stream, redact: ['req.headers.authorization', 'req.headers.cookie'] } : false,
  };
  if (config.tls) options.https = { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) };
  return options;
}

/** Loads the models, builds the routes; the service is ready to listen (or to `app.inject`). */
export async function createService(config: ServeConfig, options: ServiceOptions = {}): Promise<Service> {
  let pool: InferencePool | undefined;
  const metrics = new ServeMetrics(
    () => pool!.memory(),
    () => pool!.queued,
  );
  // Without a worker count the workers follow the cores (config.ts, defaultWorkers).
  const { workers, threads } = config.batching.workers === undefined ? defaultWorkers(config.batching) : config.batching;
  pool = new InferencePool({
    workers,
    maxBatch: config.batching.maxBatch,
    maxWaitMs: config.batching.maxWaitMs,
    pipeline: config.batching.pipeline,
    threads,
    devices: config.batching.devices,
    modelDevices: Object.fromEntries(config.models.flatMap((m) => (m.device ? [[m.name, m.device]] : []))),
    onBatch: (model, tier, size) => metrics.batches.observe({ model, tier: String(tier) }, size),
  });
  const models = new Map<string, ServedModel>();
  try {
    for (const m of config.models) models.set(m.name, await loadServedModel(m, pool));
  } catch (e) {
    await pool.close();
    throw e;
  }
  const app = Fastify(fastifyOptions(config, options.logger));
  const keys = new ApiKeys(config.apiKeys);
  const facts = new WeakMap<FastifyRequest, RequestFacts>();
  let ready = true;

  app.addContentTypeParser(['image/png', 'image/jpeg'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  if (config.limits.rateLimit) {
    const { max, windowMs } = config.limits.rateLimit;
    await app.register(rateLimit, {
      max,
      timeWindow: windowMs,
      // Per credential (its hash: the limiter's store never holds a key), per address without one.
      keyGenerator: (req) => (req.headers.authorization ? `k:${hashApiKey(req.headers.authorization)}` : `ip:${req.ip}`),
      allowList: (req) => !req.url.startsWith('/v1/'),
      errorResponseBuilder: (_req, ctx) => Object.assign(new ServeError('rate-limited', `rate limit: ${ctx.max} requests per ${ctx.after}; retry later`), { statusCode: 429 }),
    });
  }

  // Every answer names its request (genReqId above). While closing, every answer ends its
  // connection, so keep-alive clients do not hold the close. Hooks in callback style: an async hook costs a promise per request.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    if (!ready) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (req, reply, done) => {
    const f = facts.get(req) ?? { model: '', tier: '' };
    const labels = { route: req.routeOptions.url ?? 'unknown', model: f.model, tier: f.tier, status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.latency.observe(labels, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400) metrics.errors.inc({ ...labels, code: f.code ?? 'internal' });
    done();
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    let e: ServeError;
    if (err instanceof ServeError) e = err;
    else if (err.statusCode === 429) e = new ServeError('rate-limited', err.message);
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new ServeError('too-large', `the request body is larger than the ${config.limits.bodyBytes} bytes this server takes`);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new ServeError('unsupported-media-type', 'send image/png, image/jpeg or application/json');
    else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) e = new ServeError('bad-request', err.message);
    else {
      req.log.error({ err }, 'request failed');
      e = new ServeError('internal', 'internal error (see the server log)');
    }
    const f = facts.get(req) ?? { model: '', tier: '' };
    facts.set(req, { ...f, code: e.code });
    if (e.code === 'rate-limited') reply.header('retry-after', reply.getHeader('retry-after') ?? '60');
    reply.code(e.status).send(errorBody(e.code, e.message));
  });

  app.setNotFoundHandler((req, reply) => {
    facts.set(req, { model: '', tier: '', code: 'not-found' });
    reply.code(404).send(errorBody('not-found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (!ready) return reply.code(503).send({ status: 'shutting-down', models: models.size });
    return { status: 'ready', models: models.size };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/v1/models', async () => ({ models: [...models.values()].map((m) => m.info) }));

  /** The model and tier of a request, recorded for the metrics. */
  async function resolve(req: FastifyRequest<{ Params: { name: string }; Querystring: Record<string, string> }>): Promise<{ model: ServedModel; tier: number }> {
    const model = models.get(req.params.name);
    if (!model) {
      facts.set(req, { model: '', tier: '' });
      throw new ServeError('unknown-model', `no model named '${req.params.name}' (GET /v1/models lists them)`);
    }
    facts.set(req, { model: model.name, tier: '' });
    const credential = credentialOf(req.headers.authorization, keys, config.anonymous);
    const tier = await answeringTier(credential, model, requestedTier(req.query.tier));
    facts.set(req, { model: model.name, tier: String(tier) });
    return { model, tier };
  }

  app.post<{ Params: { name: string }; Querystring: Record<string, string> }>('/v1/models/:name/classify', async (req, reply): Promise<ClassifyResult> => {
    const { model, tier } = await resolve(req);
    if (model.task !== 'classify') throw new ServeError('bad-request', `model ${model.name} is a ${model.info.kind}: POST /v1/models/${model.name}/denoise`);
    return classify(model, tier, req.headers['content-type'], req.body, req.query, pool, config.limits, clientGone(reply));
  });

  app.post<{ Params: { name: string }; Querystring: Record<string, string> }>('/v1/models/:name/denoise', async (req, reply: FastifyReply) => {
    const { model, tier } = await resolve(req);
    if (model.task !== 'denoise') throw new ServeError('bad-request', `model ${model.name} is a ${model.info.kind}: POST /v1/models/${model.name}/classify`);
    const r = await denoise(model, tier, req.headers['content-type'], req.body, req.query, pool, config.limits, clientGone(reply));
    reply.header('content-type', 'image/png').header('x-tier', String(tier)).header('x-model', model.name);
    if (r.psnr !== undefined) reply.header('x-psnr', r.psnr.toFixed(3));
    return reply.send(r.png);
  });

  const service: Service = {
    app,
    config,
    models,
    pool,
    metrics,
    async listen() {
      return app.listen({ host: config.host, port: config.port });
    },
    async close() {
      ready = false;
      await app.close();
      await pool.close();
    },
    memory: () => pool.memory(),
  };
  await registerPlugins(app, service, [...SERVICE_PLUGINS, ...(options.plugins ?? [])]);
  return service;
}

/**
 * Fires when the client closes the connection before its answer is sent (its images then leave the
 * queue). A listener on the response's close, not an AbortController: that cost about 3 % of the
 * main thread's CPU per request under load.
 */
function clientGone(reply: FastifyReply): CancelSignal {
  return {
    addEventListener(_type, listener) {
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) listener();
      });
    },
  };
}

/** The one place plugins join the server: each is registered with the service as its option. */
async function registerPlugins(app: FastifyInstance, service: Service, plugins: readonly ServicePlugin[]): Promise<void> {
  for (const plugin of plugins) await app.register(plugin, { service });
}
