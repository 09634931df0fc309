// The DnCNN thief of issue 13's attack table, shared by exp-dncnn-paper.ts --attack and
// dncnn-dense-front.ts so that every DnCNN protection meets the same attacker and they share one
// run from scratch: the tier-0 file and N clean train400 patches (40×40, evenly spread over the
// 6,400 of stride 40; σ = 25 noise drawn per batch), Adam at each learning rate given (a budget of
// 100 steps of batch 16, which the harness rounds up to whole epochs), against the same
// architecture trained from scratch with the same patches, steps and rates. Metric: mean PSNR on
// the seven 256×256 Set12 images. Runs are stored in experiments/results/protect/dncnn-attack-runs.json.
import { join } from 'node:path';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { denoiserTrainingData } from '../../src/protect/index.ts';
import { denoisePatches } from '../../src/data/denoise-patches.ts';
import { type DenoiseImage, evaluateDenoiser, mean } from '../../src/train/evaluate.ts';
import { type AttackRun, attackHarness } from '../../src/audit/index.ts';
import { JsonCache, ROOT, TRAIN400, log } from './common.ts';
import { SIGMA } from './dncnn-setting.ts';

export const THIEF_STEPS = 100;
export const THIEF_BATCH = 16;

export interface DncnnThief {
  /** The tier-0 file the thief holds. */
  published: SafetensorsFile;
  /** N: clean patches the thief holds. */
  sizes: number[];
  /** Adam learning rates tried on both sides; each keeps its best. */
  lr: number[];
  /** The images of the metric (the 256×256 Set12 images). */
  images: DenoiseImage[];
  checkpoints: string;
  /** The store key of a harness run key: fine-tuning runs name the file they start from, runs from scratch are shared. */
  storeKey: (runKey: string) => string;
}

/** Runs (or reads back) the thief and the baseline; the head start per N in dB. */
export async function dncnnThief(o: DncnnThief) {
  const patches = await denoisePatches(TRAIN400, { stride: 40 });
  const store = new JsonCache<AttackRun>(join(ROOT, 'experiments', 'results', 'protect', 'dncnn-attack-runs.json'));
  const r = await attackHarness({
    architecture: 'dncnn-17',
    task: 'denoising',
    published: o.published,
    sizes: o.sizes,
    steps: THIEF_STEPS,
    optimizer: 'adam',
    lr: { fineTune: o.lr, scratch: o.lr },
    seed: 1,
    checkpoints: o.checkpoints,
    data: (n) => denoiserTrainingData(patches, { images: n, batch: THIEF_BATCH, seed: 1, sigma: SIGMA }),
    metric: async (m) => mean(evaluateDenoiser(m, o.images, SIGMA, 0).map((x) => x.psnr)),
    store: { get: (k) => store.get(o.storeKey(k)), set: (k, v) => store.set(o.storeKey(k), v) },
    starts: ['published', 'scratch'],
    onRun: (run, cached) =>
      log(
        `N=${run.images} ${run.start} lr ${run.lr}: ${run.before === null ? 'scratch' : run.before.toFixed(2)} → ${run.after.toFixed(2)} dB after ${run.steps} steps${cached ? ' (stored)' : ` in ${Math.round(run.seconds)} s`}`,
      ),
    onEpoch: (s, n, e, es) => log(`  ${s} N=${n}: epoch ${e + 1}/${es}`),
  });
  log(
    `head start (dB): ${Object.entries(r.headStart)
      .map(([n, h]) => `N=${n}: ${h.toFixed(2)}`)
      .join(', ')}`,
  );
  return {
    headStart: r.headStart,
    runs: r.runs,
    /** What the result files record of the recipe. */
    recipe: { patches: patches.length, batch: THIEF_BATCH, steps: THIEF_STEPS, optimizer: 'adam', metric: `mean PSNR on the ${o.images.length} 256×256 Set12 images (dB)` },
  };
}
