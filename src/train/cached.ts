// A classifier trained once and kept: the weights of a trainClassifier recipe are cached under a
// name made from every setting of the recipe (src/io/cache-dir.ts), so a second call with the
// same recipe reads them instead of training again, and a changed setting trains anew. An
// interrupted run leaves its checkpoint in the entry and the next call resumes from it; the
// weights appear (atomically) only when training has finished, so a half-trained model is never
// taken for the cached one.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { recipeKey } from '../io/cache-dir.ts';
import { readModelFile } from '../models/load.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import { type TrainClassifierConfig, trainClassifier } from './classifier.ts';

export interface CachedClassifierConfig extends Omit<TrainClassifierConfig, 'data' | 'test' | 'out' | 'overwrite' | 'checkpoint' | 'log' | 'init' | 'stopAfter'> {
  /** Training data as a path spec (openDataset), part of the recipe. */
  data: string;
  /** Held-out data as a path spec (default: the data's own test split). */
  test?: string;
  /** The cache folder (cacheDir(env)); the entry is <cache>/models/<architecture>-<recipe key>/. */
  cache: string;
}

export interface CachedClassifier {
  /** The weights file in the cache. */
  path: string;
  file: SafetensorsFile;
  /** True when the weights were already there (nothing was trained). */
  cached: boolean;
  /** Held-out accuracy after the last epoch, as recorded when the model was trained. */
  testAccuracy?: number;
}

/** The recipe of `c`: every setting that changes the weights (callbacks and the cache folder do not). */
function recipeOf(c: CachedClassifierConfig): Record<string, unknown> {
  const { cache: _cache, onStep: _s, onEpoch: _e, onResume: _r, onStart: _o, workers: _w, device: _d, ...recipe } = c;
  return { ...recipe, format: 1 };
}

/** The weights of `config`'s recipe: from the cache, or trained now and cached (see the top of this file). */
export async function cachedClassifier(config: CachedClassifierConfig): Promise<CachedClassifier> {
  const entry = join(config.cache, 'models', `${config.architecture}-${recipeKey(recipeOf(config))}`);
  const path = join(entry, 'model.safetensors');
  if (existsSync(path)) {
    const file = await readModelFile(path);
    const recorded = Number(file.metadata.test_accuracy);
    return { path, file, cached: true, ...(Number.isFinite(recorded) ? { testAccuracy: recorded } : {}) };
  }
  mkdirSync(entry, { recursive: true });
  const checkpoint = join(entry, 'train.ckpt');
  const { cache: _cache, ...rest } = config;
  const trained = await trainClassifier({ ...rest, out: path, checkpoint, log: join(entry, 'train-log.json') });
  trained.model.dispose();
  // Finished: the checkpoint (weights and optimizer state) is no longer needed to resume.
  rmSync(checkpoint, { force: true });
  return { path, file: await readModelFile(path), cached: false, testAccuracy: trained.testAccuracy };
}
