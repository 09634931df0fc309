// Key files and key tokens for protected models. A key file is text: comment lines (#) saying
// what it is, then one token per line, "tier <m>: nnlock1-t<m>-…". The highest tier in a file is
// the one that counts (it derives all below). Key files are written with mode 0600, atomically,
// and never over an existing file unless asked: a lost master key cannot be recovered.
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.ts';
import { FileInputError, readRegularTextFile } from '../io/regular-file.ts';
import { type DecodedKeyToken, KeyError, decodeKeyToken } from '../crypto/index.ts';

export interface KeyFileInfo {
  /** Tokens of the tiers to write, any order. */
  tokens: readonly string[];
  modelId: string;
  tiers: number;
  /** The protected file the keys belong to (for the comment). */
  model?: string;
  /** The owner's signer (for the comment: the tokens carry it too). */
  signer?: string;
}

export function formatKeyFile(info: KeyFileInfo): string {
  const decoded = info.tokens.map((t) => ({ t, tier: decodeKeyToken(t).tier })).sort((a, b) => b.tier - a.tier);
  const lines = [
    "# nnlock key file: keep it secret. A key of tier m unlocks tiers 1..m; give each user only their tier's line.",
    `# model ${info.modelId}${info.model ? ` (${info.model})` : ''}, ${info.tiers} tier${info.tiers === 1 ? '' : 's'}`,
    ...(info.signer ? [`# signed by ${info.signer} (each token carries it: a model signed by anyone else is refused)`] : []),
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

/** The most bytes a key file may have: formatKeyFile writes about 100 bytes a tier. */
export const MAX_TIER_KEY_FILE_BYTES = 64 * 1024;

/** "tier <m>: <token>" (what formatKeyFile writes, "(master)" on the top tier) or a bare token. */
const KEY_LINE = /^(?:tier (\d+)(?: \(master\))?:\s*)?(nnlock1-\S+)$/;

/**
 * The token of the highest tier in a key file's text (or a bare token). Every line that is not
 * blank or a comment must be a whole key line, and a line's tier label must be its token's tier:
 * a damaged master line is an error, never a silent fall back to the tier below. Messages name
 * the line, never its content (it may be a secret).
 */
export function highestToken(text: string): string {
  let best = { tier: -1, token: '' };
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = KEY_LINE.exec(line);
    if (!m) throw new KeyError('MALFORMED_TOKEN', `malformed key file: line ${i + 1} is neither a comment nor "tier <m>: nnlock1-…"`);
    let d: DecodedKeyToken;
    try {
      d = decodeKeyToken(m[2]);
    } catch (e) {
      if (e instanceof KeyError) throw new KeyError(e.code, `${e.message} (key file line ${i + 1})`);
      throw e;
    }
    d.key.fill(0);
    if (m[1] !== undefined && Number(m[1]) !== d.tier) {
      throw new KeyError('MALFORMED_TOKEN', `malformed key file: line ${i + 1} says tier ${m[1]} but holds a tier-${d.tier} key`);
    }
    if (d.tier > best.tier) best = { tier: d.tier, token: m[2] };
  });
  if (best.tier < 0) throw new KeyError('MALFORMED_TOKEN', 'malformed key token: no nnlock1-… token found');
  return best.token;
}

/** The highest-tier token of a key file (it derives every tier below): a regular file of sane size. */
export async function readKeyToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readRegularTextFile(path, { what: 'key file', maxBytes: MAX_TIER_KEY_FILE_BYTES });
  } catch (e) {
    if (e instanceof FileInputError) throw new Error(`cannot read ${e.message}`, { cause: e });
    throw e;
  }
  return highestToken(text);
}
