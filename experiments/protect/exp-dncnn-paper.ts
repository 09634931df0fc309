// DnCNN-S-25 in the paper's DnCNN setting (Tian et al.: 2% of the kernels of three middle layers,
// five tiers), and the fine-tuning attack on it:
//
//   NNLOCK_THREADS=1 nohup nice -n 10 node --import tsx experiments/protect/exp-dncnn-paper.ts \
//     [--attack] [--sizes 1000] [--quick] > dncnn-paper.log 2>&1 &
//
// (a) PSNR per tier on Set12 at σ = 25 (tier 0 against the noisy input, tiers strictly ordered, the
//     master key's restore bit-exact). Importance: PSS on the three layers with few patches (64
//     clean 40×40 train400 patches, 1 epoch: exp2's settings), and L1 for comparison (tier 0 only).
//     The paper's σ = 50 needs a DnCNN trained for σ = 50, which the fixtures do not have.
// (b) --attack: the attacker holds the tier-0 file and N clean train400 patches (40×40, evenly
//     spread over the 6,400 patches of stride 40; σ = 25 noise drawn per batch) and fine-tunes it
//     with Adam at 1e-3 (what DnCNN trains with), against the same architecture trained from
//     scratch with the same patches and steps (100 of batch 16). Metric: mean PSNR on the seven
//     256×256 Set12 images. Runs are stored in
//     experiments/results/protect/dncnn-attack-runs.json; results in dncnn-paper.json.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { modelSpec } from '../../src/models/index.ts';
import { type DecoyMode, computeImportance, convLayers, protectModel, unlockModel } from '../../src/protect/index.ts';
import { denoiserTrainingData } from '../../src/protect/importance/training-data.ts';
import { denoisePatches } from '../../src/data/denoise-patches.ts';
import { evaluateDenoiser, mean } from '../../src/train/evaluate.ts';
import { type AttackRun, attackHarness } from '../../src/audit/index.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import type { Module } from '../../src/nn/index.ts';
import { DNCNN, JsonCache, ROOT, SET12, TRAIN400, bitIdentical, denoiseTaskData, experimentKey, grayImages, loadIntoModel, log, readWeights, requireData } from './common.ts';

const { values: args } = parseArgs({ options: { attack: { type: 'boolean' }, sizes: { type: 'string' }, quick: { type: 'boolean' } } });
const quick = args.quick ?? false;
const SIGMA = 25;
const RATIO = 0.02;
const TIERS = 5;
const STEPS = quick ? 2 : 100;
const BATCH = 16;
const results = quick ? join(ROOT, 'experiments', 'out', 'protect', 'quick') : join(ROOT, 'experiments', 'results', 'protect');
const out = join(ROOT, 'experiments', 'out', 'protect', quick ? 'quick-dncnn-paper' : 'dncnn-paper');
mkdirSync(results, { recursive: true });
mkdirSync(out, { recursive: true });
requireData();

const file = await readWeights(DNCNN);
const all = convLayers(file.tensors);
// The three middle conv layers of the 17 (model order).
const mid = Math.floor(all.length / 2);
const MIDDLE = [all[mid - 1], all[mid], all[mid + 1]].map((l) => l.name);
const allWeights = [...file.tensors.values()].reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
let images = await grayImages(SET12);
if (quick) images = images.slice(0, 1);
const cache = new JsonCache<unknown>(join(results, `dncnn-paper-cache${quick ? '-quick' : ''}.json`));
const model = modelSpec('dncnn-17').create();
const psnrOf = (m: Module, f: SafetensorsFile) => {
  loadIntoModel(m, f);
  const rs = evaluateDenoiser(m, images, SIGMA, 0);
  return { psnr: mean(rs.map((r) => r.psnr)), noisy: mean(rs.map((r) => r.psnrNoisy)) };
};

const settings = quick ? { images: 16, batch: 16, epochs: 1 } : { images: 64, batch: 16, epochs: 1 };
const t0 = performance.now();
const pss = await computeImportance('pss', file, await denoiseTaskData(settings.images, settings.batch, 0, SIGMA), {
  architecture: 'dncnn-17',
  layers: MIDDLE,
  seed: 0,
  pss: { epochs: settings.epochs },
});
const pssSeconds = (performance.now() - t0) / 1000;
log(`PSS on ${MIDDLE.join(', ')} in ${pssSeconds.toFixed(0)} s`);
const protectWith = (scores: typeof pss.scores, decoys: DecoyMode = 'context') =>
  protectModel(file, { importance: scores, ratio: RATIO, layers: MIDDLE, tiers: TIERS, architecture: 'dncnn-17', decoys, ...experimentKey(0, TIERS) });
const p = await protectWith(pss.scores);
const selected = p.layers.reduce((n, l) => n + l.selected, 0);
const kernelsInLayers = p.layers.reduce((n, l) => n + l.kernels, 0);
log(`protected ${selected} of ${kernelsInLayers} kernels of the three layers (${((100 * selected * 9) / allWeights).toFixed(3)}% of all ${allWeights} weights)`);

// (a) every tier, each unlocked with its own token.
const tiers: { tier: number; psnr: number }[] = [];
let noisy = 0;
let masterFile = p.file;
for (let m = 0; m <= TIERS; m++) {
  const f = m === 0 ? p.file : (await unlockModel(p.file, p.tokens[m - 1])).file;
  if (m === TIERS) masterFile = f;
  const r = (await cache.getOr(`pss|tier${m}|${images.length}`, async () => psnrOf(model, f))) as { psnr: number; noisy: number };
  noisy = r.noisy;
  tiers.push({ tier: m, psnr: r.psnr });
  log(`tier ${m}: ${r.psnr.toFixed(2)} dB (noisy input ${r.noisy.toFixed(2)} dB)`);
}
const strictlyOrdered = tiers.every((t, i) => i === 0 || t.psnr > tiers[i - 1].psnr);
const masterBitExact = bitIdentical(masterFile, file).identical;
const l1 = (await cache.getOr(`l1|tier0|${images.length}`, async () => {
  const q = await protectWith((await computeImportance('l1', file, undefined, { layers: MIDDLE })).scores);
  return psnrOf(model, q.file);
})) as { psnr: number };
// The decoy mode matters for how much a few kernels hurt: 0.1's per-position decoys, tier 0 only.
const positionDecoys = (await cache.getOr(`pss-position|tier0|${images.length}`, async () => psnrOf(model, (await protectWith(pss.scores, 'position')).file))) as { psnr: number };
log(`PSS with 0.1's per-position decoys: tier 0 ${positionDecoys.psnr.toFixed(2)} dB`);
log(
  `L1 at the same setting: tier 0 ${l1.psnr.toFixed(2)} dB; PSS tiers ${strictlyOrdered ? 'strictly ordered' : 'NOT strictly ordered'}, master key ${masterBitExact ? 'bit-exact' : 'NOT bit-exact'}`,
);

// How much of the three layers tier 0 needs to fall below the noisy input: tier 0 at larger ratios
// (PSS ranking, context decoys), on the seven 256×256 Set12 images.
const small = images.filter((i) => i.height === 256 && i.width === 256);
const sweep: { ratio: number; weightFraction: number; tier0Psnr: number; noisyPsnr: number }[] = [];
for (const ratio of quick ? [0.5] : [0.1, 0.3, 1]) {
  const r = (await cache.getOr(`sweep|${ratio}|${small.length}`, async () => {
    const q = await protectModel(file, { importance: pss.scores, ratio, layers: MIDDLE, tiers: TIERS, architecture: 'dncnn-17', ...experimentKey(0, TIERS) });
    loadIntoModel(model, q.file);
    const rs = evaluateDenoiser(model, small, SIGMA, 0);
    return { ratio, weightFraction: (q.layers.reduce((n, l) => n + l.selected, 0) * 9) / allWeights, tier0Psnr: mean(rs.map((x) => x.psnr)), noisyPsnr: mean(rs.map((x) => x.psnrNoisy)) };
  })) as (typeof sweep)[number];
  sweep.push(r);
  log(
    `three middle layers at ratio ${ratio} (${(100 * r.weightFraction).toFixed(2)}% of all weights): tier 0 ${r.tier0Psnr.toFixed(2)} dB (noisy ${r.noisyPsnr.toFixed(2)} dB, ${small.length} images)`,
  );
}

const paper = {
  command: `NNLOCK_THREADS=1 node --import tsx experiments/protect/exp-dncnn-paper.ts${args.attack ? ` --attack --sizes ${args.sizes ?? '1000'}` : ''}`,
  setting: { layers: MIDDLE, ratio: RATIO, tiers: TIERS, sigma: SIGMA, strategy: 'pss', pss: { ...settings, layersOnly: true, seconds: pssSeconds }, decoys: 'context (default)' },
  selectedKernels: selected,
  kernelsInLayers,
  weightFraction: (selected * 9) / allWeights,
  fractions: p.fractions,
  images: images.length,
  noisyPsnr: noisy,
  tiers,
  tier0BelowNoisy: tiers[0].psnr < noisy,
  strictlyOrdered,
  masterBitExact,
  l1Tier0Psnr: l1.psnr,
  positionDecoysTier0Psnr: positionDecoys.psnr,
  ratioSweep: { images: small.length, points: sweep },
  attack: undefined as unknown,
};

// (b) the attack on the tier-0 file.
if (args.attack) {
  const sizes = (args.sizes ?? (quick ? '32' : '1000')).split(',').map(Number);
  const patches = await denoisePatches(TRAIN400, { stride: 40 });
  // The seven 256×256 Set12 images (the 512×512 ones cost 4× each, and every run evaluates twice).
  const attackImages = images.filter((i) => i.height === 256 && i.width === 256);
  const store = new JsonCache<AttackRun>(join(results, `dncnn-attack-runs${quick ? '-quick' : ''}.json`));
  const r = await attackHarness({
    architecture: 'dncnn-17',
    task: 'denoising',
    published: p.file,
    sizes,
    steps: STEPS,
    optimizer: 'adam',
    lr: { fineTune: 1e-3, scratch: 1e-3 },
    seed: 1,
    checkpoints: join(out, 'checkpoints'),
    data: (n) => denoiserTrainingData(patches, { images: n, batch: BATCH, seed: 1, sigma: SIGMA }),
    metric: async (m) => mean(evaluateDenoiser(m, attackImages, SIGMA, 0).map((x) => x.psnr)),
    store: { get: (k) => store.get(`paper|${k}`), set: (k, v) => store.set(`paper|${k}`, v) },
    starts: ['published', 'scratch'],
    onRun: (run, cached) =>
      log(
        `N=${run.images} ${run.start} lr ${run.lr}: ${run.before === null ? 'scratch' : run.before.toFixed(2)} → ${run.after.toFixed(2)} dB after ${run.steps} steps${cached ? ' (stored)' : ` in ${Math.round(run.seconds)} s`}`,
      ),
    onEpoch: (s, n, e, es) => log(`  ${s} N=${n}: epoch ${e + 1}/${es}`),
  });
  paper.attack = {
    patches: patches.length,
    batch: BATCH,
    steps: STEPS,
    optimizer: 'adam',
    metric: `mean PSNR on the ${attackImages.length} 256×256 Set12 images (dB)`,
    headStartDb: r.headStart,
    runs: r.runs,
  };
  log(
    `head start (dB): ${Object.entries(r.headStart)
      .map(([n, h]) => `N=${n}: ${h.toFixed(2)}`)
      .join(', ')}`,
  );
}
model.dispose();
await writeFileAtomic(join(results, `dncnn-paper${quick ? '-quick' : ''}.json`), `${JSON.stringify(paper, null, 1)}\n`);
log(`wrote ${join(results, `dncnn-paper${quick ? '-quick' : ''}.json`)}`);
