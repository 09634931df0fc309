// `nnlock eval`: accuracy of a classifier on a dataset.
import type { Command } from 'commander';
import { batchProgress } from '../progress.ts';
import { DataLoader } from '../../data/loader.ts';
import { evaluateAccuracy } from '../../train/evaluate.ts';
import { loadDataset, normalisationFrom, positiveInt } from '../data-args.ts';
import { loadModel } from '../model-args.ts';
import { optionalKey } from './protect-args.ts';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('top-1 accuracy of a classifier on a dataset')
    .requiredOption('-w, --weights <file>', 'model weights (safetensors)')
    .requiredOption('-d, --data <path>', 'CIFAR-10 .bin file(s) or folder, or an image folder with class subfolders')
    .option('-a, --arch <name>', 'architecture, when the file does not say (resnet20, vgg16-bn, ...)')
    .option('--split <split>', 'split of a CIFAR-10 folder', 'test')
    .option('--batch <n>', 'batch size', '500')
    .option('--limit <n>', 'evaluate only the first n images')
    .option('--mean <r,g,b>', 'input normalisation mean (default: from the weights file, else CIFAR-10)')
    .option('--std <r,g,b>', 'input normalisation std')
    .option('--key-file <file>', 'key file for a protected model (unlocked in memory; nothing is written)')
    .option('--key <token>', 'key token for a protected model (visible to other local users: prefer --key-file)')
    .option('--tier <m>', 'with a key: restore this tier (default: the key\'s own)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  nnlock eval -w ../shared/data/weights/resnet20-cifar10.safetensors -a resnet20 -d ../shared/data/cifar10/test_batch.bin')
    .action(async (o: { weights: string; data: string; arch?: string; split: string; batch: string; limit?: string; mean?: string; std?: string; json?: boolean; key?: string; keyFile?: string; tier?: string }) => {
      const { model, spec, metadata, tier, tiers } = await loadModel(o.weights, { arch: o.arch, key: await optionalKey(o), tier: o.tier === undefined ? undefined : Number(o.tier) });
      try {
        if (spec.task !== 'classification') throw new Error(`${spec.name} is a ${spec.task} model: use nnlock denoise`);
        const ds = await loadDataset(o.data, o.split === 'train' ? 'train' : 'test', o.limit ? positiveInt(o.limit, '--limit') : undefined);
        const norm = normalisationFrom(metadata, o);
        const loader = new DataLoader(ds, { batchSize: positiveInt(o.batch, '--batch'), shuffle: false, ...norm });
        const t0 = performance.now();
        const { accuracy } = await evaluateAccuracy(model, loader, { onBatch: o.json ? undefined : batchProgress('eval', loader.batchCount) });
        const seconds = (performance.now() - t0) / 1000;
        const protectedNote = tier === undefined ? '' : `, protected model at tier ${tier}${tiers ? `/${tiers}` : ''}`;
        if (o.json) console.log(JSON.stringify({ accuracy, images: ds.length, seconds, tier }));
        else console.log(`accuracy ${accuracy.toFixed(4)} on ${ds.length} images (${spec.name}${protectedNote}, ${seconds.toFixed(1)} s, ${(ds.length / seconds).toFixed(0)} images/s)`);
      } finally {
        model.dispose();
      }
    });
}
