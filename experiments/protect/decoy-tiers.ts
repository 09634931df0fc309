// What the default decoys do to the model they protect, on the shared ResNet-20 at the default
// selection (L1, the top 8% of each conv layer's kernels, 3 tiers): tier-0 accuracy (the first
// 2,000 CIFAR-10 test images) over a few keys, which must stay at or near chance (≤ 0.12); for key
// 0 also every tier (strictly ordered) and the master key's restore (bit-exact).
//
//   NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-tiers.ts [--keys 4]
import { parseArgs } from 'node:util';
import { computeImportance, protectModel, unlockModel } from '../../src/protect/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { mean } from '../../src/train/evaluate.ts';
import { RESNET20, bitIdentical, correctOn, experimentKey, loadIntoModel, log, readWeights, requireData, testLoader } from './common.ts';

const { values: args } = parseArgs({ options: { keys: { type: 'string' } } });
const KEYS = Number(args.keys ?? 4);
const IMAGES = 2000;
const TIERS = 3;
requireData();

async function accuracy(file: SafetensorsFile): Promise<number> {
  const model = modelSpec('resnet20').create();
  try {
    loadIntoModel(model, file);
    return (await correctOn(model, await testLoader(0, IMAGES))) / IMAGES;
  } finally {
    model.dispose();
  }
}

const file = await readWeights(RESNET20);
const { scores } = await computeImportance('l1', file, undefined, { seed: 0 });
log(`unprotected ${(await accuracy(file)).toFixed(4)}`);
const tier0: number[] = [];
for (let k = 0; k < KEYS; k++) {
  const t = performance.now();
  const key = experimentKey(k, TIERS);
  const p = await protectModel(file, { importance: scores, ratio: 0.08, tiers: TIERS, architecture: 'resnet20', ...key });
  const seconds = ((performance.now() - t) / 1000).toFixed(1);
  tier0.push(await accuracy(p.file));
  log(`key ${k}: tier 0 ${tier0[k].toFixed(4)} (protected in ${seconds} s)`);
  if (k > 0) continue;
  const tiers = [tier0[0]];
  for (let m = 1; m <= TIERS; m++) tiers.push(await accuracy((await unlockModel(p.file, p.tokens[m - 1])).file));
  const restored = (await unlockModel(p.file, key.masterToken)).file;
  const exact = bitIdentical(restored, file).identical;
  const ordered = tiers.every((v, m) => m === 0 || v > tiers[m - 1]);
  log(`key 0 tiers 0..${TIERS}: ${tiers.map((v) => v.toFixed(4)).join(' / ')}; strictly ordered ${ordered}; master bit-exact ${exact}`);
}
log(`tier 0 over ${KEYS} keys: mean ${mean(tier0).toFixed(4)}, min ${Math.min(...tier0).toFixed(4)}, max ${Math.max(...tier0).toFixed(4)}`);
