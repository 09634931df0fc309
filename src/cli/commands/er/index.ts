// `nnlock er ...`. Stub during the move to the noun–verb grammar: registers the 0.1 commands.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerEr as registerErCommands } from '../er.ts';

export const legacyEr: MovedCommand[] = [];

export function registerEr(program: Command, _io: CliIO): void {
  registerErCommands(program);
}
