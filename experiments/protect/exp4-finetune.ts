// Experiment 4: the fine-tuning attack. An attacker holds the published (tier-0) ResNet-20 —
// protected with PSS at the ratio experiment 1 found to give ≤ 0.12 accuracy — and N labelled
// images (N = 1,000 and 5,000, the first of data_batch_1.bin, random crop + flip). They fine-tune
// it for a fixed budget of optimizer steps; the baseline is a ResNet-20 trained from scratch on the
// same images for the same number of steps. If fine-tuning the protected model does not beat
// training from scratch (and stays far below the original), the decoys leave the attacker
// nothing useful.
//
// Both runs use the training loop of src/train with a checkpoint per epoch (a rerun resumes).
// Budget: 160 steps of batch 125 for every run (20 epochs of 1,000 images, 4 epochs of 5,000).
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { manualSeed, noGrad, scope } from '../../src/tensor/index.ts';
import { crossEntropy } from '../../src/ops/loss.ts';
import { SGD, cosine } from '../../src/nn/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { subset } from '../../src/data/dataset.ts';
import { train } from '../../src/train/loop.ts';
import { lineChartSvg } from '../lib/svg.ts';
import {
  JsonCache,
  RESNET20,
  RESNET20_NORM,
  type RunContext,
  type Section,
  cifarTrain1,
  correctOn,
  fmt,
  loadIntoModel,
  log,
  pct,
  protectWithKey,
  range,
  readSection,
  readWeights,
  table,
  testLoader,
} from './common.ts';
import { importanceOf, resnetImportanceFile, resnetSettings } from './importance.ts';
import type { Exp1Data } from './exp1-ratio.ts';

interface RunSpec {
  name: string;
  images: number;
  epochs: number;
  init: 'tier0' | 'scratch';
  lr: number;
}

interface RunResult {
  spec: RunSpec;
  steps: number;
  /** [optimizer steps, accuracy on the first `curveImages` test images]. */
  curve: [number, number][];
  finalFull: number;
  trainSeconds: number;
}

export interface Exp4Data {
  ratio: number;
  ratioSource: string;
  batch: number;
  curveImages: number;
  fullImages: number;
  original: number;
  tier0: number;
  /** Tier-0 model with its batch-norm statistics re-estimated on the attacker's N images (no gradient step). */
  bnRecalibrated: { images: number; passes: number; full: number }[];
  runs: RunResult[];
}

export async function runExp4(ctx: RunContext): Promise<Section> {
  const t0 = performance.now();
  const quick = ctx.quick;
  const exp1 = readSection(ctx, 1)?.data as Exp1Data | undefined;
  const ratio = exp1?.threshold.pss ?? 0.08;
  const ratioSource = exp1?.threshold.pss != null ? 'experiment 1: the smallest ratio giving tier-0 accuracy ≤ 0.12 with PSS' : 'default 8% (experiment 1 has no PSS threshold yet)';
  const batch = 125;
  const curveImages = quick ? 200 : 1000;
  const fullImages = quick ? 1000 : 5000;
  const sizes: [number, number][] = quick
    ? [
        [250, 2],
        [500, 1],
      ]
    : [
        [1000, 20],
        [5000, 4],
      ];
  const curveEvery = (epochs: number) => Math.max(1, Math.round(epochs / 5));
  const dir = join(ctx.out, 'exp4');
  mkdirSync(dir, { recursive: true });
  const cache = new JsonCache<RunResult | number>(join(dir, 'results.json'));

  const file = await readWeights(RESNET20);
  const importance = await importanceOf('pss', file, 'resnet20', 0, resnetImportanceFile(ctx, 'pss'), resnetSettings(quick));
  const published = (await protectWithKey(file, 0, { importance, ratio, tiers: 1, architecture: 'resnet20' })).file;
  const curveLoader = await testLoader(0, curveImages);
  const restLoader = await testLoader(curveImages, fullImages);
  const spec = modelSpec('resnet20');

  const fullAccuracy = async (m: ReturnType<typeof spec.create>): Promise<{ curve: number; full: number }> => {
    const a = await correctOn(m, curveLoader);
    const b = await correctOn(m, restLoader);
    return { curve: a / curveImages, full: (a + b) / fullImages };
  };
  const probe = spec.create();
  let original: number, tier0: number;
  try {
    original = (await cache.getOr('original', async () => {
      loadIntoModel(probe, file);
      return (await fullAccuracy(probe)).full;
    })) as number;
    tier0 = (await cache.getOr(`tier0|${ratio}`, async () => {
      loadIntoModel(probe, published);
      return (await fullAccuracy(probe)).full;
    })) as number;
  } finally {
    probe.dispose();
  }
  log(`exp4: original ${fmt(original)}, tier-0 at ratio ${pct(ratio)}: ${fmt(tier0)} (${fullImages} test images)`);

  // A free attack first: re-estimate the batch-norm running statistics on the attacker's images
  // (forward passes in training mode, no gradient step). Decoys shift every activation downstream;
  // fresh statistics absorb part of that shift.
  const bnRecalibrated: Exp4Data['bnRecalibrated'] = [];
  for (const [images] of sizes) {
    const passes = Math.max(1, Math.ceil(32 / Math.ceil(images / batch))); // ≥ 32 batches: 0.9^32 ≈ 3% of the old statistics left
    const full = (await cache.getOr(`bn-recalibration|${images}|${passes}|${ratio}`, async () => {
      const m = spec.create();
      try {
        loadIntoModel(m, published);
        const loader = new DataLoader(subset(await cifarTrain1(), range(0, images)), { batchSize: batch, seed: 1, workers: 0, ...RESNET20_NORM });
        m.train();
        for (let e = 0; e < passes; e++) {
          for await (const b of loader.epoch(e)) {
            noGrad(() =>
              scope(() => {
                m.forward(b.x);
              }),
            );
            b.x.dispose();
            b.y.dispose();
          }
        }
        return (await fullAccuracy(m)).full;
      } finally {
        m.dispose();
      }
    })) as number;
    bnRecalibrated.push({ images, passes, full });
    log(`exp4: tier-0 model with batch-norm statistics re-estimated on ${images} images (${passes} passes, no training): accuracy ${fmt(full)}`);
  }

  const specs: RunSpec[] = sizes.flatMap(([images, epochs]) => [
    { name: `attack-${images}`, images, epochs, init: 'tier0' as const, lr: 0.01 },
    { name: `scratch-${images}`, images, epochs, init: 'scratch' as const, lr: 0.1 },
  ]);
  const runs: RunResult[] = [];
  for (const s of specs) {
    const key = `${s.name}|${ratio}|${s.epochs}|${batch}|${s.lr}`;
    const done = cache.get(key) as RunResult | undefined;
    if (done) {
      runs.push(done);
      continue;
    }
    const ds = subset(await cifarTrain1(), range(0, s.images));
    const loader = new DataLoader(ds, { batchSize: batch, seed: 1, workers: 0, ...RESNET20_NORM, augment: { crop: { padding: 4 }, hflip: true } });
    manualSeed(1);
    const model = spec.create();
    if (s.init === 'tier0') loadIntoModel(model, published);
    const opt = new SGD(model.parameters(), { lr: s.lr, momentum: 0.9, weightDecay: 5e-4 });
    const every = curveEvery(s.epochs);
    const t = performance.now();
    try {
      const startAcc = (await cache.getOr(`start|${s.name}|${ratio}`, async () => (await correctOn(model, curveLoader)) / curveImages)) as number;
      log(
        `exp4 ${s.name}: ${s.epochs} epochs × ${loader.batchCount} steps on ${s.images} images (${s.init === 'tier0' ? 'fine-tuning the tier-0 model' : 'from scratch'}, SGD lr ${s.lr} cosine, momentum 0.9, wd 5e-4)`,
      );
      const { history } = await train({
        model,
        optimizer: opt,
        epochs: s.epochs,
        schedule: cosine(s.lr, s.epochs),
        seed: 1,
        task: 'classification',
        data: { batchCount: loader.batchCount, epoch: (e) => loader.epoch(e) },
        loss: (o, y) => crossEntropy(o, y),
        evaluate: async (m, epoch): Promise<Record<string, number>> => ((epoch + 1) % every === 0 && epoch + 1 < s.epochs ? { testAccuracy: (await correctOn(m, curveLoader)) / curveImages } : {}),
        checkpoint: join(dir, `${s.name}-r${ratio}.ckpt`),
        info: { run: s.name },
      });
      const final = await fullAccuracy(model);
      const curve: [number, number][] = [[0, startAcc]];
      for (const h of history) if (h.testAccuracy !== undefined) curve.push([h.epoch * loader.batchCount, h.testAccuracy]);
      curve.push([s.epochs * loader.batchCount, final.curve]);
      const r: RunResult = { spec: s, steps: s.epochs * loader.batchCount, curve, finalFull: final.full, trainSeconds: history.reduce((a, h) => a + h.seconds, 0) };
      await cache.set(key, r);
      runs.push(r);
      log(`exp4 ${s.name}: test accuracy ${fmt(final.full)} on ${fullImages} images after ${r.steps} steps (${Math.round((performance.now() - t) / 1000)} s)`);
    } finally {
      opt.dispose();
      model.dispose();
    }
  }

  const data: Exp4Data = { ratio, ratioSource, batch, curveImages, fullImages, original, tier0, bnRecalibrated, runs };
  const svg = 'exp4-finetune.svg';
  await writeFileAtomic(
    join(ctx.results, svg),
    lineChartSvg({
      title: `Fine-tuning attack vs from scratch (first ${curveImages} test images)`,
      xLabel: 'optimizer steps (batch 125)',
      yLabel: 'test accuracy',
      yMin: 0,
      yMax: 0.9,
      width: 760,
      series: [
        ...runs.map((r) => ({ name: `${r.spec.init === 'tier0' ? 'attack' : 'scratch'}, ${r.spec.images} img`, points: r.curve })),
        {
          name: `original ${fmt(original, 3)}`,
          points: [
            [0, original],
            [Math.max(...runs.map((r) => r.steps)), original],
          ],
        },
      ],
    }),
  );
  return { n: 4, title: 'Fine-tuning attack on the tier-0 ResNet-20', markdown: render(data, svg), data, seconds: (performance.now() - t0) / 1000, date: new Date().toISOString(), quick };
}

function render(d: Exp4Data, svg: string): string {
  const rows = d.runs.map((r) => [
    r.spec.init === 'tier0' ? 'attack: fine-tune tier-0 model' : 'baseline: from scratch',
    String(r.spec.images),
    String(r.spec.epochs),
    String(r.steps),
    String(r.spec.lr),
    `**${fmt(r.finalFull)}**`,
    fmt(r.trainSeconds, 0),
  ]);
  return [
    `The published (tier-0) ResNet-20 protected with PSS at ratio ${pct(d.ratio)} (${d.ratioSource}), key 0. Original accuracy ${fmt(d.original)}, tier-0 accuracy ${fmt(d.tier0)} (${d.fullImages} test images). ` +
      `The attacker has the first N images of data_batch_1.bin with labels (random crop with 4-pixel padding + horizontal flip) and fine-tunes every parameter with SGD (momentum 0.9, weight decay 5e-4, cosine schedule per epoch from lr 0.01); ` +
      `the baseline trains a fresh ResNet-20 on the same images with the same batch (${d.batch}) and the **same number of optimizer steps** (lr 0.1, otherwise the same). ` +
      `Final accuracies on the full ${d.fullImages}-image test set; the curves on the first ${d.curveImages} test images. ` +
      "Before any training, the first rows re-estimate only the batch-norm running statistics of the tier-0 model on the attacker's images (forward passes in training mode, at least 32 batches, no gradient step).",
    '',
    table(
      ['run', 'images N', 'epochs', 'steps', 'lr', `test accuracy (${d.fullImages})`, 'train time (s)'],
      [...d.bnRecalibrated.map((b) => ['attack without training: batch-norm statistics re-estimated', String(b.images), `${b.passes} passes`, '0', '–', `**${fmt(b.full)}**`, '–']), ...rows],
    ),
    '',
    `![fine-tuning curves](${svg})`,
  ].join('\n');
}
