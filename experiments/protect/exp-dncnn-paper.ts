// DnCNN-S-25 in the paper's DnCNN setting (Tian et al.: 2% of the kernels of three middle layers,
// five tiers), and the fine-tuning attack on it:
//
//   NNLOCK_THREADS=1 nohup nice -n 10 node --import tsx experiments/protect/exp-dncnn-paper.ts \
//     [--estimator E] [--decoys D] [--layers 8,11,26] [--split S] [--attack] [--sizes 1000] \
//     > dncnn-paper.log 2>&1 &
//
// (a) PSNR per tier on Set12 at σ = 25 (tier 0 against the noisy input, tiers strictly ordered, the
//     master key's restore bit-exact), each tier unlocked with its own token, for one configuration
//     of the setting's levers. Without flags: the one chosen on held-out train400 images by
//     experiments/protect/dncnn-heldout.ts (dncnn-heldout.json; its table dncnn-heldout.md lists
//     every configuration screened), measured here once and cached with the screening rows
//     (dncnn-heldout-runs.json). With flags: any configuration, cached with last session's sweep
//     (dncnn-sweep.json, screened on Set12), so a configuration is never evaluated twice.
//     The paper's σ = 50 needs a DnCNN trained for σ = 50, which the fixtures do not have.
// (b) --attack: the attacker holds the tier-0 file and N clean train400 patches (40×40, evenly
//     spread over the 6,400 patches of stride 40; σ = 25 noise drawn per batch) and fine-tunes it
//     with Adam at 1e-3 (what DnCNN trains with), against the same architecture trained from
//     scratch with the same patches and steps (100 of batch 16). Metric: mean PSNR on the seven
//     256×256 Set12 images. Runs are stored in
//     experiments/results/protect/dncnn-attack-runs.json; results in dncnn-paper.json.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import type { DecoyMode } from '../../src/protect/index.ts';
import { assertDecoyMode } from '../../src/protect/decoys.ts';
import { DNCNN, ROOT, SET12, TRAIN400, grayImages, log, readWeights, requireData } from './common.ts';
import { type Config, DncnnSetting, ESTIMATORS, RATIO, SIGMA, TIERS } from './dncnn-setting.ts';
import { dncnnThief } from './dncnn-thief.ts';

/** The configuration chosen on held-out images (dncnn-heldout.ts), if it has run. */
const HELDOUT = join(ROOT, 'experiments', 'results', 'protect', 'dncnn-heldout.json');
const heldout = existsSync(HELDOUT) ? JSON.parse(readFileSync(HELDOUT, 'utf8')) : undefined;
/** Last session's choice, screened on Set12 itself (dncnn-sweep.md). */
const SWEEP_CHOICE = { estimator: 'pss-paper', decoys: 'joint' as DecoyMode, layers: '8,11,26', split: 'equal' };
const layerFlag = (layers: readonly string[]) => layers.map((l) => l.replace(/^dncnn\.|\.weight$/g, '')).join(',');
export const RECOMMENDED: { estimator: string; decoys: DecoyMode; layers: string; split: string } = heldout ? { ...heldout.winner, layers: layerFlag(heldout.winner.layers) } : SWEEP_CHOICE;

const { values: args } = parseArgs({
  options: {
    estimator: { type: 'string' },
    decoys: { type: 'string' },
    layers: { type: 'string' },
    split: { type: 'string' },
    attack: { type: 'boolean' },
    sizes: { type: 'string' },
  },
});
const results = join(ROOT, 'experiments', 'results', 'protect');
const out = join(ROOT, 'experiments', 'out', 'protect', 'dncnn-paper');
mkdirSync(out, { recursive: true });
requireData();

const fromHeldout = heldout !== undefined && !args.estimator && !args.decoys && !args.layers && !args.split;
const config: Config = {
  estimator: args.estimator ?? RECOMMENDED.estimator,
  decoys: assertDecoyMode(args.decoys ?? RECOMMENDED.decoys),
  layers: (args.layers ?? RECOMMENDED.layers).split(',').map((l) => `dncnn.${l}.weight`),
  split: args.split ?? RECOMMENDED.split,
};
if (!ESTIMATORS[config.estimator]) throw new Error(`unknown estimator ${config.estimator}: ${Object.keys(ESTIMATORS).join(', ')}`);
const file = await readWeights(DNCNN);
const set12 = await grayImages(SET12);
const small = set12.filter((i) => i.height === 256 && i.width === 256);
const setting = new DncnnSetting(file, set12, small, await grayImages(TRAIN400, 6), fromHeldout ? 'dncnn-heldout-runs.json' : 'dncnn-sweep.json');
const row = await setting.full(config);
log(setting.show(row));
// Tier 0 with L1 instead (the weights-only baseline), same layers and decoys.
const l1 = await setting.screen({ ...config, estimator: 'l1' });
const p = await setting.protectWith(config);
const kernelsInLayers = p.layers.reduce((n, l) => n + l.kernels, 0);

const previous = existsSync(join(results, 'dncnn-paper.json')) ? JSON.parse(readFileSync(join(results, 'dncnn-paper.json'), 'utf8')) : undefined;
const samePrevious =
  previous?.setting !== undefined &&
  previous.setting.estimator === config.estimator &&
  previous.setting.decoys === config.decoys &&
  previous.setting.layers.join() === config.layers.join() &&
  (previous.setting.split ?? 'default') === config.split;
const flags = fromHeldout ? '' : ` --estimator ${config.estimator} --decoys ${config.decoys} --layers ${layerFlag(config.layers)} --split ${config.split}`;
const paper = {
  command: `NNLOCK_THREADS=1 node --import tsx experiments/protect/exp-dncnn-paper.ts${flags}${args.attack ? ` --attack --sizes ${args.sizes ?? '1000'}` : ''}`,
  setting: {
    layers: config.layers,
    ratio: RATIO,
    tiers: TIERS,
    sigma: SIGMA,
    estimator: config.estimator,
    estimatorDescribe: ESTIMATORS[config.estimator].describe,
    importanceSeconds: row.importanceSeconds,
    decoys: config.decoys,
    split: config.split,
  },
  selectedKernels: row.selectedKernels,
  kernelsInLayers,
  weightFraction: row.weightFraction,
  fractions: row.fractions,
  images: row.images,
  noisyPsnr: row.noisyPsnr,
  tiers: row.tiers.map((psnr, tier) => ({ tier, psnr })),
  tier0BelowNoisy: row.tier0BelowNoisy,
  strictlyOrdered: row.strictlyOrdered,
  masterBitExact: row.masterBitExact,
  l1Tier0Psnr: l1.tiers[0],
  l1Tier0Images: l1.images,
  sweep: fromHeldout ? 'dncnn-heldout.md (every configuration screened)' : 'dncnn-sweep.md (every configuration measured)',
  // How the configuration was chosen: on held-out train400 images (never Set12), or by flags.
  screening: fromHeldout
    ? {
        set: heldout.screeningSet,
        middle: heldout.middle,
        rule: heldout.rule,
        passed: heldout.passed,
        configurations: heldout.screened,
        belowNoisy: heldout.belowNoisy,
        eligible: heldout.eligible,
        winnerScreening: heldout.winnerScreening,
        command: heldout.command,
      }
    : null,
  attack: (samePrevious ? previous.attack : undefined) as unknown,
  // An attack measured on another configuration (the file's previous one): kept, labelled, until
  // it is rerun on this one.
  previousAttack: previous?.attack && !samePrevious ? { setting: previous.setting, tier0Psnr: previous.tiers?.[0]?.psnr, attack: previous.attack } : previous?.previousAttack,
};

// (b) the attack on the tier-0 file.
if (args.attack) {
  const sizes = (args.sizes ?? '1000').split(',').map(Number);
  const configTag = setting.keyOf(config, true);
  // The harness keys runs by their settings only: a fine-tuning run is also keyed by this
  // configuration (the tier-0 file it starts from); training from scratch is the same for all.
  const storeKey = (k: string) => (k.startsWith('scratch|') ? `paper|${k}` : `paper|${configTag}|${k}`);
  const r = await dncnnThief({ published: p.file, sizes, lr: [1e-3], images: small, checkpoints: join(out, 'checkpoints'), storeKey });
  paper.attack = { ...r.recipe, headStartDb: r.headStart, runs: r.runs };
}
setting.model.dispose();
await writeFileAtomic(join(results, 'dncnn-paper.json'), `${JSON.stringify(paper, null, 1)}\n`);
log(`wrote ${join(results, 'dncnn-paper.json')}`);
