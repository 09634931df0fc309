// nnlock as a service: `nnlock serve`'s library. createService(config) loads the models into
// inference workers and builds the HTTP API (server.ts); the config comes from flags or a JSON
// file (config.ts); API keys are stored hashed (api-keys.ts).
export { type Service, type ServiceOptions, createService } from './server.ts';
export {
  type ServeConfig,
  type ModelConfig,
  type ApiKeyConfig,
  type Limits,
  type Batching,
  ConfigError,
  DEFAULT_BATCHING,
  DEFAULT_LIMITS,
  MAX_DEFAULT_WORKERS,
  defaultWorkers,
  readServeConfig,
  serveConfig,
} from './config.ts';
export { API_KEY_PREFIX, ApiKeys, hashApiKey, newApiKey } from './api-keys.ts';
export { type ModelInfo, type ModelKind, ServedModel } from './catalog.ts';
export { InferencePool, type PoolOptions, type RunResult } from './pool.ts';
export { ServeError, type ServeErrorCode } from './errors.ts';
export { SERVICE_PLUGINS, type ServicePlugin } from './plugins.ts';
export type { ClassifyResult, TopClass } from './handlers.ts';
export { type RunServiceOptions, runService } from './run.ts';
