// `nnlock unlock`: check a key against a protected model and restore its tier in memory; write
// the unlocked model only when --out is given, and optionally measure it on validation data.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { inspectProtected, unlock } from '../../protect/index.ts';
import { architectureOf, evaluator, keyFrom, modelFor, positiveInt, readModelFile } from './protect-args.ts';
import { writeSafetensors } from '../../io/safetensors.ts';

interface UnlockCliOptions {
  key?: string;
  keyFile?: string;
  tier?: string;
  out?: string;
  arch?: string;
  evalData?: string;
  evalImages?: string;
  sigma: string;
  force?: boolean;
}

export function registerUnlock(program: Command): void {
  program
    .command('unlock')
    .description('restore a protected model\'s tier with a key (in memory; written only with --out)')
    .argument('<protected>', 'protected model (safetensors)')
    .option('-k, --key-file <file>', 'key file (its highest tier is used)')
    .option('--key <token>', 'key token (visible to other local users: prefer --key-file or NNLOCK_KEY)')
    .option('-t, --tier <m>', 'tier to restore (default: the key\'s tier; 0 = the published model)')
    .option('-o, --out <file>', 'write the unlocked model here (safetensors)')
    .option('-a, --arch <name>', 'architecture for --eval-data, when the file does not say')
    .option('--eval-data <path>', 'measure the unlocked model: CIFAR-10 folder or test .bin; for denoisers a folder of images')
    .option('--eval-images <n>', 'validation images used (default all)')
    .option('--sigma <s>', 'denoisers: noise σ on the 0..255 scale', '25')
    .option('--force', 'overwrite --out')
    .addHelpText('after', `
Examples:
  nnlock unlock model.protected.safetensors -k model.protected.safetensors.keys -o model.safetensors
  NNLOCK_KEY=nnlock1-t1-… nnlock unlock model.protected.safetensors --eval-data ../shared/data/cifar10`)
    .action(async (path: string, o: UnlockCliOptions) => {
      if (o.out && !o.force && existsSync(o.out)) throw new Error(`${o.out} exists (use --force to overwrite)`);
      const file = await readModelFile(path);
      const header = inspectProtected(file);
      const key = await keyFrom(o);
      const tier = o.tier === undefined ? undefined : Number(o.tier);
      if (tier !== undefined && !(Number.isInteger(tier) && tier >= 0)) throw new Error(`--tier must be an integer ≥ 0, got '${o.tier}'`);
      const r = unlock(file, key, { tier });
      console.log(`key accepted (tier ${r.keyTier} of ${r.tiers}); tier ${r.tier} restores ${r.restored} kernels in ${header.layers.length} conv layers`);
      if (o.evalData) {
        const spec = architectureOf(o.arch ?? header.architecture, file.metadata);
        if (!spec) throw new Error(`${path} does not say its architecture: pass --arch to evaluate it`);
        const ev = await evaluator(spec, o.evalData, r.file.metadata, { images: o.evalImages ? positiveInt(o.evalImages, '--eval-images') : undefined, sigma: Number(o.sigma), seed: 0 });
        const model = modelFor(spec, r.file, path);
        try {
          console.log(`tier ${r.tier}: ${ev.unit} ${(await ev.evaluate(model)).toFixed(4)} on ${ev.count} images`);
        } finally {
          model.dispose();
        }
      }
      if (o.out) {
        await writeSafetensors(o.out, r.file.tensors, r.file.metadata);
        console.log(`unlocked model${r.tier < r.tiers ? ` (tier ${r.tier} of ${r.tiers}: still holds decoys)` : ''}: ${o.out}`);
      } else {
        console.log('nothing written (pass --out to write the unlocked model)');
      }
    });
}
