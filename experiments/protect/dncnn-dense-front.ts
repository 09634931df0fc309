// The dense-front mode (every kernel of the first conv layers sealed: on ResNet-20 the mode with no
// head start, attack-harness.ts --protection dense-front) on DnCNN-S-25, against the same thief as
// the paper's DnCNN setting in exp-dncnn-paper.ts --attack:
//
//   NNLOCK_THREADS=1 nohup nice -n 10 node --import tsx experiments/protect/dncnn-dense-front.ts \
//     [--front-share 0.25] [--sizes 1000] [--lr 0.001,0.003,0.01] > dncnn-dense-front.log 2>&1 &
//
// (a) PSNR per tier on all of Set12 at σ = 25 (tier 0 against the noisy input, tiers strictly
//     ordered, the master key's restore bit-exact), each tier unlocked with its own token.
// (b) The attacker holds the tier-0 file and N clean train400 patches and fine-tunes it with Adam
//     at each of --lr (a budget of 100 steps of batch 16, which the harness rounds up to whole
//     epochs: 126; σ = 25 noise per batch), against the same architecture trained from scratch
//     with the same patches, steps and learning rates; each side keeps its best (the paper attack
//     of exp-dncnn-paper.ts tried 1e-3 only; its run from scratch at 1e-3 is the same run and is
//     reused). Head start in dB on the seven 256×256 Set12 images. Runs in
//     experiments/results/protect/dncnn-attack-runs.json; results in dncnn-dense-front.json, one
//     entry per --front-share (byShare).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { protectModel } from '../../src/protect/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import { startTag } from '../../src/audit/index.ts';
import { DNCNN, ROOT, SET12, experimentKey, grayImages, log, readWeights, requireData } from './common.ts';
import { SIGMA, tierPsnrs } from './dncnn-setting.ts';
import { dncnnThief } from './dncnn-thief.ts';

const { values: args } = parseArgs({ options: { 'front-share': { type: 'string' }, sizes: { type: 'string' }, lr: { type: 'string' } } });
const FRONT_SHARE = Number(args['front-share'] ?? '0.25');
const SIZES = (args.sizes ?? '1000').split(',').map(Number);
/** Adam learning rates tried, for fine-tuning and from scratch alike: each side keeps its best (the paper attack tried 1e-3 only). */
const LRS = (args.lr ?? '0.001,0.003,0.01').split(',').map(Number);
const TIERS = 3;
const results = join(ROOT, 'experiments', 'results', 'protect');
const out = join(ROOT, 'experiments', 'out', 'protect', 'dncnn-dense-front');
mkdirSync(out, { recursive: true });
requireData();

const file = await readWeights(DNCNN);
const set12 = await grayImages(SET12);
const small = set12.filter((i) => i.height === 256 && i.width === 256);
const p = await protectModel(file, { mode: 'dense-front', frontShare: FRONT_SHARE, tiers: TIERS, architecture: 'dncnn-17', ...experimentKey(0, TIERS) });
const allWeights = [...file.tensors.values()].reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
const kernelArea = (name: string) => {
  const shape = file.tensors.get(name)!.shape;
  return shape[2] * shape[3];
};
const sealed = p.layers.reduce((n, l) => n + l.selected * kernelArea(l.name), 0);
log(`dense-front ${FRONT_SHARE}: ${p.layers.map((l) => l.name).join(', ')}; ${(100 * sealed) / allWeights}% of all ${allWeights} weights`);

// (a) the tiers.
const model = modelSpec('dncnn-17').create();
const measured = await tierPsnrs(model, file, p, set12, (m, psnr, noisy) => log(`tier ${m}: ${psnr.toFixed(2)} dB on Set12 (noisy ${noisy.toFixed(2)} dB)`));
model.dispose();
const { noisy: noisyPsnr, masterBitExact, strictlyOrdered } = measured;
const tiers = measured.psnr.map((psnr, tier) => ({ tier, psnr }));

// (b) the thief.
// Fine-tuning runs are keyed by the published file they start from; training from scratch is
// exp-dncnn-paper.ts's run (same key), shared by every protection.
const publishedTag = startTag(p.file);
const r = await dncnnThief({
  published: p.file,
  sizes: SIZES,
  lr: LRS,
  images: small,
  checkpoints: join(out, 'checkpoints'),
  storeKey: (k) => (k.startsWith('scratch|') ? `paper|${k}` : `dense-front-${FRONT_SHARE}|${publishedTag}|${k}`),
});

// One entry per front share, kept across runs (a run replaces its own share's entry).
const summaryPath = join(results, 'dncnn-dense-front.json');
const byShare: Record<string, unknown> = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')).byShare ?? {}) : {};
byShare[String(FRONT_SHARE)] = {
  command: `NNLOCK_THREADS=1 node --import tsx experiments/protect/dncnn-dense-front.ts --front-share ${FRONT_SHARE} --sizes ${SIZES.join(',')} --lr ${LRS.join(',')}`,
  mode: 'dense-front',
  frontShare: FRONT_SHARE,
  layers: p.layers.map((l) => l.name),
  weightFraction: sealed / allWeights,
  sigma: SIGMA,
  noisyPsnr,
  tiers,
  tier0BelowNoisy: tiers[0].psnr < noisyPsnr,
  strictlyOrdered,
  masterBitExact,
  attack: { ...r.recipe, headStartDb: r.headStart, runs: r.runs },
};
await writeFileAtomic(summaryPath, `${JSON.stringify({ byShare }, null, 1)}\n`);
log('wrote experiments/results/protect/dncnn-dense-front.json');
