// Training throughput of the four model variants measured back to back, interleaved, on the same
// machine state: the accuracy runs' own wall times were taken hours apart under very different
// loads from other jobs, so they cannot be compared with one another. Each variant trains
// `steps` batches of the real pipeline (loader, augmentation, on-the-fly encryption, forward,
// backward, SGD step) per repeat; repeat 0 is a warm-up and is dropped; the median of the rest
// is reported. Stored as <results>/runs/timing.json (skipped on rerun).
import { join } from 'node:path';
import { manualSeed } from '../../src/tensor/index.ts';
import { crossEntropy } from '../../src/ops/loss.ts';
import { SGD } from '../../src/nn/index.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { train } from '../../src/train/loop.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { encryptedSource } from '../../src/cipher/data.ts';
import { buildErModel } from '../../src/er/model-file.ts';
import { type RunContext, PLAIN_NORM, experimentKey, loadAverage, log, trainSet, writeJson, cachedUnit } from './common.ts';

export interface TimingResult {
  steps: number;
  batch: number;
  repeats: number;
  variants: { name: string; imagesPerSecond: number[]; median: number; secondsPerStep: number }[];
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  date: string;
}

const VARIANTS = [
  { name: 'plain', encrypted: false, adaptation: 'none' },
  { name: 'uniform-none', encrypted: true, adaptation: 'none' },
  { name: 'uniform-aligned', encrypted: true, adaptation: 'aligned' },
  { name: 'uniform-padded', encrypted: true, adaptation: 'padded' },
] as const;

export function timingPath(ctx: RunContext): string {
  return join(ctx.results, 'runs', 'timing.json');
}

export async function runTiming(ctx: RunContext): Promise<TimingResult> {
  const cached = cachedUnit<TimingResult>(timingPath(ctx), 'timing');
  if (cached) return cached;
  const steps = ctx.quick ? 3 : 10;
  const repeats = ctx.quick ? 2 : 3;
  const b = ctx.budget;
  const data = await trainSet(steps * b.batch);
  const key = experimentKey('uniform');
  const cipher = new BlockCipher(key);
  const before = loadAverage();
  const setups = VARIANTS.map((v) => {
    manualSeed(0);
    const model = buildErModel({ architecture: 'resnet20', adaptation: v.adaptation, k: 4, channels: 3, numClasses: 10 });
    const loader = new DataLoader(data, { batchSize: b.batch, shuffle: true, seed: 0, workers: 1, augment: { crop: { padding: 4 }, hflip: true }, ...(v.encrypted ? {} : PLAIN_NORM) });
    return { v, model, source: encryptedSource(loader, v.encrypted ? cipher : null), rates: [] as number[] };
  });
  try {
    for (let rep = 0; rep < repeats; rep++) {
      for (const s of setups) {
        const optimizer = new SGD(s.model.parameters(), { lr: 0.01, momentum: b.momentum, weightDecay: b.weightDecay });
        try {
          const { history } = await train({
            model: s.model,
            optimizer,
            data: s.source,
            epochs: 1,
            seed: rep,
            loss: (out, y) => crossEntropy(out, y),
            task: 'classification',
          });
          if (rep > 0) s.rates.push(history[0].imagesPerSecond);
        } finally {
          optimizer.dispose();
        }
      }
      log(
        `timing: repeat ${rep + 1}/${repeats}${rep === 0 ? ' (warm-up)' : ''}: ${setups.map((s) => `${s.v.name} ${s.rates.length ? s.rates[s.rates.length - 1].toFixed(0) : '-'} img/s`).join(', ')}`,
      );
    }
  } finally {
    for (const s of setups) s.model.dispose();
    cipher.dispose();
  }
  const median = (v: number[]) => {
    const o = [...v].sort((a, c) => a - c);
    const h = Math.floor(o.length / 2);
    return o.length % 2 ? o[h] : (o[h - 1] + o[h]) / 2;
  };
  const result: TimingResult = {
    steps,
    batch: b.batch,
    repeats: repeats - 1,
    variants: setups.map((s) => ({ name: s.v.name, imagesPerSecond: s.rates, median: median(s.rates), secondsPerStep: b.batch / median(s.rates) })),
    loadAverageBefore: before,
    loadAverageAfter: loadAverage(),
    date: new Date().toISOString(),
  };
  await writeJson(timingPath(ctx), result);
  return result;
}
