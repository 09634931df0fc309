// Key files and key tokens for protected models. A key file is text: comment lines (#) saying
// what it is, then one token per line, "tier <m>: nnlock1-t<m>-…". The highest tier in a file is
// the one that counts (it derives all below). Key files are written with mode 0600, atomically,
// and never over an existing file unless asked: a lost master key cannot be recovered.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.ts';
import { type DecodedKeyToken, KeyError, decodeKeyToken } from '../crypto/index.ts';

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
    "# nnlock key file: keep it secret. A key of tier m unlocks tiers 1..m; give each user only their tier's line.",
    `# model ${info.modelId}${info.model ? ` (${info.model})` : ''}, ${info.tiers} tier${info.tiers === 1 ? '' : 's'}`,
    ...decoded.map(({ t, tier }) => `tier ${tier}${tier === info.tiers ? ' (master)' : ''}: ${t}`),
  ];
  return `${lines.join('\n')}\n`;
}

export async function writeKeyFile(path: string, text: string, options: { force?: boolean } = {}): Promise<void> {
  if (!options.force && existsSync(path)) throw new Error(`${path} exists: refusing to overwrite a key file (use --force)`);
  await writeFileAtomic(path, text, { mode: 0o600 });
}

/** The highest-tier key of a key file. */
export async function readKeyFile(path: string): Promise<DecodedKeyToken> {
  return decodeKeyToken(await readKeyToken(path));
}

/** The token of the highest tier in a key file's text (or a bare token). */
export function highestToken(text: string): string {
  const candidates = text
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .flatMap((l) => l.match(/nnlock1-\S+/g) ?? []);
  if (candidates.length === 0) throw new KeyError('MALFORMED_TOKEN', 'malformed key token: no nnlock1-… token found');
  let best = { tier: -1, token: '' };
  for (const c of candidates) {
    const d = decodeKeyToken(c);
    d.key.fill(0);
    if (d.tier > best.tier) best = { tier: d.tier, token: c };
  }
  return best.token;
}

/** The highest-tier token of a key file (it derives every tier below). */
export async function readKeyToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read key file ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return highestToken(text);
}
