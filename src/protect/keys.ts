// Key files and key tokens for protected models. A key file is text: comment lines (#) saying
// what it is, then one token per line, "tier <m>: nnlock1-t<m>-…". The highest tier in a file is
// the one that counts (it derives all below). Key files are written with mode 0600, atomically,
// and never over an existing file unless asked: a lost master key cannot be recovered.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.ts';
import { type DecodedKeyToken, KeyError, decodeKeyToken, encodeKeyToken, tierKey, verifyKeyCheck } from '../crypto/index.ts';
import type { ProtectHeader } from './format.ts';

export interface KeyFileInfo {
  /** Tokens of the tiers to write, any order. */
  tokens: readonly string[];
  modelId: string;
  tiers: number;
  /** The protected file the keys belong to (for the comment). */
  model?: string;
}

export function formatKeyFile(info: KeyFileInfo): string {
  const decoded = info.tokens.map((t) => ({ t, tier: decodeKeyToken(t).tier })).sort((a, b) => b.tier - a.tier);
  const lines = [
    '# nnlock key file: keep it secret. A key of tier m unlocks tiers 1..m; give each user only their tier\'s line.',
    `# model ${info.modelId}${info.model ? ` (${info.model})` : ''}, ${info.tiers} tier${info.tiers === 1 ? '' : 's'}`,
    ...decoded.map(({ t, tier }) => `tier ${tier}${tier === info.tiers ? ' (master)' : ''}: ${t}`),
  ];
  return `${lines.join('\n')}\n`;
}

export async function writeKeyFile(path: string, text: string, options: { force?: boolean } = {}): Promise<void> {
  if (!options.force && existsSync(path)) throw new Error(`${path} exists: refusing to overwrite a key file (use --force)`);
  await writeFileAtomic(path, text, { mode: 0o600 });
}

/** Every token in a key file's text (or a bare token). */
export function parseKeyTokens(text: string): DecodedKeyToken[] {
  const candidates = text.split('\n').filter((l) => !l.trim().startsWith('#')).flatMap((l) => l.match(/nnlock1-\S+/g) ?? []);
  if (candidates.length === 0) throw new KeyError('MALFORMED_TOKEN', 'malformed key token: no nnlock1-… token found');
  return candidates.map((c) => decodeKeyToken(c));
}

/** The highest-tier key of a key file. */
export async function readKeyFile(path: string): Promise<DecodedKeyToken> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read key file ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const tokens = parseKeyTokens(text);
  return tokens.reduce((best, t) => (t.tier > best.tier ? t : best));
}

/** Token of a lower tier from a key of a protected model (checked against the model first). */
export function deriveTierToken(header: ProtectHeader, key: DecodedKeyToken, tier: number): string {
  const modelId = new Uint8Array(Buffer.from(header.modelId, 'hex'));
  if (key.tier < 1 || key.tier > header.tiers) throw new KeyError('WRONG_KEY', `wrong key: it is a tier-${key.tier} key, but this model has tiers 1..${header.tiers}`);
  verifyKeyCheck(key.key, modelId, key.tier, header.keyChecks[key.tier - 1]);
  if (!Number.isInteger(tier) || tier < 1) throw new RangeError(`tier must be an integer ≥ 1, got ${tier}`);
  const k = tierKey(key.key, key.tier, tier, modelId);
  try {
    return encodeKeyToken({ tier, key: k });
  } finally {
    k.fill(0);
  }
}
