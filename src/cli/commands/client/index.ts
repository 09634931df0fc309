// `nnlock client classify|denoise|models`: a running `nnlock serve` from the command line, for
// scripts. The connection flags are in connection.ts; each verb has its file. With -K the images are
// encrypted locally and only the ciphertext is sent (the key never leaves this machine).
import type { Command } from 'commander';
import type { CliIO } from '../../io.ts';
import type { MovedCommand } from '../../legacy.ts';
import { registerClientClassify } from './classify.ts';
import { registerClientDenoise } from './denoise.ts';
import { registerClientModels } from './models.ts';

/** A new noun: nothing moved here from 0.1. */
export const legacyClient: MovedCommand[] = [];

export function registerClient(program: Command, io: CliIO): void {
  const client = program.command('client').description('use a running `nnlock serve`: classify (optionally encrypting locally with -K), denoise, list models');
  registerClientClassify(client, io);
  registerClientDenoise(client, io);
  registerClientModels(client, io);
}
