// The nnlock command line. Each command lives in its own file under src/cli/commands and
// registers itself here; errors are printed as one clear line (no stack) with exit code 1.
import { Command, CommanderError } from 'commander';
import { registerInfo } from './commands/info.ts';
import { registerDemo } from './commands/demo.ts';
import { registerEval } from './commands/eval.ts';
import { registerCipher } from './commands/cipher.ts';
import { registerEr } from './commands/er.ts';
import { registerImportance } from './commands/importance.ts';
import { registerProtect } from './commands/protect.ts';
import { registerUnlock } from './commands/unlock.ts';
import { registerKeys } from './commands/keys.ts';
import { registerProtectInfo } from './commands/protect-info.ts';
import { registerTrain } from './commands/train.ts';
import { registerDenoise } from './commands/denoise.ts';

export function buildProgram(): Command {
  const program = new Command('nnlock')
    .description('Protect deep-learning services with keys: tiered selective encryption of CNNs, and learning on block-encrypted images.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  registerDemo(program);
  registerInfo(program);
  registerEval(program);
  registerCipher(program);
  registerEr(program);
  registerImportance(program);
  registerProtect(program);
  registerUnlock(program);
  registerKeys(program);
  registerProtectInfo(program);
  registerTrain(program);
  registerDenoise(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    process.stderr.write(`nnlock: ${(e as Error).message}\n`);
    if (process.env.NNLOCK_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
