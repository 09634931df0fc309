// `nnlock denoise`: denoise a folder of images with seeded Gaussian noise, report PSNR and SSIM
// per image and on average, and write the denoised PNGs.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { listImages } from '../../data/image-folder.ts';
import { readImage, writePng, type Channels } from '../../io/image.ts';
import { type DenoiseImage, evaluateDenoiser, mean } from '../../train/evaluate.ts';
import { DnCNN } from '../../models/dncnn.ts';
import { loadModel } from '../model-args.ts';
import { optionalKey } from './protect-args.ts';
import { positiveNumber } from '../data-args.ts';

export function registerDenoise(program: Command): void {
  program
    .command('denoise')
    .description('add Gaussian noise to images, denoise them, report PSNR/SSIM and write PNGs')
    .requiredOption('-w, --weights <file>', 'denoiser weights (safetensors)')
    .requiredOption('-i, --images <folder>', 'folder of clean PNG/JPEG images')
    .option('-a, --arch <name>', 'architecture, when the file does not say (dncnn-17)')
    .option('--sigma <x>', 'noise level on the [0, 255] scale', '25')
    .option('--seed <n>', 'noise seed (image i uses seed + i)', '0')
    .option('-o, --out <folder>', 'write the denoised (and noisy) PNGs here')
    .option('--key-file <file>', 'key file for a protected model (unlocked in memory; nothing is written)')
    .option('--key <token>', 'key token for a protected model (visible to other local users: prefer --key-file)')
    .option('--tier <m>', 'with a key: restore this tier (default: the key\'s own)')
    .option('--json', 'print per-image results as JSON')
    .addHelpText('after', '\nExample:\n  nnlock denoise -w ../shared/data/weights/dncnn-s-25.safetensors -a dncnn-17 -i ../shared/data/images/Set12 -o runs/set12')
    .action(async (o: { weights: string; images: string; arch?: string; sigma: string; seed: string; out?: string; json?: boolean; key?: string; keyFile?: string; tier?: string }) => {
      const { model, spec, tier, tiers } = await loadModel(o.weights, { arch: o.arch, key: await optionalKey(o), tier: o.tier === undefined ? undefined : Number(o.tier) });
      try {
        if (!(model instanceof DnCNN)) throw new Error(`${spec.name} is not a denoiser: use nnlock eval`);
        const channels = spec.inputChannels as Channels;
        const images: DenoiseImage[] = [];
        for (const file of await listImages(o.images)) images.push({ name: basename(file), ...(await readImage(file, { channels })) });
        if (images.length === 0) throw new Error(`${o.images}: no PNG or JPEG images`);
        const results = evaluateDenoiser(model, images, positiveNumber(o.sigma, '--sigma'), Number(o.seed));
        if (o.out) {
          mkdirSync(o.out, { recursive: true });
          for (const [i, r] of results.entries()) {
            const { height, width } = images[i];
            const stem = basename(r.name, extname(r.name));
            await writePng(join(o.out, `${stem}-denoised.png`), r.output, channels, height, width);
            await writePng(join(o.out, `${stem}-noisy.png`), r.noisy.map((v) => Math.min(1, Math.max(0, v))), channels, height, width);
          }
        }
        const summary = { psnr: mean(results.map((r) => r.psnr)), ssim: mean(results.map((r) => r.ssim)), psnrNoisy: mean(results.map((r) => r.psnrNoisy)) };
        if (o.json) {
          console.log(JSON.stringify({ sigma: Number(o.sigma), tier, ...summary, images: results.map(({ name, psnr, ssim, psnrNoisy }) => ({ name, psnr, ssim, psnrNoisy })) }));
          return;
        }
        for (const r of results) console.log(`${r.name.padEnd(16)} PSNR ${r.psnr.toFixed(2)} dB  SSIM ${r.ssim.toFixed(4)}  (noisy ${r.psnrNoisy.toFixed(2)} dB)`);
        const protectedNote = tier === undefined ? '' : `, protected model at tier ${tier}${tiers ? `/${tiers}` : ''}`;
        console.log(`${'mean'.padEnd(16)} PSNR ${summary.psnr.toFixed(2)} dB  SSIM ${summary.ssim.toFixed(4)}  (noisy ${summary.psnrNoisy.toFixed(2)} dB), σ = ${o.sigma}${protectedNote}`);
        if (o.out) console.log(`denoised and noisy PNGs in ${o.out}`);
      } finally {
        model.dispose();
      }
    });
}
