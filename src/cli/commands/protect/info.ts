// `nnlock protect info`: the public facts of a protected model (no key needed).
import type { Command } from 'commander';
import { inspectProtected } from '../../../protect/index.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { readModel } from './args.ts';

export function registerInfoVerb(noun: Command, io: CliIO): void {
  withOutputFlags(noun.command('info').description('show what a protected model says publicly: tiers, protected layers, architecture').argument('<protected>', 'protected model (safetensors)')).action(
    async (path: string, o: { json?: boolean; quiet?: boolean }) => {
      const h = inspectProtected(await readModel(path));
      new Output(io, o).result(h, [
        `protected model ${h.modelId} (format ${h.format} v${h.version}, ${h.cipher}, ${h.kdf})`,
        `architecture: ${h.architecture ?? 'not recorded'}`,
        `tiers: ${h.tiers} (tier 0 = the published model, no key)`,
        `protected conv layers (${h.layers.length}): ${h.layers.map((l) => `${l.name} [${l.shape.join('×')}]`).join(', ')}`,
        `weights digest: ${h.weightsDigest}`,
      ]);
    },
  );
}
