// Commander copies exitOverride() to a subcommand only when the override is set before the
// subcommand is made; main.ts sets it after registering, so a usage error or --help inside a
// subcommand would call process.exit (and end an in-process runCli). Until main.ts sets it
// first, each of these commands gets it here: errors reach main() as CommanderErrors.
import type { Command } from 'commander';

/** Sets exitOverride() on `cmd` and all its subcommands; returns cmd. */
export function throwInsteadOfExit(cmd: Command): Command {
  cmd.exitOverride();
  for (const c of cmd.commands) throwInsteadOfExit(c);
  return cmd;
}
