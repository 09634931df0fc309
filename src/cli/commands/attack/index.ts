// `nnlock attack assess|known-plaintext|statistical|learned|er-weights`: attacks on the block cipher (in 0.1:
// `nnlock cipher attack ...`) and on what a trained model leaks.
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerAssess } from './assess.ts';
import { registerKnownPlaintext } from './known-plaintext.ts';
import { registerStatistical } from './statistical.ts';
import { registerLearned } from './learned.ts';
import { registerDecoys } from './decoys.ts';
import { registerFinetune } from './finetune.ts';
import { registerErWeights } from './er-weights.ts';

/** 0.1's `cipher attack X` is `attack X`; its -k (block size) is --block and --images is --limit. */
export const legacyAttack: MovedCommand[] = [
  { from: ['cipher', 'attack', 'assess'], to: ['attack', 'assess'], flags: { '--images': '--limit' } },
  { from: ['cipher', 'attack', 'known-plaintext'], to: ['attack', 'known-plaintext'], flags: { '-k': '--block', '--images': '--limit' } },
  { from: ['cipher', 'attack', 'statistical'], to: ['attack', 'statistical'], flags: { '-k': '--block', '--images': '--limit' } },
  { from: ['cipher', 'attack', 'learned'], to: ['attack', 'learned'], flags: { '--images': '--limit', '-m': '--weights', '--model': '--weights' } },
  { from: ['attack', 'learned'], to: ['attack', 'learned'], flags: { '-m': '--weights', '--model': '--weights' } },
  { from: ['cipher', 'attack'], to: ['attack'] },
];

export function registerAttack(program: Command, io: CliIO): void {
  const attack = program
    .command('attack')
    .description(
      "attacks on the cipher: assess (a key's security report), known-plaintext (recover a key from files), statistical (ciphertext-only, from image statistics), learned (decryption by a trained model), er-weights (the key from a trained adaptation network); on protected models: decoys (find the decoys), finetune (the fine-tuning attack's head start)",
    );
  registerAssess(attack, io);
  registerKnownPlaintext(attack, io);
  registerStatistical(attack, io);
  registerLearned(attack, io);
  registerDecoys(attack, io);
  registerFinetune(attack, io);
  registerErWeights(attack, io);
}
