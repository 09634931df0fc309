// `nnlock serve hash-key [KEY]`: the SHA-256 a config stores for an API key; without KEY, a fresh
// random key and its hash (the key is shown once: give it to the client, keep only the hash).
import type { Command } from 'commander';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { hashApiKey, newApiKey } from '../../../serve/api-keys.ts';

export function registerServeHashKey(serve: Command, io: CliIO): void {
  const cmd = serve
    .command('hash-key')
    .argument('[key]', 'an API key to hash (default: make a new random one)')
    .description("make an API key (or take yours) and print the SHA-256 the server's config stores")
    .addHelpText('after', '\nExample:\n  nnlock serve hash-key    # prints a new key and {"name": "…", "sha256": "…", "tier": …} to paste into the config');
  withOutputFlags(cmd).action((key: string | undefined, _o: unknown, command: Command) => {
    // `serve` has --json too and commander gives it the flag: read both levels.
    const out = new Output(io, command.optsWithGlobals<{ json?: boolean; quiet?: boolean }>());
    const made = key === undefined;
    const apiKey = key ?? newApiKey();
    const sha256 = hashApiKey(apiKey);
    out.result(made ? { key: apiKey, sha256 } : { sha256 }, [
      ...(made ? [`key:    ${apiKey}   (give it to the client; it is not stored anywhere)`] : []),
      `sha256: ${sha256}`,
      `config: {"name": "<who>", "sha256": "${sha256}", "tier": <m>}`,
    ]);
  });
}
