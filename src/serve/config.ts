// What a service serves and how: the models, the API keys, the limits and the batching. One
// object, from command-line flags (`nnlock serve --model NAME=FILE --keys KEYFILE`) or from a JSON
// config file, checked here once so that the server can trust it.
//
// A config file:
//   {
//     "models": [
//       { "name": "resnet", "weights": "resnet20.protected.safetensors", "keys": "resnet20.keys" },
//       { "name": "dncnn", "weights": "dncnn.protected.safetensors", "keys": "dncnn.keys", "tiers": [0, 1, 3] },
//       { "name": "er", "weights": "er-model.safetensors" }
//     ],
//     "apiKeys": [
//       { "name": "alice", "sha256": "<64 hex digits: `nnlock serve hash-key`>", "tier": 2 },
//       { "name": "bob", "sha256": "…", "tiers": { "resnet": 3 }, "revoked": true }
//     ],
//     "anonymous": "tier0",          // or "deny": requests without credentials get a 401
//     "limits": { "bodyBytes": 8388608, "imagePixels": 4000000, "imagesPerRequest": 64,
//                 "requestTimeoutMs": 30000, "rateLimit": { "max": 600, "windowMs": 60000 } },
//     "batching": { "maxBatch": 64, "maxWaitMs": 5, "workers": 2, "threads": 1 }
//   }
// Without "workers", the workers follow the cores: one worker of one libtorch thread per core (at
// most MAX_DEFAULT_WORKERS: each holds every model), or cores / "threads" workers of "threads"
// threads, or one per entry of "devices". With "workers" and no "threads", libtorch keeps the
// threads init() gave it (every core, or NNLOCK_THREADS).
// GPUs: "device": "cuda:1" on a model runs it there in every worker; "batching": {"workers": 4,
// "devices": ["cuda:0", "cuda:1"]} pins worker i to devices[i % 2] (for the models without their
// own). Default: the CPU. Each is checked at startup against the GPUs this libtorch sees.
// Paths are relative to the config file's folder.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DeviceError, parseDevice } from '../tensor/device.ts';

export interface ModelConfig {
  /** The name in URLs: /v1/models/NAME/classify. */
  name: string;
  /** Weights: a plain or protected model (safetensors), or an Encryption-Robust model file. */
  weights: string;
  /** The protected model's key file: the server unlocks its tiers in memory. Without it, tier 0 and tokens clients bring. */
  keys?: string;
  /** Tiers to unlock at start (default every tier the key file reaches); others on first use (with the key file, or a client's token). */
  tiers?: number[];
  /** Architecture, when the weights do not say it. */
  arch?: string;
  /** Class names (default: the weights' class_names, else CIFAR-10's for 10 classes, else "0", "1", …). */
  classes?: string[];
  /** A classifier's input size (default 32×32, CIFAR's). */
  input?: { height: number; width: number };
  /** Resize uploads to the input size instead of refusing other sizes (default false). */
  resize?: boolean;
  /** Where this model runs in every worker: cpu, cuda, cuda:i (default: the worker's device). */
  device?: string;
}

export interface ApiKeyConfig {
  /** Who the key belongs to (for logs and metrics; the key itself is never logged). */
  name: string;
  /** SHA-256 of the key, hex (`nnlock serve hash-key`). */
  sha256: string;
  /** Tier granted on every model (capped at each model's top tier). */
  tier?: number;
  /** Tier granted per model name (overrides `tier`). */
  tiers?: Record<string, number>;
  /** A revoked key is refused with a 401 that says so. */
  revoked?: boolean;
}

export interface Limits {
  /** Largest request body in bytes (default 8 MiB). */
  bodyBytes: number;
  /** Most pixels (width × height) an uploaded image may have (default 4 megapixels). */
  imagePixels: number;
  /** Most images in one classify request (default 64). */
  imagesPerRequest: number;
  /** Longest a request may wait for its inference, ms (default 30 s): then a 503 'timeout'. */
  requestTimeoutMs: number;
  /** Requests per window per credential (per client address without one); false: no limit. */
  rateLimit: { max: number; windowMs: number } | false;
}

export interface Batching {
  maxBatch: number;
  maxWaitMs: number;
  /** Inference workers; undefined: they follow the cores (defaultWorkers(), resolved when the service starts). */
  workers?: number;
  /** libtorch intra-op threads (default: 1 when the workers follow the cores; else leave as init() set them). */
  threads?: number;
  /** Worker i runs on devices[i % devices.length] (cpu, cuda, cuda:i); default every worker on the CPU. */
  devices?: string[];
  /** Batches a worker holds at once, the one it runs included (default 2: pool.ts says why; 1: none sent ahead). */
  pipeline?: number;
}

export interface ServeConfig {
  models: ModelConfig[];
  apiKeys: ApiKeyConfig[];
  /** Requests without credentials: tier 0 (the published model) or a 401. */
  anonymous: 'tier0' | 'deny';
  limits: Limits;
  batching: Batching;
  host: string;
  port: number;
  /** PEM files for HTTPS; without them the server speaks plain HTTP (put it behind a TLS proxy). */
  tls?: { cert: string; key: string };
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  bodyBytes: 8 * 1024 * 1024,
  imagePixels: 4_000_000,
  imagesPerRequest: 64,
  requestTimeoutMs: 30_000,
  rateLimit: { max: 600, windowMs: 60_000 },
});

/** Most workers the default gives (each worker holds every model, and starts libtorch). */
export const MAX_DEFAULT_WORKERS = 8;

/**
 * Workers (and their libtorch threads) when the config does not say: workers × threads = cores,
 * which is what served best on 2 cores (two workers of one thread: bench/results/serve.md; one
 * worker of two threads collapses when anything else runs, its OpenMP threads waiting for each
 * other). On GPUs, one worker per listed device.
 */
export function defaultWorkers(o: { threads?: number; devices?: readonly string[] } = {}, cores = availableParallelism()): { workers: number; threads?: number } {
  if (o.devices?.length) return { workers: o.devices.length, threads: o.threads };
  const threads = o.threads ?? 1;
  return { workers: Math.max(1, Math.min(MAX_DEFAULT_WORKERS, Math.floor(cores / threads))), threads };
}

/** The batching defaults (workers and threads: defaultWorkers(), when the service starts). */
export const DEFAULT_BATCHING: Readonly<Batching> = Object.freeze({ maxBatch: 64, maxWaitMs: 5 });

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HEX64 = /^[0-9a-f]{64}$/;

function positiveInt(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new ConfigError(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function tierNumber(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 0) throw new ConfigError(`${what} must be a tier (an integer ≥ 0), got ${JSON.stringify(v)}`);
  return v as number;
}

/** A device name checked against the GPUs this libtorch sees (cpu needs none). */
function device(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ConfigError(`${what} must be a device name (cpu, cuda, cuda:<index>), got ${JSON.stringify(v)}`);
  try {
    return parseDevice(v);
  } catch (e) {
    if (e instanceof DeviceError) throw new ConfigError(`${what}: ${e.message}`);
    throw e;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a config given as a partial object (defaults filled in); paths resolve against `base`. */
export function serveConfig(raw: unknown, base = process.cwd()): ServeConfig {
  if (!isObject(raw)) throw new ConfigError('the config must be a JSON object');
  const known = new Set(['models', 'apiKeys', 'anonymous', 'limits', 'batching', 'host', 'port', 'tls']);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new ConfigError(`unknown config entry '${k}' (expected ${[...known].join(', ')})`);
  if (!Array.isArray(raw.models) || raw.models.length === 0) throw new ConfigError('the config lists no models ("models": [{"name", "weights", "keys"?}, ...])');
  const names = new Set<string>();
  const models = raw.models.map((m, i): ModelConfig => {
    if (!isObject(m)) throw new ConfigError(`models[${i}] must be an object`);
    if (typeof m.name !== 'string' || !NAME.test(m.name)) throw new ConfigError(`models[${i}].name must be letters, digits, '.', '_' or '-' (at most 64), got ${JSON.stringify(m.name)}`);
    if (names.has(m.name)) throw new ConfigError(`model name '${m.name}' is listed twice`);
    names.add(m.name);
    if (typeof m.weights !== 'string' || m.weights === '') throw new ConfigError(`models[${i}] (${m.name}) needs "weights": a safetensors file`);
    if (m.keys !== undefined && typeof m.keys !== 'string') throw new ConfigError(`models[${i}].keys must be a key file path`);
    const out: ModelConfig = { name: m.name, weights: resolve(base, m.weights) };
    if (m.keys !== undefined) out.keys = resolve(base, m.keys as string);
    if (m.tiers !== undefined) {
      if (!Array.isArray(m.tiers)) throw new ConfigError(`models[${i}].tiers must be a list of tiers`);
      out.tiers = m.tiers.map((t, j) => tierNumber(t, `models[${i}].tiers[${j}]`));
    }
    if (m.arch !== undefined) out.arch = String(m.arch);
    if (m.classes !== undefined) {
      if (!Array.isArray(m.classes) || !m.classes.every((c) => typeof c === 'string')) throw new ConfigError(`models[${i}].classes must be a list of names`);
      out.classes = m.classes as string[];
    }
    if (m.input !== undefined) {
      if (!isObject(m.input)) throw new ConfigError(`models[${i}].input must be {"height", "width"}`);
      out.input = { height: positiveInt(m.input.height, `models[${i}].input.height`), width: positiveInt(m.input.width, `models[${i}].input.width`) };
    }
    if (m.resize !== undefined) out.resize = m.resize === true;
    if (m.device !== undefined) out.device = device(m.device, `models[${i}].device`);
    return out;
  });
  const apiKeys = (raw.apiKeys === undefined ? [] : raw.apiKeys) as unknown[];
  if (!Array.isArray(apiKeys)) throw new ConfigError('apiKeys must be a list');
  const hashes = new Set<string>();
  const keys = apiKeys.map((k, i): ApiKeyConfig => {
    if (!isObject(k)) throw new ConfigError(`apiKeys[${i}] must be an object`);
    if (typeof k.name !== 'string' || k.name === '') throw new ConfigError(`apiKeys[${i}] needs a "name"`);
    const hash = typeof k.sha256 === 'string' ? k.sha256.toLowerCase() : '';
    if (!HEX64.test(hash))
      throw new ConfigError(`apiKeys[${i}] (${k.name}) needs "sha256": 64 hex digits, the key's SHA-256 (make one with \`nnlock serve hash-key\`); keys are never stored in the clear`);
    if (hashes.has(hash)) throw new ConfigError(`apiKeys[${i}] (${k.name}): this key is listed twice`);
    hashes.add(hash);
    const out: ApiKeyConfig = { name: k.name, sha256: hash };
    if (k.tier !== undefined) out.tier = tierNumber(k.tier, `apiKeys[${i}].tier`);
    if (k.tiers !== undefined) {
      if (!isObject(k.tiers)) throw new ConfigError(`apiKeys[${i}].tiers must map model names to tiers`);
      out.tiers = {};
      for (const [model, t] of Object.entries(k.tiers)) {
        if (!names.has(model)) throw new ConfigError(`apiKeys[${i}].tiers names model '${model}', which the config does not list`);
        out.tiers[model] = tierNumber(t, `apiKeys[${i}].tiers.${model}`);
      }
    }
    if (out.tier === undefined && out.tiers === undefined) throw new ConfigError(`apiKeys[${i}] (${k.name}) grants no tier: give "tier" or "tiers"`);
    if (k.revoked !== undefined) out.revoked = k.revoked === true;
    return out;
  });
  const anonymous = raw.anonymous ?? 'tier0';
  if (anonymous !== 'tier0' && anonymous !== 'deny') throw new ConfigError(`anonymous must be "tier0" or "deny", got ${JSON.stringify(anonymous)}`);
  const limits: Limits = { ...DEFAULT_LIMITS };
  if (raw.limits !== undefined) {
    if (!isObject(raw.limits)) throw new ConfigError('limits must be an object');
    for (const [k, v] of Object.entries(raw.limits)) {
      if (k === 'rateLimit') {
        if (v === false) limits.rateLimit = false;
        else if (isObject(v)) limits.rateLimit = { max: positiveInt(v.max, 'limits.rateLimit.max'), windowMs: positiveInt(v.windowMs ?? 60_000, 'limits.rateLimit.windowMs') };
        else throw new ConfigError('limits.rateLimit must be {"max", "windowMs"} or false');
      } else if (k in DEFAULT_LIMITS) (limits as unknown as Record<string, number>)[k] = positiveInt(v, `limits.${k}`);
      else throw new ConfigError(`unknown limit '${k}' (expected ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    }
  }
  const batching: Batching = { ...DEFAULT_BATCHING };
  if (raw.batching !== undefined) {
    if (!isObject(raw.batching)) throw new ConfigError('batching must be an object');
    for (const [k, v] of Object.entries(raw.batching)) {
      if (k === 'maxWaitMs') {
        if (typeof v !== 'number' || !(v >= 0)) throw new ConfigError(`batching.maxWaitMs must be ≥ 0, got ${JSON.stringify(v)}`);
        batching.maxWaitMs = v;
      } else if (k === 'maxBatch' || k === 'workers' || k === 'threads' || k === 'pipeline') batching[k] = positiveInt(v, `batching.${k}`);
      else if (k === 'devices') {
        if (!Array.isArray(v) || v.length === 0) throw new ConfigError('batching.devices must be a non-empty list of devices (cpu, cuda, cuda:<index>)');
        batching.devices = v.map((d, j) => device(d, `batching.devices[${j}]`));
      } else throw new ConfigError(`unknown batching entry '${k}' (expected maxBatch, maxWaitMs, workers, threads, devices, pipeline)`);
    }
  }
  const port = raw.port ?? 8080;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) throw new ConfigError(`port must be 0..65535, got ${JSON.stringify(port)}`);
  const config: ServeConfig = { models, apiKeys: keys, anonymous, limits, batching, host: typeof raw.host === 'string' ? raw.host : '127.0.0.1', port: port as number };
  if (raw.tls !== undefined) {
    if (!isObject(raw.tls) || typeof raw.tls.cert !== 'string' || typeof raw.tls.key !== 'string') throw new ConfigError('tls must be {"cert": PEM file, "key": PEM file}');
    config.tls = { cert: resolve(base, raw.tls.cert), key: resolve(base, raw.tls.key) };
  }
  return config;
}

/** Reads and checks a JSON config file (paths in it are relative to its folder). */
export async function readServeConfig(path: string): Promise<ServeConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
  try {
    return serveConfig(raw, dirname(resolve(path)));
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}: ${e.message}`);
    throw e;
  }
}
