// An Encryption-Robust model trained once and kept: when the model file `out` exists (and was
// trained for the same key), it is loaded and evaluated instead of trained again; otherwise
// trainEncryptionRobust trains it, with resumable checkpoints beside it, so an interrupted run
// continues where it stopped. The caller names `out` after what was trained (recipeKey of the
// settings, src/io/cache-dir.ts): a changed setting makes a new file, never a stale reuse.
import { existsSync, rmSync } from 'node:fs';
import { evaluateAccuracy } from '../train/evaluate.ts';
import type { EncryptionRobustModel } from './model.ts';
import { type ErModelSpec, loadErModel } from './model-file.ts';
import { type ErTrainConfig, trainEncryptionRobust } from './train.ts';

export interface CachedErModel {
  /** The model (eval mode); the caller disposes it. */
  model: EncryptionRobustModel;
  spec: ErModelSpec;
  /** Accuracy on `config.test` (after training, or measured now on a cached model). */
  testAccuracy?: number;
  /** True when the model file was already there (nothing was trained). */
  cached: boolean;
}

/** The model `config` trains into `config.out`: read from there, or trained now (see the top of this file). */
export async function cachedEncryptionRobust(config: ErTrainConfig & { out: string }): Promise<CachedErModel> {
  if (existsSync(config.out)) {
    const { model, spec, metadata } = await loadErModel(config.out, config.cipher ?? null);
    try {
      // A run of several rounds writes the file after each: one interrupted early is resumed, not reused.
      if (Number(metadata.roundsCompleted ?? 1) >= (config.rounds ?? 1)) {
        const testAccuracy = config.test ? (await evaluateAccuracy(model, config.test)).accuracy : undefined;
        return { model, spec, cached: true, ...(testAccuracy === undefined ? {} : { testAccuracy }) };
      }
    } catch (e) {
      model.dispose();
      throw e;
    }
    model.dispose();
  }
  const checkpointDir = config.checkpointDir ?? `${config.out}.checkpoints`;
  const { model, spec, rounds } = await trainEncryptionRobust({ ...config, checkpointDir });
  if (!config.checkpointDir) rmSync(checkpointDir, { recursive: true, force: true });
  return { model, spec, cached: false, testAccuracy: rounds.at(-1)?.final.testAccuracy };
}
