// nnlock's cache folder: what is slow to make and the same every time (a model the demo trains)
// is kept under $NNLOCK_CACHE_DIR, else $XDG_CACHE_HOME/nnlock, else ~/.cache/nnlock (the XDG base
// directory convention). The environment is passed in, so the library reads no process state.
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache folder the environment `env` names (see the top of this file). */
export function cacheDir(env: Record<string, string | undefined>): string {
  if (env.NNLOCK_CACHE_DIR) return env.NNLOCK_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'nnlock');
  return join(homedir(), '.cache', 'nnlock');
}

/**
 * A short name for what was made from `recipe` (every setting that changes the result): 16 hex
 * characters of the SHA-256 of its canonical JSON (keys sorted), so a changed setting makes a new
 * cache entry instead of reusing a stale one.
 */
export function recipeKey(recipe: Record<string, unknown>): string {
  const canonical = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
        )
      : Array.isArray(v)
        ? v.map(canonical)
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(recipe)))
    .digest('hex')
    .slice(0, 16);
}
