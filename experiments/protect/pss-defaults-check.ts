// Do the new PSS_DEFAULTS (0.4: deterministic gates, log α 1.0, SGD 0.1 Nesterov 0.9) select at
// least as well as 0.3's (PSS_SAMPLED_SETTING: sampled gates, droprate start, Adam 0.05) at equal
// fraction? One small run on the shared ResNet-20, every conv layer, the same data and budget for
// both (the CLI's defaults but fewer images):
//
//   NNLOCK_THREADS=1 nohup nice -n 10 node --import tsx experiments/protect/pss-defaults-check.ts \
//     [--images 512] [--test 2000] > pss-defaults.log 2>&1 &
//
// Each setting's importance (computeImportance('pss') with no settings = PSS_DEFAULTS, and with
// PSS_SAMPLED_SETTING) protects every conv layer at the same per-layer ratios with experiment key
// 0; tier 0's accuracy on the first --test CIFAR-10 test images is the figure (lower = the
// selection hurts more; chance is 0.10). Results: experiments/results/protect/pss-defaults.json.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { modelSpec } from '../../src/models/index.ts';
import { type ImportanceMap, PSS_DEFAULTS, PSS_SAMPLED_SETTING, type PssSettings, computeImportance, loadImportance, protectModel, saveImportance } from '../../src/protect/index.ts';
import { RESNET20, ROOT, correctOn, experimentKey, loadIntoModel, log, readWeights, requireData, testLoader } from './common.ts';
import { allWeightCount } from './exp5-fraction.ts';
import { trainImages } from './pss-variants.ts';

const { values: args } = parseArgs({ options: { images: { type: 'string' }, test: { type: 'string' } } });
const IMAGES = Number(args.images ?? 512);
const BATCH = 128;
const TEST = Number(args.test ?? 2000);
const RATIOS = [0.02, 0.04, 0.08];
requireData();
const file = await readWeights(RESNET20);
const allWeights = allWeightCount(file);
const out = join(ROOT, 'experiments', 'out', 'protect', 'pss-defaults');
const results = join(ROOT, 'experiments', 'results', 'protect');
mkdirSync(out, { recursive: true });

const SETTINGS: Record<string, { pss: PssSettings; describe: string }> = {
  'defaults (0.4)': {
    pss: {},
    describe: `PSS_DEFAULTS: ${JSON.stringify({ gates: PSS_DEFAULTS.gates, initLogAlpha: PSS_DEFAULTS.initLogAlpha, optimizer: PSS_DEFAULTS.optimizer, lr: PSS_DEFAULTS.lr, momentum: PSS_DEFAULTS.momentum, nesterov: PSS_DEFAULTS.nesterov })}`,
  },
  'sampled (0.3 defaults)': { pss: { ...PSS_SAMPLED_SETTING }, describe: `PSS_SAMPLED_SETTING: ${JSON.stringify(PSS_SAMPLED_SETTING)}` },
};

async function scoresOf(name: string, pss: PssSettings, index: number): Promise<{ scores: ImportanceMap; seconds: number; settings: Record<string, unknown> }> {
  const path = join(out, `setting-${index}-${IMAGES}.safetensors`);
  if (existsSync(path)) {
    const f = await loadImportance(path);
    return { scores: f.scores, seconds: Number(f.settings.seconds), settings: f.settings };
  }
  const t0 = performance.now();
  const imp = await computeImportance('pss', file, await trainImages(IMAGES, BATCH, false), { architecture: 'resnet20', seed: 0, pss });
  const seconds = (performance.now() - t0) / 1000;
  await saveImportance(path, imp.scores, { ...imp, settings: { ...imp.settings, seconds } });
  log(`${name}: PSS on ${imp.scores.size} layers in ${seconds.toFixed(0)} s`);
  return { scores: imp.scores, seconds, settings: imp.settings };
}

const model = modelSpec('resnet20').create();
const loader = await testLoader(0, TEST);
loadIntoModel(model, file);
const original = (await correctOn(model, loader)) / TEST;
const rows: { setting: string; ratio: number; fractionOfAllWeights: number; tier0: number }[] = [];
const meta: Record<string, { seconds: number; settings: Record<string, unknown>; describe: string }> = {};
let index = 0;
for (const [name, s] of Object.entries(SETTINGS)) {
  const { scores, seconds, settings } = await scoresOf(name, s.pss, index++);
  meta[name] = { seconds, settings, describe: s.describe };
  for (const ratio of RATIOS) {
    const p = await protectModel(file, { importance: scores, ratio, tiers: 1, architecture: 'resnet20', ...experimentKey(0, 1) });
    loadIntoModel(model, p.file);
    const tier0 = (await correctOn(model, loader)) / TEST;
    const fractionOfAllWeights = (p.layers.reduce((n, l) => n + l.selected, 0) * 9) / allWeights;
    rows.push({ setting: name, ratio, fractionOfAllWeights, tier0 });
    log(`${name}: ratio ${ratio} (${(100 * fractionOfAllWeights).toFixed(2)}% of all weights): tier 0 ${tier0.toFixed(4)}`);
  }
}
model.dispose();
const command = `NNLOCK_THREADS=1 node --import tsx experiments/protect/pss-defaults-check.ts --images ${IMAGES} --test ${TEST}`;
const budget = `every conv layer of ResNet-20 (19), ${IMAGES} CIFAR-10 training images (data_batch_1), batch ${BATCH}, ${PSS_DEFAULTS.epochs} epochs: ${PSS_DEFAULTS.epochs * Math.ceil(IMAGES / BATCH)} steps per layer; tier 0 on the first ${TEST} test images, experiment key 0, default (resample) decoys`;
// At least as good: lower tier-0 accuracy, or both at chance (≤ 0.12, the threshold: below
// it the differences are a few images of a model that guesses).
const CHANCE = 0.12;
const perRatio = RATIOS.map((ratio) => {
  const fresh = rows.find((x) => x.setting === 'defaults (0.4)' && x.ratio === ratio)!.tier0;
  const old = rows.find((x) => x.setting !== 'defaults (0.4)' && x.ratio === ratio)!.tier0;
  return { ratio, new: fresh, old, atLeastAsGood: fresh <= old || (fresh <= CHANCE && old <= CHANCE) };
});
const newWins = perRatio.every((r) => r.atLeastAsGood);
await writeFileAtomic(
  join(results, 'pss-defaults.json'),
  `${JSON.stringify({ command, budget, original, settings: meta, rows, chance: CHANCE, perRatio, newAtLeastAsGoodEverywhere: newWins, date: new Date().toISOString() }, null, 1)}\n`,
);
log(`original ${original.toFixed(4)}; new defaults at least as good (or both ≤ ${CHANCE}) at every ratio: ${newWins}`);
