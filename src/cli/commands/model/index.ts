// `nnlock model train|eval|denoise`: train a classifier, evaluate one, denoise images. Each verb
// has its own file; the workflows are in src/train.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerModelTrain } from './train.ts';
import { registerModelEval } from './eval.ts';
import { registerModelDenoise } from './denoise.ts';

/**
 * nnlock 0.1's `train`, `eval` and `denoise`, and the flags they renamed. 0.1's `denoise` always
 * added noise (σ = 25 unless --sigma said): it becomes `model denoise --add-noise 25`, its --sigma
 * the --add-noise that follows (the last one given wins), so its numbers stay the same.
 */
export const legacyModel: MovedCommand[] = [
  { from: ['train'], to: ['model', 'train'] },
  { from: ['eval'], to: ['model', 'eval'], flags: { '--key': '--token', '--key-file': '--keys' } },
  { from: ['denoise'], to: ['model', 'denoise', '--add-noise', '25'], flags: { '--images': '--input', '--sigma': '--add-noise', '--key': '--token', '--key-file': '--keys' } },
];

export function registerModel(program: Command, io: CliIO): void {
  // main() makes the root throw instead of exiting; subcommands copy that setting only when they
  // are created after it, so the noun sets it for its verbs itself (a usage error must reach
  // main() as exit code 2, not end the process).
  const model = program.command('model').description('train a classifier, evaluate one, denoise images');
  registerModelTrain(model, io);
  registerModelEval(model, io);
  registerModelDenoise(model, io);
}
