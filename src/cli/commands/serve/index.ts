// `nnlock serve`: the HTTP service (src/serve). `nnlock serve --model NAME=FILE --keys KEYFILE
// --port P` serves one model at every tier of its key file; `--config FILE` serves what a JSON
// config lists (models, API keys, limits, batching); `nnlock serve hash-key` makes an API key and
// the hash the config stores.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerServeStart } from './start.ts';
import { registerServeHashKey } from './hash-key.ts';

/** `serve` is new in 0.2: nothing moved. */
export const legacyServe: MovedCommand[] = [];

export function registerServe(program: Command, io: CliIO): void {
  const serve = registerServeStart(program, io);
  registerServeHashKey(serve, io);
}
