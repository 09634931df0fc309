// Denoising a folder of images with a denoiser from its weights file: seeded Gaussian noise is
// added to each clean image, the network removes it, and PSNR and SSIM against the clean image
// say how well; the denoised and noisy images can be written as PNGs.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { SafetensorsFile } from '../io/safetensors.ts';
import { type Channels, readImage, writePng } from '../io/image.ts';
import { openModel } from '../models/load.ts';
import { listImages } from '../data/image-folder.ts';
import { type DenoiseImage, type DenoiseResult, evaluateDenoiser, mean } from './evaluate.ts';

export interface DenoiseImagesOptions {
  /** Architecture when the file does not name it. */
  arch?: string;
  /** Noise σ on the [0, 255] scale (default 25). */
  sigma?: number;
  /** Noise seed: image i gets seed + i (default 0). */
  seed?: number;
  /** Write <name>-denoised.png and <name>-noisy.png into this folder. */
  out?: string;
  /** Replace PNGs that exist in `out` (default false: refused before any work). */
  overwrite?: boolean;
  /** What to call the weights in errors (default: the path). */
  source?: string;
  /** After every image: images done, of total, and its scores. */
  onImage?: (done: number, total: number, image: DenoisedImageScore) => void;
}

export interface DenoisedImageScore {
  name: string;
  /** dB, of the denoised and of the noisy image against the clean one. */
  psnr: number;
  psnrNoisy: number;
  ssim: number;
  /** The PNGs written, with `out`. */
  denoisedFile?: string;
  noisyFile?: string;
}

export interface DenoiseReport {
  architecture: string;
  sigma: number;
  /** Means over the images. */
  psnr: number;
  ssim: number;
  psnrNoisy: number;
  images: DenoisedImageScore[];
}

/**
 * Denoises every PNG/JPEG in the folder `input` with the denoiser in `weights` (a path, or a file
 * in memory such as an unlocked protected model) and scores each image.
 */
export async function denoiseImages(weights: string | SafetensorsFile, input: string, options: DenoiseImagesOptions = {}): Promise<DenoiseReport> {
  const { sigma = 25, seed = 0, out } = options;
  if (!(sigma > 0)) throw new Error(`sigma must be a positive number, got ${sigma}`);
  if (!existsSync(input)) throw new Error(`${input}: no such folder`);
  const files = await listImages(input);
  if (files.length === 0) throw new Error(`${input}: no PNG or JPEG images`);
  const outputs = files.map((f) => outputNames(f, out));
  if (out && !options.overwrite) {
    const taken = outputs.flat().find((f) => existsSync(f));
    if (taken) throw new Error(`${taken} exists: pass overwrite (--force) to replace it`);
  }
  const { model, spec } = await openModel(weights, { arch: options.arch, source: options.source });
  try {
    if (spec.task !== 'denoising') throw new Error(`${spec.name} is a ${spec.task} model, not a denoiser`);
    const channels = spec.inputChannels as Channels;
    if (out) mkdirSync(out, { recursive: true });
    const scores: DenoisedImageScore[] = [];
    for (const [i, file] of files.entries()) {
      const image: DenoiseImage = { name: basename(file), ...(await readImage(file, { channels })) };
      const [r] = evaluateDenoiser(model, [image], sigma, seed + i);
      const score: DenoisedImageScore = { name: r.name, psnr: r.psnr, psnrNoisy: r.psnrNoisy, ssim: r.ssim };
      if (out) Object.assign(score, await writeImages(r, image, outputs[i]));
      scores.push(score);
      options.onImage?.(i + 1, files.length, score);
    }
    return {
      architecture: spec.name,
      sigma,
      images: scores,
      psnr: mean(scores.map((s) => s.psnr)),
      ssim: mean(scores.map((s) => s.ssim)),
      psnrNoisy: mean(scores.map((s) => s.psnrNoisy)),
    };
  } finally {
    model.dispose();
  }
}

function outputNames(file: string, out: string | undefined): [string, string] | [] {
  if (!out) return [];
  const stem = basename(file, extname(file));
  return [join(out, `${stem}-denoised.png`), join(out, `${stem}-noisy.png`)];
}

async function writeImages(r: DenoiseResult, image: DenoiseImage, [denoisedFile, noisyFile]: [string, string] | []): Promise<Pick<DenoisedImageScore, 'denoisedFile' | 'noisyFile'>> {
  if (!denoisedFile || !noisyFile) return {};
  const { channels, height, width } = image;
  await writePng(denoisedFile, r.output, channels, height, width);
  await writePng(
    noisyFile,
    r.noisy.map((v) => Math.min(1, Math.max(0, v))),
    channels,
    height,
    width,
  );
  return { denoisedFile, noisyFile };
}
