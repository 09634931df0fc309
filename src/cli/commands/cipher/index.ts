// `nnlock cipher ...`. Stub during the move to the noun–verb grammar: registers the 0.1 commands.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerCipher as registerCipherCommands } from '../cipher.ts';

export const legacyCipher: MovedCommand[] = [];

export function registerCipher(program: Command, _io: CliIO): void {
  registerCipherCommands(program);
}
