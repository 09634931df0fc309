// Kernel importance of the shared ResNet-20 for every strategy, cached: PSS and Taylor are computed
// once (PSS takes minutes) and saved as importance files under experiments/out/protect/importance/;
// the weight-only strategies cost a pass over the weights and are recomputed each time.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ImportanceMap, PSS_DEFAULTS, type Strategy, computeImportance, convLayers, isWeightOnly, loadImportance, saveImportance, weightsDigest } from '../../src/protect/index.ts';
import { type RunContext, cifarTaskData, denoiseTaskData, log } from './common.ts';
import { type SafetensorsFile } from '../../src/io/safetensors.ts';

export const STRATEGIES: readonly Strategy[] = ['pss', 'random', 'magnitude', 'magnitude-asc', 'closest-mean', 'l1', 'taylor'];
export const STRATEGY_LABELS: Record<string, string> = {
  pss: 'PSS',
  random: 'random',
  magnitude: 'magnitude desc.',
  'magnitude-asc': 'magnitude asc.',
  'closest-mean': 'closest to mean',
  l1: 'L1 norm',
  taylor: 'Taylor',
};

/** Settings of the data-driven strategies (the CLI's defaults for the full run). */
export interface DataStrategySettings {
  images: number;
  batch: number;
  epochs: number;
  taylorBatches: number;
  seed: number;
}

export function resnetSettings(quick: boolean): DataStrategySettings {
  return quick ? { images: 256, batch: 128, epochs: 1, taylorBatches: 2, seed: 0 } : { images: 1024, batch: 128, epochs: PSS_DEFAULTS.epochs, taylorBatches: 8, seed: 0 };
}

/**
 * Importance of a model's conv layers. `seed` is the random strategy's seed (one per key in the
 * experiments); the data-driven strategies are cached in `cacheFile`.
 */
export async function importanceOf(
  strategy: Strategy,
  file: SafetensorsFile,
  arch: 'resnet20' | 'dncnn-17',
  seed: number,
  cacheFile: string,
  s: DataStrategySettings,
  sigma = 25,
): Promise<ImportanceMap> {
  if (isWeightOnly(strategy)) return (await computeImportance(strategy, file, undefined, { seed })).scores;
  const digest = Buffer.from(weightsDigest(file.tensors)).toString('hex');
  if (existsSync(cacheFile)) {
    const saved = await loadImportance(cacheFile);
    if (saved.source === digest && saved.strategy === strategy) return saved.scores;
    log(`${cacheFile} was made for other weights or settings: recomputing`);
  }
  const data = arch === 'resnet20' ? await cifarTaskData(s.images, s.batch, s.seed) : await denoiseTaskData(s.images, s.batch, s.seed, sigma);
  const layers = convLayers(file.tensors).length;
  const stepsPerLayer = s.epochs * Math.ceil(s.images / s.batch);
  const total = stepsPerLayer * layers;
  const t0 = performance.now();
  let done = 0;
  log(
    strategy === 'pss'
      ? `${arch}: PSS importance, ${layers} layers × ${stepsPerLayer} steps of ${s.batch} (${s.images} ${arch === 'resnet20' ? 'images' : 'patches'}, ${s.epochs} epoch(s))`
      : `${arch}: Taylor importance, ${s.taylorBatches} batches of ${s.batch}`,
  );
  const imp = await computeImportance(strategy, file, data, {
    architecture: arch,
    seed: s.seed,
    pss: { epochs: s.epochs },
    batches: s.taylorBatches,
    settings: { images: s.images, batch: s.batch, ...(strategy === 'pss' ? { epochs: s.epochs } : {}) },
    onStep: (info) => {
      done++;
      if (done % Math.max(1, Math.floor(total / 20)) === 0 || done === total) {
        const el = (performance.now() - t0) / 1000;
        log(`  pss ${done}/${total} steps, layer ${info.layerIndex + 1}/${info.layerCount}, loss ${info.loss.toFixed(4)}, ~${Math.round((el / done) * (total - done))} s left`);
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync(dirname(cacheFile), { recursive: true });
  log(`${arch}: ${strategy} importance in ${seconds.toFixed(0)} s → ${cacheFile}`);
  await saveImportance(cacheFile, imp.scores, { ...imp, settings: { ...imp.settings, seconds } });
  return imp.scores;
}

export function resnetImportanceFile(ctx: RunContext, strategy: 'pss' | 'taylor'): string {
  return join(ctx.out, 'importance', `resnet20-${strategy}.safetensors`);
}
