// Transitional: what src/cli/commands/er.ts (0.1's `er` commands, being moved by the er branch)
// still imports from here. The cipher commands are in commands/cipher/ and commands/attack/;
// delete this file together with er.ts.
import { basename } from 'node:path';
import type { CipherKey } from '../../cipher/key.ts';
import type { LearnedDecryptionReport } from '../../attacks/learned.ts';
import { learnedMarkdown as markdown } from '../../attacks/learned-attack.ts';

export { writeLearnedGrid as writeCipherGrid } from '../../attacks/learned-attack.ts';

export function intArg(value: string, name: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

export function numberArg(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got '${value}'`);
  return n;
}

export function learnedMarkdown(modelPath: string, adaptation: string, key: CipherKey, r: LearnedDecryptionReport): string {
  return markdown(basename(modelPath), adaptation, key, r);
}
