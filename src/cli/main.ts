// The nnlock command line: `nnlock <noun> <verb>` as gh and cargo do it. Each noun lives in
// src/cli/commands/<noun>/ (one file per verb) and registers itself here. Commands parse, call
// the library and print through a CliIO; they hold no workflow of their own.
//
// Exit codes: 0 done, 1 the command failed (one clear line on stderr, no stack unless
// NNLOCK_DEBUG), 2 the command line is wrong (commander's errors and UsageError).
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { type CliIO, processIO } from './io.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import { type MovedCommand, rewriteLegacy } from './legacy.ts';
import { init } from '../tensor/init.ts';
import { legacyModel, registerModel } from './commands/model/index.ts';
import { legacyProtect, registerProtect } from './commands/protect/index.ts';
import { legacyCipher, registerCipher } from './commands/cipher/index.ts';
import { legacyAttack, registerAttack } from './commands/attack/index.ts';
import { legacyEr, registerEr } from './commands/er/index.ts';
import { legacyServe, registerServe } from './commands/serve/index.ts';
import { legacyClient, registerClient } from './commands/client/index.ts';
import { legacyLaunch, registerLaunch } from './commands/launch/index.ts';
import { registerInfo } from './commands/info.ts';
import { registerDemo } from './commands/demo/index.ts';

/** Old command lines of 0.1 and where they moved (see legacy.ts). */
export const LEGACY: readonly MovedCommand[] = [...legacyModel, ...legacyProtect, ...legacyCipher, ...legacyAttack, ...legacyEr, ...legacyServe, ...legacyClient, ...legacyLaunch];

/** nnlock's version, from package.json (read without loading libtorch). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(io: CliIO = processIO()): Command {
  const program = new Command('nnlock')
    .description('Protect deep-learning services with keys: tiered selective encryption of CNNs, and learning on block-encrypted images.')
    .version(version())
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    // Before the nouns are added, so every command inherits it: a parse error is thrown back to
    // main() (exit 2), never a process.exit from inside commander.
    .exitOverride()
    // libtorch loads, and nnlock's process settings apply, only when a command runs: --help and
    // --version answer without either.
    .hook('preAction', () => {
      init();
    });
  registerModel(program, io);
  registerProtect(program, io);
  registerCipher(program, io);
  registerAttack(program, io);
  registerEr(program, io);
  registerServe(program, io);
  registerClient(program, io);
  registerLaunch(program, io);
  registerInfo(program, io);
  registerDemo(program, io);
  // Handled by bin/nnlock.js before the CLI loads (it must work before anything is built); here so
  // that --help lists it.
  program
    .command('setup')
    .description('find libtorch and build the native addon (once, after npm install); --check only reports, --force rebuilds')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('run `npx nnlock setup` (it runs before the CLI loads)');
    });
  return program;
}

/** Runs `nnlock` with process-style argv (node, script, ...args); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const { args, notes } = rewriteLegacy(argv.slice(2), LEGACY);
  for (const n of notes) io.stderr.write(`nnlock: ${n}\n`);
  const program = buildProgram(io);
  try {
    await program.parseAsync(args, { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT_OK : EXIT_USAGE;
    }
    io.stderr.write(`nnlock: ${(e as Error).message.replace(/^nnlock: /, '')}\n`);
    if (e instanceof UsageError) io.stderr.write('(run with --help for usage)\n');
    if (io.env.NNLOCK_DEBUG) io.stderr.write(`${(e as Error).stack}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}
