// `nnlock protect importance|lock|unlock|keys|info`: selective protection of a model with tiered
// keys. One file per verb; each parses, calls src/protect's API and prints.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerImportanceVerb } from './importance.ts';
import { registerLockVerb } from './lock.ts';
import { registerUnlockVerb } from './unlock.ts';
import { registerKeysVerb } from './keys.ts';
import { registerInfoVerb } from './info.ts';

const VERBS = ['importance', 'lock', 'unlock', 'keys', 'info', 'help'];
/** The key flags of 0.1's unlock and keys: -k/--key-file (a key file), --key (a token), -t (a tier). */
const KEY_FLAGS = { '-k': '--keys', '--key-file': '--keys', '--key': '--token', '-t': '--tier' };

/** The 0.1 command lines of the protection commands, and where they moved. */
export const legacyProtect: MovedCommand[] = [
  { from: ['importance'], to: ['protect', 'importance'] },
  { from: ['protect'], to: ['protect', 'lock'], unlessNext: VERBS, flags: { '-k': '--keys', '--key-file': '--keys', '-t': '--tiers', '-i': '--importance' } },
  { from: ['unlock'], to: ['protect', 'unlock'], flags: KEY_FLAGS },
  { from: ['keys'], to: ['protect', 'keys'], flags: KEY_FLAGS },
  { from: ['protect-info'], to: ['protect', 'info'] },
];

export function registerProtect(program: Command, io: CliIO): void {
  const noun = program.command('protect').description('protect a model with tiered keys: importance, lock, unlock, keys, info');
  registerImportanceVerb(noun, io);
  registerLockVerb(noun, io);
  registerUnlockVerb(noun, io);
  registerKeysVerb(noun, io);
  registerInfoVerb(noun, io);
}
