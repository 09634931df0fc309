// The DnCNN paper setting's levers, measured (issue 13): 2% of the kernels of three middle conv
// layers of DnCNN-S-25, five tiers, Set12 at σ = 25. What a configuration may change: the importance
// estimator, the decoy kind, which three middle layers, and how the five tiers split the ranking.
// Every configuration run is one row of experiments/results/protect/dncnn-sweep.json (and .md).
//
//   NNLOCK_THREADS=1 nohup nice -n 10 node --import tsx experiments/protect/dncnn-sweep.ts \
//     --stage screen|layers|triples|tiers [--config …] [--screen-images n] > dncnn-sweep.log 2>&1 &
//
// screen: tier 0 only on the seven 256×256 Set12 images (--screen-images n: the first n of them,
//   all: all twelve;
//   about 1 s per image at 1 thread on a quiet machine), every estimator of --config (a comma list;
//   default all) × every decoy kind, on the centre layers dncnn.20/23/26 (the last session's choice).
// layers: tier 0 only, each single middle layer (--layers 2,20,…) at 2%, for --config
//   '{"estimator":…,"decoys":…}'.
// triples: tier 0 only, for --config '[{"estimator","decoys","layers":[…]}, …]'.
// tiers: every tier on all twelve Set12 images for --config '[{…, "split": …}, …]' (splits: see
//   Config in dncnn-setting.ts), each tier unlocked with its own token, the master key's restore
//   checked bit for bit.
//
// Importance scores are kept per layer in experiments/out/protect/dncnn-sweep/<estimator>.safetensors
// (each layer's gates are learned with the others open, so a layer's scores do not depend on which
// others are scored): a layer is scored once, when a configuration first needs it.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { type DecoyMode, convLayers } from '../../src/protect/index.ts';
import { DNCNN, ROOT, SET12, TRAIN400, grayImages, log, readWeights, requireData } from './common.ts';
import { type Config, DncnnSetting, ESTIMATORS, RATIO, SIGMA, TIERS, short } from './dncnn-setting.ts';

const { values: args } = parseArgs({ options: { stage: { type: 'string' }, config: { type: 'string' }, 'screen-images': { type: 'string' }, layers: { type: 'string' } } });

const DECOYS: DecoyMode[] = ['resample', 'context', 'joint', 'position'];

requireData();
const file = await readWeights(DNCNN);
const convs = convLayers(file.tensors);
/** dncnn.2 … dncnn.44: the fifteen conv layers between the first and the last (both 1-channel). */
const MIDDLE_ALL = convs.slice(1, -1).map((l) => l.name);
const mid = Math.floor(convs.length / 2);
const CENTRE = [convs[mid - 1], convs[mid], convs[mid + 1]].map((l) => l.name);
const set12 = await grayImages(SET12);
// --screen-images all: screen on all twelve (tier 0 of more keys on the full set).
const small = args['screen-images'] === 'all' ? set12 : set12.filter((i) => i.height === 256 && i.width === 256).slice(0, Number(args['screen-images'] ?? 7));
const results = join(ROOT, 'experiments', 'results', 'protect');
const setting = new DncnnSetting(file, set12, small, await grayImages(TRAIN400, 6));
const { screen, full, show } = setting;
const model = setting.model;

const stage = args.stage ?? 'screen';
if (stage === 'screen') {
  for (const estimator of (args.config ?? Object.keys(ESTIMATORS).join(',')).split(',')) for (const decoys of DECOYS) log(show(await screen({ estimator, decoys, layers: CENTRE })));
} else if (stage === 'layers') {
  const { estimator, decoys } = JSON.parse(args.config ?? '{"estimator":"pss-paper","decoys":"position"}') as Config;
  const which = args.layers ? args.layers.split(',').map((l) => `dncnn.${l}.weight`) : MIDDLE_ALL;
  for (const l of which) log(show(await screen({ estimator, decoys, layers: [l] })));
} else if (stage === 'triples' || stage === 'tiers') {
  const configs = JSON.parse(args.config ?? '[]') as Config[];
  for (const c of configs) log(show(stage === 'tiers' ? await full(c) : await screen(c)));
} else throw new Error(`unknown stage ${stage}`);
model.dispose();

// The table of every configuration run so far.
const rows = setting.rows();
const md = [
  '# DnCNN-S-25, the paper setting: every configuration run',
  '',
  `2% of the kernels of three middle conv layers (${RATIO}), ${TIERS} tiers, Set12 at σ = ${SIGMA}, seed-0 noise. Produced by \`experiments/protect/dncnn-sweep.ts\`.`,
  'Screening rows: tier 0 on the first n (column images) of the seven 256×256 Set12 images. Full rows: every tier on all twelve. Calibrated splits (targets:…) are calibrated on six train400 images, not on Set12.',
  '',
  '| estimator | decoys | key | layers | split | images | noisy dB | tiers 0..5 (dB) | tier 0 < noisy | ordered | master exact | % of all weights |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.estimator} | ${r.decoys} | ${r.key ?? 0} | ${short(r.layers)} | ${r.split} | ${r.images} | ${r.noisyPsnr.toFixed(2)} | ${r.tiers.map((v) => v.toFixed(2)).join(' / ')} | ${r.tier0BelowNoisy ? 'yes' : 'no'} | ${r.strictlyOrdered === undefined ? '—' : r.strictlyOrdered ? 'yes' : 'no'} | ${r.masterBitExact === undefined ? '—' : r.masterBitExact ? 'yes' : 'no'} | ${(100 * r.weightFraction).toFixed(3)} |`,
  ),
  '',
  'Estimators:',
  ...Object.entries(ESTIMATORS).map(([k, e]) => `- ${k}: ${e.describe}`),
  '',
];
await writeFileAtomic(join(results, 'dncnn-sweep.md'), md.join('\n'));
