// The connection flags every `nnlock client` verb takes: --server and one credential (--token,
// --keys, --api-key or their environment variables), and the one-line form of a server's refusal.
import type { Option } from 'commander';
import { UsageError } from '../../errors.ts';
import { FLAG, option } from '../../options.ts';
import { type KeyFlags, tokenFromFlags } from '../../key-flags.ts';
import { looksLikeSecret } from '../../../io/regular-file.ts';
import { type Connection, ServiceError } from '../../../web/client.ts';

export interface ConnectionFlags extends KeyFlags {
  server?: string;
  apiKey?: string;
}

/** --server, and one credential: --token, --keys (the highest tier's token) or --api-key. */
export function connectionOptions(): Option[] {
  return [
    option('--server <url>', 'the server, e.g. http://127.0.0.1:8080 (default $NNLOCK_SERVER)'),
    option(FLAG.token, "a tier token of the model's key file (default $NNLOCK_KEY); never printed"),
    option(FLAG.keys, "the protected model's key file: its highest tier's token is sent"),
    option('--api-key <key>', 'an API key the server owner gave you (default $NNLOCK_API_KEY); never printed'),
  ];
}

export async function connectionFrom(o: ConnectionFlags, env: Record<string, string | undefined>): Promise<Connection> {
  const server = o.server ?? env.NNLOCK_SERVER;
  if (!server) throw new UsageError('give the server with --server URL (or $NNLOCK_SERVER)');
  if (!/^https?:\/\/[^/]/.test(server)) throw new UsageError(`--server must be an http:// or https:// URL${looksLikeSecret(server) ? '' : `, got '${server}'`}`);
  const given = [o.token !== undefined, o.keys !== undefined, o.apiKey !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError('give one credential: --token, --keys or --api-key');
  const apiKey = o.apiKey ?? (o.token === undefined && o.keys === undefined ? env.NNLOCK_API_KEY || undefined : undefined);
  const credential = apiKey ?? (await tokenFromFlags(o, env));
  return { server, credential };
}

/** A refusal of the server as one line: status, code and its message (never the credential). */
export function serviceFailure(e: unknown): unknown {
  if (!(e instanceof ServiceError)) return e;
  if (e.status === 0) return new Error(e.message);
  return new Error(`the server answered ${e.status} (${e.code}): ${e.message}`);
}
