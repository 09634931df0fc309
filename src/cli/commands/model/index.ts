// `nnlock model ...`. Stub during the move to the noun–verb grammar: registers the 0.1 commands.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerTrain } from '../train.ts';
import { registerEval } from '../eval.ts';
import { registerDenoise } from '../denoise.ts';

export const legacyModel: MovedCommand[] = [];

export function registerModel(program: Command, _io: CliIO): void {
  registerTrain(program);
  registerEval(program);
  registerDenoise(program);
}
