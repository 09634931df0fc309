// `nnlock protect ...`. Stub during the move to the noun–verb grammar: registers the 0.1 commands.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerImportance } from '../importance.ts';
import { registerProtect as registerProtectCommand } from '../protect.ts';
import { registerUnlock } from '../unlock.ts';
import { registerKeys } from '../keys.ts';
import { registerProtectInfo } from '../protect-info.ts';

export const legacyProtect: MovedCommand[] = [];

export function registerProtect(program: Command, _io: CliIO): void {
  registerImportance(program);
  registerProtectCommand(program);
  registerUnlock(program);
  registerKeys(program);
  registerProtectInfo(program);
}
