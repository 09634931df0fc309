// `nnlock attack ...`. Stub during the move to the noun–verb grammar: registers the 0.1 commands.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';

export const legacyAttack: MovedCommand[] = [];

export function registerAttack(program: Command, _io: CliIO): void {
}
