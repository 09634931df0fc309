// The fine-tuning attack harness (src/audit/harness.ts) on the shared ResNet-20 and CIFAR-10:
//
//   NNLOCK_THREADS=1 nohup node --import tsx experiments/protect/attack-harness.ts \
//     [--sizes 1000,500,5000] [--protection default] [--quick] > attack.log 2>&1 &
//
// The attacker holds the published tier-0 file of a protection (--protection: 'default' = what
// `nnlock protect lock` does with its defaults, L1 importance at ratio 0.08; 'default-position' =
// the same with 0.1's per-position decoys), the first N images of data_batch_1.bin (random crop +
// flip, batch 125) and a budget of 160 SGD steps (momentum 0.9, weight decay 5e-4, cosine):
// fine-tuning at lr 0.01, from scratch at lr 0.1 (exp4's choices). Detect-and-replace flags the
// decoy count of each layer with the decoy classifier and resets them to the layer's mean kernel.
// Accuracy on the first 2,000 test images. No public ResNet-20 trained on other data is among the
// fixtures, so the only baseline is from scratch. Each finished run is stored in
// experiments/results/protect/attack-runs.json (committed); checkpoints per epoch under
// experiments/out/protect/attack/, so a restart resumes.
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { type DecoyMode, type SelectionMode, computeImportance, convLayers, protectModel, unlockModel } from '../../src/protect/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import { bytesToFloat64 } from '../../src/protect/layers.ts';
import { type AttackRun, type AttackStart, type ResetTo, type PublishedLayer, attackHarness, flagSuspects, startTag } from '../../src/audit/index.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { subset } from '../../src/data/dataset.ts';
import { JsonCache, RESNET20, bitIdentical, RESNET20_NORM, ROOT, cifarTrain1, correctOn, experimentKey, log, range, readWeights, requireData, testLoader } from './common.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string' },
    protection: { type: 'string' },
    starts: { type: 'string' },
    'ft-lr': { type: 'string' },
    reset: { type: 'string' },
    tier: { type: 'string' },
    quick: { type: 'boolean' },
  },
});
const quick = args.quick ?? false;
const sizes = (args.sizes ?? (quick ? '200' : '1000,500,5000')).split(',').map(Number);
const protection = args.protection ?? 'default';
// --tier m: the attacker holds tier m's key (unlocks it with that token) instead of only the file.
const tier = Number(args.tier ?? 0);
const tierTag = tier ? `-tier${tier}` : '';
const EARLY = ['conv1', ...[0, 1, 2].flatMap((b) => [`layer1.${b}.conv1`, `layer1.${b}.conv2`])];
// The front of the network: conv1, stage 1 and stage 2 (23.9% of all weights); stage 3 stays clear.
const FRONT = [...EARLY, ...[0, 1, 2].flatMap((b) => [`layer2.${b}.conv1`, `layer2.${b}.conv2`])];
const DEEP = [0, 1, 2].flatMap((b) => [`layer3.${b}.conv1`, `layer3.${b}.conv2`]);
/** Candidate protections; ratio 0.999 protects every kernel of the layers named (dense). */
interface Protection {
  strategy: 'l1';
  /** With mode 'dense-front', 1 (every kernel of the layers the mode picks). */
  ratio: number;
  decoys: DecoyMode;
  layers?: string[];
  selection?: SelectionMode;
  /** The library's mode (src/protect/selection.ts ProtectMode), which picks the layers itself. */
  mode?: 'dense-front';
  frontShare?: number;
}
const PROTECTIONS: Record<string, Protection> = {
  default: { strategy: 'l1', ratio: 0.08, decoys: 'context' },
  'default-position': { strategy: 'l1', ratio: 0.08, decoys: 'position' },
  'default-balanced': { strategy: 'l1', ratio: 0.08, decoys: 'context', selection: 'balanced' },
  'ratio-0.3': { strategy: 'l1', ratio: 0.3, decoys: 'context' },
  'ratio-0.5': { strategy: 'l1', ratio: 0.5, decoys: 'context' },
  'dense-early': { strategy: 'l1', ratio: 0.999, decoys: 'context', layers: EARLY },
  'dense-deep': { strategy: 'l1', ratio: 0.999, decoys: 'context', layers: DEEP },
  'dense-all': { strategy: 'l1', ratio: 0.999, decoys: 'context' },
  // `protect lock --mode dense-front`: every kernel of conv1, layer1 and layer2 (FRONT).
  'dense-front': { strategy: 'l1', ratio: 1, decoys: 'context', mode: 'dense-front' },
  'dense-front-0.15': { strategy: 'l1', ratio: 1, decoys: 'context', mode: 'dense-front', frontShare: 0.15 },
  'dense-stage2': { strategy: 'l1', ratio: 1, decoys: 'context', layers: FRONT.filter((l) => l.startsWith('layer2.')) },
};
const prot = PROTECTIONS[protection];
if (!prot) throw new Error(`--protection: one of ${Object.keys(PROTECTIONS).join(', ')}`);
const STEPS = quick ? 4 : 160;
const TEST_IMAGES = quick ? 200 : 2000;
const results = quick ? join(ROOT, 'experiments', 'out', 'protect', 'quick') : join(ROOT, 'experiments', 'results', 'protect');
const checkpoints = join(ROOT, 'experiments', 'out', 'protect', quick ? 'quick-attack' : 'attack', protection);
mkdirSync(results, { recursive: true });
mkdirSync(checkpoints, { recursive: true });
requireData();

const file = await readWeights(RESNET20);
const importance = (await computeImportance(prot.strategy, file, undefined, { seed: 0 })).scores;
// Three tiers (the decoys do not depend on the tier count: the same published weights as with one).
const what = prot.mode ? { mode: prot.mode, frontShare: prot.frontShare } : { ratio: prot.ratio, layers: prot.layers };
const p = await protectModel(file, { importance, ...what, selection: prot.selection, tiers: 3, architecture: 'resnet20', decoys: prot.decoys, ...experimentKey(0, 3) });
// The share of all the model's weights (every tensor, BN statistics included) that holds decoys.
const allWeights = [...file.tensors.values()].reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
// At tier m, the kernels the attacker's key does not restore.
const weightFraction = p.layers.reduce((n, l) => n + (l.selected - l.perTier[tier]) * 9, 0) / allWeights;
if (protection === 'dense-front' && p.layers.map((l) => l.name.replace(/\.weight$/, '')).join() !== FRONT.join()) throw new Error('dense-front is no longer FRONT');
log(`${protection}: ${p.layers.map((l) => l.name.replace(/\.weight$/, '')).join(', ')}`);
log(`${protection}: ${p.layers.reduce((n, l) => n + l.selected, 0)} kernels protected, ${(100 * weightFraction).toFixed(2)}% of all ${allWeights} weights`);
const layers: PublishedLayer[] = convLayers(p.file.tensors).map((l) => ({ name: l.name, shape: l.shape, values: bytesToFloat64(p.file.tensors.get(l.name)!.data, l.dtype) }));
// Decoys per conv layer of the file (0 where a layer is not protected).
const counts = layers.map((l) => p.layers.find((x) => x.name === l.name)?.selected ?? 0);
const flagged = flagSuspects(layers, 'classifier', { mode: prot.decoys, counts, seed: 0 });
let hits = 0;
let total = 0;
for (const [name, idx] of flagged) {
  const orig = bytesToFloat64(file.tensors.get(name)!.data, 'F32');
  const pub = layers.find((l) => l.name === name)!.values;
  const ks = 9; // every conv of ResNet-20 is 3×3
  for (const k of idx) {
    total++;
    for (let q = 0; q < ks; q++) {
      if (orig[k * ks + q] !== pub[k * ks + q]) {
        hits++;
        break;
      }
    }
  }
}
const attacked = tier ? (await unlockModel(p.file, p.tokens[tier - 1])).file : p.file;
log(`${protection}: detect-and-replace flags ${total} kernels, ${hits} of them decoys (precision ${(hits / total).toFixed(3)})`);

const test = await testLoader(0, TEST_IMAGES);
const store = new JsonCache<AttackRun>(join(results, `attack-runs${quick ? '-quick' : ''}.json`));
const prefix = `${protection}${tier ? `|tier${tier}` : ''}|`;
// Training from scratch does not depend on the protection: one baseline serves them all.
const keyOf = (k: string) => (k.startsWith('scratch|') ? `baseline|${k}` : prefix + k);
const fromStore = (k: string) => store.get(keyOf(k)) ?? (k.startsWith('scratch|') ? findScratch(k) : undefined);
function findScratch(k: string): AttackRun | undefined {
  for (const p of Object.keys(PROTECTIONS)) {
    const r = store.get(`${p}|${k}`);
    if (r) return r;
  }
  return undefined;
}
// The tiers: accuracy at each tier (strictly ordered?) and the master key's restore bit-exact?
const tierCache = new JsonCache<number[] | boolean>(join(results, `attack-tiers${quick ? '-quick' : ''}.json`));
// Keyed by the published weights too: a change of the decoys is a new file.
const publishedTag = startTag(p.file);
const tierAccuracy = (await tierCache.getOr(`${protection}|${TEST_IMAGES}|${publishedTag}`, async () => {
  const model = modelSpec('resnet20').create();
  try {
    const out: number[] = [];
    for (let m = 0; m <= 3; m++) {
      await unlockModel(p.file, p.tokens[2], { tier: m, into: model });
      out.push((await correctOn(model, test)) / TEST_IMAGES);
    }
    return out;
  } finally {
    model.dispose();
  }
})) as number[];
const masterBitExact = (await tierCache.getOr(`${protection}|bit-exact|${publishedTag}`, async () => bitIdentical((await unlockModel(p.file, p.tokens[2])).file, file).identical)) as boolean;
const strictlyOrdered = tierAccuracy.every((a, i) => i === 0 || a > tierAccuracy[i - 1]);
log(
  `${protection}: accuracy per tier ${tierAccuracy.map((a) => a.toFixed(3)).join(' / ')} (${strictlyOrdered ? 'strictly ordered' : 'NOT strictly ordered'}); master key ${masterBitExact ? 'bit-exact' : 'NOT bit-exact'}`,
);

const result = await attackHarness({
  architecture: 'resnet20',
  task: 'classification',
  published: attacked,
  flagged: tier ? undefined : flagged,
  // --reset init: for a dense mode, whose protected layers the header names (every kernel in them
  // is a decoy), the attacker re-initialises them and keeps only the clear layers.
  resetTo: (args.reset ?? 'mean') as ResetTo,
  sizes,
  steps: STEPS,
  lr: { fineTune: (args['ft-lr'] ?? '0.01').split(',').map(Number), scratch: 0.1 },
  seed: 1,
  checkpoints,
  data: async (n) => {
    const loader = new DataLoader(subset(await cifarTrain1(), range(0, n)), { batchSize: 125, seed: 1, workers: 0, ...RESNET20_NORM, augment: { crop: { padding: 4 }, hflip: true } });
    return { batchCount: loader.batchCount, epoch: (e: number) => loader.epoch(e) };
  },
  metric: async (m) => (await correctOn(m, test)) / TEST_IMAGES,
  store: { get: fromStore, set: (k, r) => store.set(keyOf(k), r) },
  starts: args.starts ? (args.starts.split(',') as AttackStart[]) : undefined,
  onRun: (r, cached) =>
    log(
      `${protection} N=${r.images} ${r.start}: ${r.before === null ? 'scratch' : r.before.toFixed(3)} → ${r.after.toFixed(3)} after ${r.steps} steps${cached ? ' (stored)' : ` in ${Math.round(r.seconds)} s`}`,
    ),
  onEpoch: (s, n, e, es) => log(`  ${s} N=${n}: epoch ${e + 1}/${es}`),
});
const summaryPath = join(results, `attack-${protection}${tierTag}${quick ? '-quick' : ''}.json`);
// The file keeps the runs of earlier invocations (other N, other starts): this one's replace theirs.
type Stored = AttackRun & { resetTo?: string };
const previous = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as { runs: Stored[]; commands?: string[]; command?: string }) : undefined;
const same = (a: Stored, b: Stored) => a.start === b.start && a.images === b.images && a.lr === b.lr && a.steps === b.steps && (a.resetTo ?? 'mean') === (b.resetTo ?? 'mean');
const fresh: Stored[] = result.runs.map((r) => (r.start === 'replaced' ? { ...r, resetTo: args.reset ?? 'mean' } : r));
const runs = [...(previous?.runs ?? []).filter((r) => !fresh.some((x) => same(x, r))), ...fresh];
const headStart: Record<string, number> = {};
for (const n of new Set(runs.map((r) => r.images))) {
  const at = runs.filter((r) => r.images === n);
  const best = (starts: string[]) => Math.max(...at.filter((r) => starts.includes(r.start)).map((r) => r.after));
  const h = best(['published', 'replaced']) - best(['scratch', 'public']);
  if (Number.isFinite(h)) headStart[String(n)] = h;
}
const command = `NNLOCK_THREADS=1 node --import tsx experiments/protect/attack-harness.ts --protection ${protection} --sizes ${sizes.join(',')}${tier ? ` --tier ${tier}` : ''}${args.starts ? ` --starts ${args.starts}` : ''}${args['ft-lr'] ? ` --ft-lr ${args['ft-lr']}` : ''}${args.reset ? ` --reset ${args.reset}` : ''}`;
const commands = [...new Set([...(previous?.commands ?? (previous?.command ? [previous.command] : [])), command])];
await writeFileAtomic(
  summaryPath,
  `${JSON.stringify({ tier, command: commands.join(' && '), commands, protection: prot, weightFraction, tierAccuracy, strictlyOrdered, masterBitExact, steps: STEPS, testImages: TEST_IMAGES, detectPrecision: hits / total, headStart, runs }, null, 1)}\n`,
);
log(
  `head start (accuracy points ×100): ${Object.entries(headStart)
    .map(([n, h]) => `N=${n}: ${(100 * h).toFixed(1)}`)
    .join(', ')}`,
);
