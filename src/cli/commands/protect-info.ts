// `nnlock protect-info`: the public facts of a protected model (no key needed).
import type { Command } from 'commander';
import { inspectProtected } from '../../protect/index.ts';
import { readModelFile } from './protect-args.ts';

export function registerProtectInfo(program: Command): void {
  program
    .command('protect-info')
    .description('show what a protected model says publicly: tiers, protected layers, architecture')
    .argument('<protected>', 'protected model (safetensors)')
    .option('--json', 'print the public header as JSON')
    .action(async (path: string, o: { json?: boolean }) => {
      const h = inspectProtected(await readModelFile(path));
      if (o.json) {
        console.log(JSON.stringify(h, null, 2));
        return;
      }
      console.log(`protected model ${h.modelId} (format ${h.format} v${h.version}, ${h.cipher}, ${h.kdf})`);
      console.log(`architecture: ${h.architecture ?? 'not recorded'}`);
      console.log(`tiers: ${h.tiers} (tier 0 = the published model, no key)`);
      console.log(`protected conv layers (${h.layers.length}): ${h.layers.map((l) => `${l.name} [${l.shape.join('×')}]`).join(', ')}`);
      console.log(`weights digest: ${h.weightsDigest}`);
    });
}
