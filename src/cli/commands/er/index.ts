// `nnlock er train | eval | show | fold`: the Encryption-Robust CNN (an adaptation network in front of a
// backbone) trained on block-encrypted images, evaluated, and pictured. One file per verb; the
// workflows are src/er's (trainEncryptionRobust, decryptionDiagnostics).
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerErTrain } from './train.ts';
import { registerErEval } from './eval.ts';
import { registerErShow } from './show.ts';
import { registerErFold } from './fold.ts';

/** 0.1's `er train -t FILE` (test data) is `--test FILE`: `-t` meant three things across commands. */
export const legacyEr: MovedCommand[] = [
  { from: ['er', 'train'], to: ['er', 'train'], flags: { '-t': '--test' } },
  // The ER model file is the model's weights: -w/--weights, as in every other command.
  { from: ['er', 'eval'], to: ['er', 'eval'], flags: { '-m': '--weights', '--model': '--weights' } },
  { from: ['er', 'show'], to: ['er', 'show'], flags: { '-m': '--weights', '--model': '--weights' } },
];

export function registerEr(program: Command, io: CliIO): void {
  const er = program.command('er').description('Encryption-Robust CNN: an adaptation network + backbone trained on block-encrypted images');
  registerErTrain(er, io);
  registerErEval(er, io);
  registerErShow(er, io);
  registerErFold(er, io);
}
