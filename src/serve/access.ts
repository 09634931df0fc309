// Which tier a request gets. The credential is `Authorization: Bearer <API key or tier token>`:
//   - none: tier 0 (the published model), or a 401 when the config says anonymous: "deny";
//   - an owner's API key (found by its hash): the tier the config grants it on this model, or a
//     401 when it is revoked;
//   - a tier token (nnlock1-t<m>-…): its own tier, once checked against the model's key checks;
//     when the server does not hold that tier yet, the token unlocks it (in memory, cached by tier)
//     and is then dropped;
//   - anything else: a 401.
// `?tier=m` asks for a lower tier than the credential gives; a higher one is a 403.
import type { ServedModel } from './catalog.ts';
import type { ApiKeys } from './api-keys.ts';
import { ServeError } from './errors.ts';

export interface Credential {
  kind: 'anonymous' | 'api-key' | 'token';
  /** The API key's name (never the key); for tokens and anonymous requests, the kind. */
  who: string;
  /** Only for tokens: the presented token (used to unlock, never stored). */
  token?: string;
  /** Only for API keys: tier granted by model name, and on every model. */
  grant?: { tier?: number; tiers?: Record<string, number> };
}

const TOKEN = /^nnlock1-/;

/** The credential of an Authorization header (not yet checked against a model). */
export function credentialOf(header: string | undefined, keys: ApiKeys, anonymous: 'tier0' | 'deny'): Credential {
  if (header === undefined || header === '') {
    if (anonymous === 'deny') throw new ServeError('unauthorized', 'this server needs credentials: send Authorization: Bearer <API key or tier token>');
    return { kind: 'anonymous', who: 'anonymous' };
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new ServeError('unauthorized', 'the Authorization header must be "Bearer <API key or tier token>"');
  const presented = m[1];
  if (TOKEN.test(presented)) return { kind: 'token', who: 'token', token: presented };
  const entry = keys.find(presented);
  if (!entry) throw new ServeError('unauthorized', 'unknown API key');
  if (entry.revoked) throw new ServeError('unauthorized', `API key '${entry.name}' was revoked`);
  return { kind: 'api-key', who: entry.name, grant: { tier: entry.tier, tiers: entry.tiers } };
}

/** The highest tier a credential gives on a model. */
export function grantedTier(c: Credential, model: ServedModel): number {
  if (c.kind === 'anonymous') return 0;
  if (c.kind === 'token') return model.tokenTier(c.token!);
  const t = c.grant!.tiers?.[model.name] ?? c.grant!.tier;
  if (t === undefined) throw new ServeError('forbidden-tier', `API key '${c.who}' grants no tier of model ${model.name}`);
  return Math.min(t, model.topTier);
}

/** Parses ?tier=m: undefined when absent. */
export function requestedTier(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw === '' || !Number.isInteger(n) || n < 0) throw new ServeError('bad-request', `tier must be an integer ≥ 0, got '${String(raw)}'`);
  return n;
}

/**
 * The tier that answers: the credential's, or the lower one asked for; the workers hold it when
 * this resolves (a token may unlock it now).
 */
export async function answeringTier(c: Credential, model: ServedModel, asked: number | undefined): Promise<number> {
  const granted = grantedTier(c, model);
  if (asked !== undefined && asked > model.topTier) throw new ServeError('forbidden-tier', `tier ${asked} does not exist: model ${model.name} has tiers 0..${model.topTier}`);
  if (asked !== undefined && asked > granted) throw new ServeError('forbidden-tier', `your credentials give tier ${granted} of model ${model.name}, not tier ${asked}`);
  const tier = asked ?? granted;
  await model.ensureTier(tier, c.kind === 'token' ? c.token : undefined);
  return tier;
}
