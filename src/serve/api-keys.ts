// The owner's API keys: random strings handed to clients, each mapped to a tier in the config and
// stored there only as its SHA-256 (a key is 32 random bytes, so a plain hash is enough: there is
// no password to guess). A request's key is hashed and looked up; the key itself is never kept.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from './config.ts';

/** The prefix of keys made by newApiKey (so a key is told from a tier token at a glance). */
export const API_KEY_PREFIX = 'nnk_';

/** A fresh API key: nnk_ and 32 random bytes, base64url. */
export function newApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** SHA-256 of a key, hex: what the config stores. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The configured keys, looked up by the hash of what a client presents. */
export class ApiKeys {
  private readonly byHash = new Map<string, ApiKeyConfig>();

  constructor(keys: readonly ApiKeyConfig[]) {
    for (const k of keys) this.byHash.set(k.sha256, k);
  }

  /** The entry of a presented key, or undefined. The comparison of hashes is constant-time. */
  find(presented: string): ApiKeyConfig | undefined {
    const hash = hashApiKey(presented);
    const entry = this.byHash.get(hash);
    if (!entry) return undefined;
    return timingSafeEqual(Buffer.from(entry.sha256, 'hex'), Buffer.from(hash, 'hex')) ? entry : undefined;
  }
}
