// DnCNN-S-25 in the paper's DnCNN setting (2% of the kernels of three middle conv layers, five
// tiers, σ = 25), its configuration chosen on held-out images, never on Set12 (issue 13). Last
// session's sweep (dncnn-sweep.ts) screened on Set12 itself, the set the bar is measured on.
//
//   NNLOCK_THREADS=1 nohup nice -n 10 node --import tsx experiments/protect/dncnn-heldout.ts \
//     --stage screen|estimators|tiers|pick|keys [--top 3] > dncnn-heldout.log 2>&1 &
//
// Fixed before any figure was looked at:
// - Middle layers: convs 6–12 of the 17 (dncnn.14 … dncnn.32), the central seven, with five convs
//   on either side. Every triple of them (35) is a candidate.
// - Screening set: SCREEN_IMAGES train400 images (180×180), noisy at σ = 25 with seed 0, none of
//   which the 64- or 128-patch importance estimators cut their patches from, nor the six
//   calibration images of the calibrated splits. (DnCNN-S-25 itself was trained on all of
//   train400; held out here means held out from the choice, Set12 never being looked at.)
// - The estimator of the paper's setting is PSS with the paper's gates (pss-paper, the library's
//   default); the other estimators are screened on the best triples as a lever.
// - Rule: among the configurations (estimator, decoys, triple; experiment key 0) whose tier 0 on
//   the screening set is below that set's noisy PSNR, the one with the lowest tier 0 whose tiers
//   on the screening set are strictly ordered under some split tried; of its strictly ordered
//   splits, the one with the largest smallest step between adjacent tiers. No candidate eligible:
//   the lowest tier 0, reported as failing.
//
// Stages (each resumable; rows cached in experiments/results/protect/dncnn-heldout-runs.json):
//   screen      tier 0 of every middle triple × every decoy mode, pss-paper;
//   estimators  tier 0 of the --top best triples (default 3) × every other estimator × decoy mode;
//   tiers       every tier of the --top best configurations × every split, on the screening set;
//   pick        applies the rule, writes dncnn-heldout.json (the winner, which
//               exp-dncnn-paper.ts then measures once on Set12) and dncnn-heldout.md (every row);
//   keys        after that measurement: tier 0 on Set12 with experiment keys 1 and 2.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { type DecoyMode, convLayers } from '../../src/protect/index.ts';
import { listImages } from '../../src/data/image-folder.ts';
import { patchCount } from '../../src/data/denoise-patches.ts';
import { DNCNN, ROOT, SET12, TRAIN400, grayImages, log, readWeights, requireData } from './common.ts';
import { type Config, DncnnSetting, ESTIMATORS, type ImageSet, RATIO, type Row, SIGMA, TIERS, short } from './dncnn-setting.ts';

const { values: args } = parseArgs({ options: { stage: { type: 'string' }, top: { type: 'string' } } });
const DECOYS: DecoyMode[] = ['resample', 'context', 'joint', 'position'];
const SPLITS = ['equal', 'default'];
const SCREEN_IMAGES = 16;
/** The six calibration images of the calibrated splits (dncnn-setting.ts: the first six). */
const CALIBRATION = 6;
const PAPER_ESTIMATOR = 'pss-paper';
const RESULTS = join(ROOT, 'experiments', 'results', 'protect');
const top = Number(args.top ?? 3);
/** The selection rule (see the header), as the results state it. */
const RULE =
  'lowest tier-0 PSNR on the screening set among configurations with tier 0 below its noisy PSNR and tiers strictly ordered on it under some split; the split with the largest smallest step between adjacent tiers';

/** Which train400 images (by index) the first `n` evenly spread 40×40 stride-10 patches come from (denoiserTrainingData). */
function patchSourceImages(sides: number[], n: number): Set<number> {
  const perImage = sides.map((s) => patchCount(s, 40, 10) ** 2);
  const total = perImage.reduce((a, b) => a + b, 0);
  const step = Math.max(1, Math.floor(total / n));
  const used = new Set<number>();
  for (let i = 0; i < Math.min(n, total); i++) {
    let p = i * step;
    let img = 0;
    while (p >= perImage[img]) p -= perImage[img++];
    used.add(img);
  }
  return used;
}

/** The screening images: SCREEN_IMAGES evenly spread over the train400 images no estimator's patches or calibration use. */
async function screeningSet(): Promise<ImageSet & { files: string[] }> {
  const files = await listImages(TRAIN400);
  const all = await grayImages(TRAIN400);
  const used = new Set<number>(Array.from({ length: CALIBRATION }, (_, i) => i));
  const sides = all.map((i) => i.height); // square, 180×180
  for (const e of Object.values(ESTIMATORS)) if (e.images && e.images <= 128) for (const i of patchSourceImages(sides, e.images)) used.add(i);
  const free = all.map((_, i) => i).filter((i) => !used.has(i));
  const picked = Array.from({ length: SCREEN_IMAGES }, (_, j) => free[Math.floor(((j + 0.5) * free.length) / SCREEN_IMAGES)]);
  return { name: `train400-${SCREEN_IMAGES}`, images: picked.map((i) => all[i]), files: picked.map((i) => files[i].replace(/^.*\//, '')) };
}

requireData();
const file = await readWeights(DNCNN);
const convs = convLayers(file.tensors);
/** Convs 6–12 of 17 (1-based): indices 5..11 of the conv list. */
const MIDDLE = convs.slice(5, 12).map((l) => l.name);
const triples: string[][] = [];
for (let a = 0; a < MIDDLE.length; a++) for (let b = a + 1; b < MIDDLE.length; b++) for (let c = b + 1; c < MIDDLE.length; c++) triples.push([MIDDLE[a], MIDDLE[b], MIDDLE[c]]);
const screenSet = await screeningSet();
const setting = new DncnnSetting(file, await grayImages(SET12), [], await grayImages(TRAIN400, CALIBRATION), 'dncnn-heldout-runs.json');
const { show } = setting;

const tier0Rows = () => setting.rows().filter((r) => r.set === screenSet.name && r.tiers.length === 1);
const fullRows = () => setting.rows().filter((r) => r.set === screenSet.name && r.tiers.length > 1);
const configOf = (r: Row): Config => ({ estimator: r.estimator, decoys: r.decoys, layers: r.layers });
const sameConfig = (a: Config, b: Config) => a.estimator === b.estimator && a.decoys === b.decoys && short(a.layers) === short(b.layers);
/** The best tier-0 rows first (the --top of them, or all). */
const best = (rows: Row[], n = rows.length) => [...rows].sort((a, b) => a.tiers[0] - b.tiers[0]).slice(0, n);
const smallestStep = (p: readonly number[]) => Math.min(...p.slice(1).map((v, i) => v - p[i]));

function readChoice() {
  const path = join(RESULTS, 'dncnn-heldout.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

const stage = args.stage ?? 'screen';
log(`screening set ${screenSet.name}: ${screenSet.files.join(', ')}; middle layers ${short(MIDDLE)}`);
if (stage === 'screen') {
  for (const layers of triples) for (const decoys of DECOYS) log(show(await setting.screenOn({ estimator: PAPER_ESTIMATOR, decoys, layers }, screenSet)));
} else if (stage === 'estimators') {
  const seen = new Set<string>();
  const bestTriples = best(tier0Rows().filter((r) => r.estimator === PAPER_ESTIMATOR))
    .map((r) => r.layers)
    .filter((l) => !seen.has(short(l)) && seen.add(short(l)))
    .slice(0, top);
  for (const layers of bestTriples)
    for (const estimator of Object.keys(ESTIMATORS)) if (estimator !== PAPER_ESTIMATOR) for (const decoys of DECOYS) log(show(await setting.screenOn({ estimator, decoys, layers }, screenSet)));
} else if (stage === 'tiers') {
  for (const r of best(tier0Rows(), top)) for (const split of SPLITS) log(show(await setting.fullOn({ ...configOf(r), split }, screenSet)));
} else if (stage === 'keys') {
  // After the one Set12 measurement: tier 0 of the chosen configuration on all of Set12 with the
  // decoys of other experiment keys (how much the figure depends on the key's draw; not a choice).
  const c = readChoice();
  if (!c) throw new Error('--stage keys: run --stage pick first');
  for (const key of [1, 2]) log(show(await setting.screenOn({ ...c.winner, key }, { name: 'set12', images: setting.set12 })));
} else if (stage === 'pick') {
  const noisy = tier0Rows()[0]?.noisyPsnr;
  const ordered = fullRows().filter((r) => r.strictlyOrdered);
  const eligible = best(tier0Rows()).filter((r) => r.tier0BelowNoisy && ordered.some((f) => sameConfig(f, r)));
  const winner = eligible[0] ?? best(tier0Rows())[0];
  const splits = ordered.filter((f) => sameConfig(f, winner)).sort((a, b) => smallestStep(b.tiers) - smallestStep(a.tiers));
  const choice = {
    rule: RULE,
    passed: eligible.length > 0,
    middle: { layers: MIDDLE, describe: 'convs 6–12 of 17, the central seven (five on either side)' },
    screeningSet: { name: screenSet.name, files: screenSet.files, sigma: SIGMA, noiseSeed: 0, noisyPsnr: noisy },
    screened: { tier0: tier0Rows().length, fullTiers: fullRows().length },
    // Below the noisy input on the screening set; of those, checked for every tier and strictly ordered.
    belowNoisy: tier0Rows().filter((r) => r.tier0BelowNoisy).length,
    eligible: eligible.length,
    winner: { estimator: winner.estimator, decoys: winner.decoys, layers: winner.layers, split: splits[0]?.split ?? 'equal' },
    winnerScreening: { tier0: winner.tiers[0], tiers: splits[0]?.tiers ?? null, weightFraction: winner.weightFraction },
    command: 'NNLOCK_THREADS=1 node --import tsx experiments/protect/dncnn-heldout.ts --stage screen|estimators|tiers|pick',
    date: new Date().toISOString(),
  };
  await writeFileAtomic(join(RESULTS, 'dncnn-heldout.json'), `${JSON.stringify(choice, null, 1)}\n`);
  log(`${eligible.length} eligible; winner ${show(winner)}, split ${choice.winner.split}`);
} else throw new Error(`unknown stage ${stage}`);
setting.model.dispose();

// The table of every configuration screened so far, and the winner's Set12 row once measured.
const choice = readChoice();
const cell = (r: Row) =>
  `| ${r.estimator} | ${r.decoys} | ${short(r.layers)} | ${r.split} | ${r.noisyPsnr.toFixed(2)} | ${r.tiers.map((v) => v.toFixed(2)).join(' / ')} | ${r.tier0BelowNoisy ? 'yes' : 'no'} | ${r.strictlyOrdered === undefined ? '—' : r.strictlyOrdered ? 'yes' : 'no'} | ${r.masterBitExact === undefined ? '—' : r.masterBitExact ? 'yes' : 'no'} | ${(100 * r.weightFraction).toFixed(3)} |`;
const head = ['| estimator | decoys | layers | split | noisy dB | tiers 0..5 (dB) | tier 0 < noisy | ordered | master exact | % of all weights |', '|---|---|---|---|---|---|---|---|---|---|'];
const md = [
  "# DnCNN-S-25, the paper's setting chosen on held-out images",
  '',
  `${100 * RATIO}% of the kernels of three middle conv layers, ${TIERS} tiers, σ = ${SIGMA}, seed-0 noise, experiment key 0. Produced by \`experiments/protect/dncnn-heldout.ts\` (stages screen, estimators, tiers, pick).`,
  `Middle layers: convs 6–12 of 17 (${short(MIDDLE)}), every triple of them. Screening set: ${screenSet.images.length} train400 images (${screenSet.files.join(', ')}), none used by the 64- and 128-patch estimators or the calibration; Set12 is never screened on.`,
  `Rule, fixed before screening: ${RULE}.`,
  '',
  `## Tier 0 on the screening set (${tier0Rows().length} configurations, best first)`,
  '',
  ...head,
  ...best(tier0Rows()).map(cell),
  '',
  `## Every tier on the screening set (${fullRows().length} runs)`,
  '',
  ...head,
  ...fullRows().map(cell),
  '',
];
if (choice) {
  md.push(
    '## The choice',
    '',
    `${choice.passed ? `${choice.belowNoisy} of ${choice.screened.tier0} configurations put tier 0 below the noisy input on the screening set; the ${choice.screened.fullTiers / SPLITS.length} best were checked for every tier, and ${choice.eligible} of them are strictly ordered under some split.` : '**No configuration passes on the screening set**: the lowest tier 0 is shown.'} Winner: ${choice.winner.estimator}, ${choice.winner.decoys} decoys, layers ${short(choice.winner.layers)}, split ${choice.winner.split}.`,
  );
  const set12 = setting.rows().filter((r) => r.set === undefined && r.tiers.length > 1 && sameConfig(r, choice.winner) && r.split === choice.winner.split);
  if (set12.length) md.push('', `Measured once on all ${set12[0].images} Set12 images (experiments/protect/exp-dncnn-paper.ts):`, '', ...head, ...set12.map(cell));
  const keys = setting.rows().filter((r) => r.set === undefined && r.tiers.length === 1 && r.images === 12 && sameConfig(r, choice.winner));
  if (keys.length)
    md.push(
      '',
      'Afterwards, tier 0 on Set12 with the decoys of other experiment keys (--stage keys; not used for any choice):',
      '',
      ...keys.map((r) => `- key ${r.key}: ${r.tiers[0].toFixed(2)} dB (noisy ${r.noisyPsnr.toFixed(2)})`),
    );
  md.push('');
}
md.push('Estimators:', ...Object.entries(ESTIMATORS).map(([k, e]) => `- ${k}: ${e.describe}`), '');
await writeFileAtomic(join(RESULTS, 'dncnn-heldout.md'), md.join('\n'));
