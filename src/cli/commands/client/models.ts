// `nnlock client models`: what the server serves, with tiers, input sizes and ciphers.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { listModels } from '../../../web/client.ts';
import { type ConnectionFlags, connectionFrom, connectionOptions, serviceFailure } from './connection.ts';

export function registerClientModels(client: Command, io: CliIO): void {
  const cmd = client.command('models').description("list the server's models, their tiers, inputs and (encrypted classifiers) ciphers");
  for (const opt of connectionOptions()) cmd.addOption(opt);
  withOutputFlags(cmd).action(async (o: ConnectionFlags & OutputFlags) => {
    const out = new Output(io, o);
    const models = await listModels(await connectionFrom(o, io.env)).catch((e) => {
      throw serviceFailure(e);
    });
    const lines = models.map((m) => {
      const size = m.input.height && m.input.width ? `${m.input.channels}×${m.input.height}×${m.input.width}` : `${m.input.channels} channel(s), any size`;
      const cipher = m.cipher ? `, ${m.cipher.kind} ciphertext k=${m.cipher.block}` : '';
      const classes = m.classes ? `, ${m.classes.length} classes` : '';
      return `${m.name.padEnd(16)} ${m.kind.padEnd(21)} tiers ${m.tiers.join(',')}  input ${size}${cipher}${classes}`;
    });
    out.result({ models }, lines.length ? lines : ['the server has no models']);
  });
}
