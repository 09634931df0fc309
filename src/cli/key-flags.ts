// The key of a protected model, as any command takes it: --token (one tier token), --keys (a key
// file) or $NNLOCK_KEY. One reader, so every command refuses the same mistakes the same way.
import { looksLikeSecret } from '../io/regular-file.ts';
import { readKeyToken } from '../protect/index.ts';
import { UsageError } from './errors.ts';

export interface KeyFlags {
  token?: string;
  keys?: string;
}

/** The tier token the flags or $NNLOCK_KEY give, or undefined when none does. */
export async function tokenFromFlags(o: KeyFlags, env: Record<string, string | undefined>): Promise<string | undefined> {
  if (o.token !== undefined && o.keys !== undefined) throw new UsageError('give --token or --keys, not both');
  if (o.token !== undefined) return o.token;
  if (o.keys !== undefined) {
    // A token pasted where the key FILE goes must not be echoed in "cannot read key file <token>".
    if (looksLikeSecret(o.keys)) throw new UsageError('--keys expects a key file, but got what looks like a key token (not shown): pass a token with --token or $NNLOCK_KEY');
    // readKeyToken refuses what is not a regular file of key-file size (a FIFO, a device).
    return readKeyToken(o.keys);
  }
  return env.NNLOCK_KEY || undefined;
}
