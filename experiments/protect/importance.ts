// Kernel importance of the shared ResNet-20 for every strategy, cached: PSS and Taylor are computed
// once (PSS takes minutes) and saved as importance files under experiments/out/protect/importance/;
// the weight-only strategies cost a pass over the weights and are recomputed each time.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { modelSpec } from '../../src/models/index.ts';
import { type ImportanceMap, PSS_DEFAULTS, type Strategy, type WeightStrategy, convLayers, loadImportance, pssImportance, saveImportance, taskLoss, taylorImportance, weightImportance, weightsDigest } from '../../src/protect/index.ts';
import { type RunContext, cifarTaskData, denoiseTaskData, loadIntoModel, log } from './common.ts';
import { type SafetensorsFile } from '../../src/io/safetensors.ts';

export const STRATEGIES: readonly Strategy[] = ['pss', 'random', 'magnitude', 'magnitude-asc', 'closest-mean', 'l1', 'taylor'];
export const STRATEGY_LABELS: Record<string, string> = {
  pss: 'PSS', random: 'random', magnitude: 'magnitude desc.', 'magnitude-asc': 'magnitude asc.', 'closest-mean': 'closest to mean', l1: 'L1 norm', taylor: 'Taylor',
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
  return quick
    ? { images: 256, batch: 128, epochs: 1, taylorBatches: 2, seed: 0 }
    : { images: 1024, batch: 128, epochs: PSS_DEFAULTS.epochs, taylorBatches: 8, seed: 0 };
}

/**
 * Importance of a model's conv layers. `seed` is the random strategy's seed (one per key in the
 * experiments); the data-driven strategies are cached in `cacheFile`.
 */
export async function importanceOf(
  strategy: Strategy, file: SafetensorsFile, arch: 'resnet20' | 'dncnn-17', seed: number, cacheFile: string, s: DataStrategySettings, sigma = 25,
): Promise<ImportanceMap> {
  const layers = convLayers(file.tensors);
  if (strategy !== 'pss' && strategy !== 'taylor') return weightImportance(strategy as WeightStrategy, file.tensors, layers, seed);
  const digest = Buffer.from(weightsDigest(file.tensors)).toString('hex');
  if (existsSync(cacheFile)) {
    const saved = await loadImportance(cacheFile);
    if (saved.source === digest && saved.strategy === strategy) return saved.scores;
    log(`${cacheFile} was made for other weights or settings: recomputing`);
  }
  const spec = modelSpec(arch);
  const model = spec.create();
  try {
    loadIntoModel(model, file);
    model.eval();
    const data = arch === 'resnet20' ? await cifarTaskData(s.images, s.batch, s.seed) : await denoiseTaskData(s.images, s.batch, s.seed, sigma);
    const loss = taskLoss(spec.task);
    const names = layers.map((l) => l.name);
    const t0 = performance.now();
    let scores: ImportanceMap;
    let settings: Record<string, unknown>;
    if (strategy === 'pss') {
      const stepsPerLayer = s.epochs * Math.ceil(s.images / s.batch);
      const total = stepsPerLayer * names.length;
      let done = 0;
      log(`${arch}: PSS importance, ${names.length} layers × ${stepsPerLayer} steps of ${s.batch} (${s.images} ${arch === 'resnet20' ? 'images' : 'patches'}, ${s.epochs} epoch(s))`);
      settings = { ...PSS_DEFAULTS, images: s.images, batch: s.batch, epochs: s.epochs, seed: s.seed };
      scores = await pssImportance(model, data, {
        loss, layers: names, epochs: s.epochs, seed: s.seed,
        onStep: (info) => {
          done++;
          if (done % Math.max(1, Math.floor(total / 20)) === 0 || done === total) {
            const el = (performance.now() - t0) / 1000;
            log(`  pss ${done}/${total} steps, layer ${info.layerIndex + 1}/${info.layerCount}, loss ${info.loss.toFixed(4)}, ~${Math.round((el / done) * (total - done))} s left`);
          }
        },
      });
    } else {
      log(`${arch}: Taylor importance, ${s.taylorBatches} batches of ${s.batch}`);
      settings = { batches: s.taylorBatches, batch: s.batch, images: s.images, seed: s.seed };
      scores = await taylorImportance(model, data, { loss, layers: names, batches: s.taylorBatches });
    }
    const seconds = (performance.now() - t0) / 1000;
    mkdirSync(dirname(cacheFile), { recursive: true });
    log(`${arch}: ${strategy} importance in ${seconds.toFixed(0)} s → ${cacheFile}`);
    await saveImportance(cacheFile, scores, { strategy, settings: { ...settings, seconds }, source: digest, architecture: arch });
    return scores;
  } finally {
    model.dispose();
  }
}

export function resnetImportanceFile(ctx: RunContext, strategy: 'pss' | 'taylor'): string {
  return join(ctx.out, 'importance', `resnet20-${strategy}.safetensors`);
}
