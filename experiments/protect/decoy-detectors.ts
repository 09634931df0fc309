// The decoy detector suite (src/audit) against 0.1's decoys ('position'), 0.2's ('context'), 0.3's
// ('resample') and the importance-resampled ones ('matched', the default), on the shared ResNet-20
// and DnCNN-S-25:
//
//   NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-detectors.ts [--selection balanced] [--quick] [--keys 2]
//
// Per model, mode, key and selection strategy: protect (1 tier: decoys do not depend on the
// tiers), measure tier 0 (accuracy on the first 2,000 CIFAR-10 test images, or PSNR on Set12 at
// σ = 25: decoys must still break the model), run every detector on the published file alone (the
// gradient detector also on --fisher-images labelled inputs: CIFAR-10 training images, or σ = 25
// train400 patches for DnCNN), and score each against the true decoy positions, per layer with
// the AUC's confidence interval and what chance reaches at that layer's size. With random
// positions also the null run 'none': the same detectors on the unprotected file against the same
// random positions, where every detector is at chance by construction, so its figures are what
// chance looks like at these sizes (the max over 27 detectors and 19 layers is far above 0.5). Writes experiments/results/protect/decoy-detectors[-balanced].{json,svg,md}
// and decoy-detectors[-balanced]-layers.svg (--quick: experiments/out/, not results; --out DIR: DIR). The JSON's
// top-level `decoyAucMax` is the issue's figure: the highest separability of any detector on the
// default decoys, pooled and per layer.
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { DEFAULT_DECOY_MODE, type DecoyMode, type SelectionMode, type Strategy, computeImportance, convLayers, protectModel, unlockModel } from '../../src/protect/index.ts';
import { bytesToFloat64 } from '../../src/protect/layers.ts';
import { type DetectorReport, type PublishedLayer, fisherScores, runDetectors, scoreDetectors, separability } from '../../src/audit/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { barChartSvg } from '../lib/svg.ts';
import { evaluateDenoiser, mean } from '../../src/train/evaluate.ts';
import { DNCNN, RESNET20, ROOT, SET12, cifarTaskData, correctOn, denoiseTaskData, experimentKey, grayImages, loadIntoModel, log, readWeights, requireData, table, testLoader } from './common.ts';

const { values: args } = parseArgs({
  options: {
    selection: { type: 'string' },
    strategies: { type: 'string' },
    quick: { type: 'boolean' },
    keys: { type: 'string' },
    'dncnn-keys': { type: 'string' },
    'other-keys': { type: 'string' },
    tag: { type: 'string' },
    'fisher-images': { type: 'string' },
    ratio: { type: 'string' },
    modes: { type: 'string' },
    models: { type: 'string' },
    'denoise-images': { type: 'string' },
    out: { type: 'string' },
    'null-from': { type: 'string' },
  },
});
const quick = args.quick ?? false;
const KEYS = Number(args.keys ?? 1);
/** DnCNN's runs cost minutes each (Set12 denoising): fewer keys there (default: --keys). */
const DNCNN_KEYS = Number(args['dncnn-keys'] ?? KEYS);
const keysOf = (model: string) => (model === 'dncnn' ? DNCNN_KEYS : KEYS);
/** Keys for the modes other than the default (0.1's and 0.2's decoys are far above chance at one key already). */
const OTHER_KEYS = Number(args['other-keys'] ?? KEYS);
const keysText = `${KEYS} key(s)${DNCNN_KEYS !== KEYS ? ` (DnCNN: ${DNCNN_KEYS})` : ''}`;
const FISHER_IMAGES = Number(args['fisher-images'] ?? (quick ? 64 : 128));
const RATIO = Number(args.ratio ?? 0.08);
const SELECTION = (args.selection ?? 'top') as SelectionMode;
const MODES: DecoyMode[] = (args.modes ?? 'position,context,resample,matched').split(',') as DecoyMode[];
const STRATEGIES = (args.strategies ?? (quick ? 'l1' : 'l1,random')).split(',') as Strategy[];
const MODELS = [
  { name: 'resnet20', path: RESNET20, arch: 'resnet20', task: 'classification' as const },
  { name: 'dncnn', path: DNCNN, arch: 'dncnn-17', task: 'denoising' as const },
].filter((m) => !args.models || args.models.split(',').includes(m.name));
/** --out: another folder for a side run (e.g. more keys of one mode), so the page's own files stay as they are. */
const results = args.out ? join(ROOT, args.out) : quick ? join(ROOT, 'experiments', 'out', 'protect', 'quick') : join(ROOT, 'experiments', 'results', 'protect');
mkdirSync(results, { recursive: true });
requireData();

function publishedLayers(file: SafetensorsFile): PublishedLayer[] {
  return convLayers(file.tensors).map((l) => ({ name: l.name, shape: l.shape, values: bytesToFloat64(file.tensors.get(l.name)!.data, l.dtype) }));
}

const EVAL_IMAGES = quick ? 500 : 2000;
/** Set12 images DnCNN's tier 0 is measured on (all 12 by default; each costs minutes on the shared machine). */
const DENOISE_IMAGES = args['denoise-images'] ? Number(args['denoise-images']) : quick ? 2 : undefined;
/** Tier 0 as a user of the published file gets it: accuracy (ResNet-20) or PSNR on Set12 (DnCNN). */
async function tier0(arch: string, task: 'classification' | 'denoising', file: SafetensorsFile): Promise<number> {
  const model = modelSpec(arch).create();
  try {
    loadIntoModel(model, file);
    if (task === 'classification') return (await correctOn(model, await testLoader(0, EVAL_IMAGES))) / EVAL_IMAGES;
    return mean(evaluateDenoiser(model, await grayImages(SET12, DENOISE_IMAGES), 25, 0).map((r) => r.psnr));
  } finally {
    model.dispose();
  }
}

async function fisherOf(arch: string, task: 'classification' | 'denoising', file: SafetensorsFile): Promise<Map<string, Float64Array>> {
  const model = modelSpec(arch).create();
  try {
    loadIntoModel(model, file);
    const data = task === 'classification' ? await cifarTaskData(FISHER_IMAGES, 64, 1) : await denoiseTaskData(FISHER_IMAGES, 32, 1, 25);
    return await fisherScores(model, data, { task });
  } finally {
    model.dispose();
  }
}

/** A run's decoys: a decoy mode, or 'none' (the original kernels at random positions: the null). */
type RunMode = DecoyMode | 'none';

interface Run {
  model: string;
  mode: RunMode;
  strategy: Strategy;
  key: number;
  decoys: number;
  kernels: number;
  /** Tier-0 accuracy (ResNet-20) or PSNR in dB (DnCNN, Set12 at σ = 25). */
  tier0: number;
  reports: DetectorReport[];
}

const runs: Run[] = [];
// --null-from FILE: the null runs 'none' of an earlier run's JSON at the same keys, ratio and
// positions (random positions are drawn from seed k alone, so they are the same), instead of
// measuring them again. Its classifier simulated the decoys the default mode drew then.
const nullFrom = args['null-from']
  ? (() => {
      const earlier = JSON.parse(readFileSync(join(ROOT, args['null-from']), 'utf8')) as { date: string; command: string; ratio: number; runs: Run[] };
      if (earlier.ratio !== RATIO) throw new Error(`--null-from: ratio ${earlier.ratio}, not ${RATIO}`);
      return { file: args['null-from'], date: earlier.date, command: earlier.command, runs: earlier.runs.filter((r) => r.mode === 'none') };
    })()
  : undefined;
const cachedNull = (model: string, key: number) => nullFrom?.runs.find((r) => r.model === model && r.strategy === 'random' && r.key === key);
const masterBitExact: Record<string, boolean> = {};
const reference: Record<string, number> = {};
const t0 = performance.now();
const seconds = () => Math.round((performance.now() - t0) / 1000);
for (const m of MODELS) {
  const file = await readWeights(m.path);
  reference[m.name] = await tier0(m.arch, m.task, file);
  log(`${m.name}: unprotected ${m.task === 'classification' ? 'accuracy' : 'PSNR'} ${reference[m.name].toFixed(3)}`);
  for (const strategy of STRATEGIES) {
    const fixed = strategy === 'random' ? undefined : (await computeImportance(strategy, file, undefined, { seed: 0 })).scores;
    for (let k = 0; k < keysOf(m.name); k++) {
      // Random positions are drawn afresh for every key (seed k), so that averaging over keys
      // averages over positions too; key 0 keeps seed 0, the one-key run's positions.
      const importance = fixed ?? (await computeImportance(strategy, file, undefined, { seed: k })).scores;
      let truth: Uint8Array[] = [];
      const measure = async (mode: RunMode, published: SafetensorsFile, tier: number) => {
        const layers = publishedLayers(published);
        const counts = truth.map((t) => t.reduce((a, b) => a + b, 0));
        const fisher = await fisherOf(m.arch, m.task, published);
        // The attacker simulates the file's decoy mode; on the original file, the default one.
        const scores = runDetectors(layers, { mode: mode === 'none' ? DEFAULT_DECOY_MODE : mode, counts, fisher, seed: k });
        const reports = scoreDetectors(layers, scores, truth);
        runs.push({ model: m.name, mode, strategy, key: k, decoys: counts.reduce((a, b) => a + b, 0), kernels: truth.reduce((a, t) => a + t.length, 0), tier0: tier, reports });
        const worst = [...reports].sort((a, b) => b.pooledSeparability - a.pooledSeparability).slice(0, 4);
        log(
          `${m.name} ${strategy} ${mode} key ${k}: tier 0 ${tier.toFixed(3)}; worst pooled separability ${worst.map((r) => `${r.detector} ${r.pooledSeparability.toFixed(3)}`).join(', ')}  (${seconds()} s)`,
        );
      };
      for (const mode of MODES) {
        if (mode !== DEFAULT_DECOY_MODE && k >= OTHER_KEYS) continue;
        const key = experimentKey(k, 1);
        const p = await protectModel(file, { importance, ratio: RATIO, tiers: 1, architecture: m.arch, decoys: mode, selection: SELECTION, ...key });
        // The master key still restores every byte (decoys never matter to unlocking: checked once per model and mode).
        if (k === 0) {
          const restored = await unlockModel(p.file, key.masterToken);
          const exact = [...file.tensors].every(([name, e]) => Buffer.from(restored.file.tensors.get(name)!.data).equals(Buffer.from(e.data)));
          masterBitExact[`${m.name} ${strategy} ${mode}`] = exact;
          if (!exact) throw new Error(`${m.name} ${strategy} ${mode}: the master key did not restore the weights bit-exactly`);
        }
        const layers = publishedLayers(p.file);
        truth = layers.map((l) => {
          const t = new Uint8Array(l.shape[0] * l.shape[1]);
          const orig = bytesToFloat64(file.tensors.get(l.name)!.data, p.file.tensors.get(l.name)!.dtype);
          const ks = l.shape[2] * l.shape[3];
          for (let i = 0; i < t.length; i++) for (let q = 0; q < ks; q++) if (orig[i * ks + q] !== l.values[i * ks + q]) t[i] = 1;
          return t;
        });
        await measure(mode, p.file, await tier0(m.arch, m.task, p.file));
      }
      // The null: random positions with the original kernels in place (every detector at chance).
      if (strategy === 'random') {
        const cached = cachedNull(m.name, k);
        if (cached) {
          const decoys = truth.map((t) => t.reduce((a, b) => a + b, 0));
          const same = cached.reports[0].layers.every((l, i) => l.decoys === decoys[i]);
          if (!same) throw new Error(`--null-from: key ${k}'s null has other decoy counts`);
          runs.push(cached);
          log(`${m.name} random none key ${k}: from ${nullFrom!.file}`);
        } else await measure('none', file, reference[m.name]);
      }
    }
  }
}

// Summary: per model, mode and strategy, each detector's pooled separability averaged over keys,
// and the largest per-layer separability (layers with ≥ 20 decoys, and over all layers) of any run.
interface SummaryRow {
  model: string;
  mode: RunMode;
  strategy: Strategy;
  detector: string;
  pooledSeparability: number;
  pooledAuc: number;
  pooledPrecision: number;
  maxLayerSeparability: number;
  maxLayerSeparabilityAll: number;
  layersAboveChance: number;
  layers: number;
}
const summary: SummaryRow[] = [];
const runModes: RunMode[] = [...MODES, 'none'];
for (const m of MODELS) {
  for (const strategy of STRATEGIES) {
    for (const mode of runModes) {
      const mine = runs.filter((r) => r.model === m.name && r.mode === mode && r.strategy === strategy);
      if (mine.length === 0) continue;
      for (const det of mine[0].reports.map((r) => r.detector)) {
        const rs = mine.map((r) => r.reports.find((x) => x.detector === det)!);
        const avg = (f: (r: DetectorReport) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
        summary.push({
          model: m.name,
          mode,
          strategy,
          detector: det,
          pooledSeparability: avg((r) => r.pooledSeparability),
          pooledAuc: avg((r) => r.pooledAuc),
          pooledPrecision: avg((r) => r.pooledPrecision),
          maxLayerSeparability: Math.max(...rs.map((r) => r.maxLayerSeparability).filter(Number.isFinite)),
          maxLayerSeparabilityAll: Math.max(...rs.map((r) => r.maxLayerSeparabilityAll)),
          layersAboveChance: rs.reduce((a, r) => a + r.layersAboveChance, 0),
          layers: rs.reduce((a, r) => a + r.layers.length, 0),
        });
      }
    }
  }
}

/** Not about the decoys: the row + column part of a kernel's size, i.e. where it sits. */
const POSITION_ONLY = 'rowColumnEffect';

// Per layer over keys. One key's per-layer AUC is noisy (21 decoys among 256 kernels: chance alone
// reaches 0.63 one time in 20), so each (detector, layer)'s AUC is also averaged over the keys,
// with its spread, and compared with what chance reaches for a mean over K keys: the one-key level
// shrunk by √K (each key draws its own decoys and, with random positions, its own positions). The
// null run 'none' at the same keys and positions shows how often chance crosses that level.
interface LayerOverKeys {
  layer: string;
  decoys: number;
  kernels: number;
  meanAuc: number;
  sdAuc: number;
  minAuc: number;
  maxAuc: number;
  /** max(mean AUC, 1 − mean AUC): an attacker learns which way a statistic points. */
  separability: number;
  /** What a detector at chance stays under 19 times in 20, for the mean over these keys. */
  chance95: number;
}
interface KeyAveraged {
  model: string;
  mode: RunMode;
  strategy: Strategy;
  detector: string;
  keys: number;
  layers: LayerOverKeys[];
}
const keyAveraged: KeyAveraged[] = [];
for (const m of MODELS) {
  for (const strategy of STRATEGIES) {
    for (const mode of [...MODES, 'none'] as RunMode[]) {
      const mine = runs.filter((r) => r.model === m.name && r.mode === mode && r.strategy === strategy);
      if (mine.length === 0) continue;
      for (const det of mine[0].reports.map((r) => r.detector)) {
        const reps = mine.map((r) => r.reports.find((x) => x.detector === det)!);
        const layers = reps[0].layers.map((first, i) => {
          const aucs = reps.map((r) => r.layers[i].auc).filter(Number.isFinite);
          const meanAuc = mean(aucs);
          const sdAuc = aucs.length > 1 ? Math.sqrt(aucs.reduce((a, x) => a + (x - meanAuc) ** 2, 0) / (aucs.length - 1)) : 0;
          return {
            layer: first.layer,
            decoys: first.decoys,
            kernels: first.kernels,
            meanAuc,
            sdAuc,
            minAuc: Math.min(...aucs),
            maxAuc: Math.max(...aucs),
            separability: separability(meanAuc),
            chance95: 0.5 + (first.chance95 - 0.5) / Math.sqrt(aucs.length),
          };
        });
        keyAveraged.push({ model: m.name, mode, strategy, detector: det, keys: mine.length, layers });
      }
    }
  }
}

/** The worst key-averaged layer (≥ 20 decoys) of a mode, and how many (detector, layer) tests exceed their K-key chance level. */
function keyAveragedWorst(mode: RunMode, keep: (s: Strategy) => boolean) {
  let worst = { value: 0, detector: '', model: '', strategy: '', layer: '', decoys: 0, kernels: 0, meanAuc: 0, sdAuc: 0, chance95: 0, keys: 0 };
  let above = 0,
    tests = 0;
  const aboveBy: Record<string, number> = {};
  for (const r of keyAveraged.filter((x) => x.mode === mode && keep(x.strategy) && x.detector !== POSITION_ONLY)) {
    for (const l of r.layers) {
      tests++;
      if (l.separability > l.chance95) {
        above++;
        aboveBy[r.detector] = (aboveBy[r.detector] ?? 0) + 1;
      }
      if (l.decoys >= 20 && l.separability > worst.value)
        worst = {
          value: l.separability,
          detector: r.detector,
          model: r.model,
          strategy: r.strategy,
          layer: l.layer,
          decoys: l.decoys,
          kernels: l.kernels,
          meanAuc: l.meanAuc,
          sdAuc: l.sdAuc,
          chance95: l.chance95,
          keys: r.keys,
        };
    }
  }
  return { perLayer: worst, layersAboveChance: { count: above, of: tests, expectedAtChance: Math.round(0.05 * tests), byDetector: aboveBy } };
}
/** Selections whose positions are not themselves a clue: random positions, or a balanced selection. */
const fairStrategy = (s: Strategy) => s === 'random' || SELECTION === 'balanced';
const command = `NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-detectors.ts${quick ? ' --quick' : ''}${args.keys ? ` --keys ${KEYS}` : ''}${args['dncnn-keys'] ? ` --dncnn-keys ${DNCNN_KEYS}` : ''}${args['other-keys'] ? ` --other-keys ${OTHER_KEYS}` : ''}${args.tag ? ` --tag ${args.tag}` : ''}${args['fisher-images'] ? ` --fisher-images ${FISHER_IMAGES}` : ''}${args.models ? ` --models ${args.models}` : ''}${args.modes ? ` --modes ${args.modes}` : ''}${args.selection ? ` --selection ${SELECTION}` : ''}${args.strategies ? ` --strategies ${args.strategies}` : ''}${args['denoise-images'] ? ` --denoise-images ${DENOISE_IMAGES}` : ''}${args.out ? ` --out ${args.out}` : ''}${args['null-from'] ? ` --null-from ${args['null-from']}` : ''}`;

/** The worst of a mode's runs: highest pooled and per-layer separability, and where. */
function worstOf(mode: RunMode, keep: (r: Run) => boolean) {
  let pooled = { value: 0, detector: '', model: '', strategy: '' };
  let layer = { value: 0, detector: '', model: '', strategy: '', layer: '', decoys: 0, kernels: 0, chance95: 0, aucInterval: [0, 0] as [number, number] };
  let layerAll = { ...layer };
  let above = 0,
    layerTests = 0;
  for (const r of runs.filter((x) => x.mode === mode && keep(x))) {
    for (const rep of r.reports.filter((x) => x.detector !== POSITION_ONLY)) {
      if (rep.pooledSeparability > pooled.value) pooled = { value: rep.pooledSeparability, detector: rep.detector, model: r.model, strategy: r.strategy };
      above += rep.layersAboveChance;
      layerTests += rep.layers.length;
      for (const l of rep.layers) {
        const row = {
          value: l.separability,
          detector: rep.detector,
          model: r.model,
          strategy: r.strategy,
          layer: l.layer,
          decoys: l.decoys,
          kernels: l.kernels,
          chance95: l.chance95,
          aucInterval: l.aucInterval,
        };
        if (l.separability > layerAll.value) layerAll = row;
        if (l.decoys >= 20 && l.separability > layer.value) layer = row;
      }
    }
  }
  return { pooled, layer, layerAll, above, layerTests };
}

const fair = worstOf(DEFAULT_DECOY_MODE, (r) => fairStrategy(r.strategy));
const nullRun = worstOf('none', () => true);
const positionsAlone = summary.filter((r) => r.detector === POSITION_ONLY && r.mode === DEFAULT_DECOY_MODE).map((r) => ({ model: r.model, strategy: r.strategy, separability: r.pooledSeparability }));
const averaged = keyAveragedWorst(DEFAULT_DECOY_MODE, fairStrategy);
/** The highest pooled separability of a detector on the default decoys, averaged over keys. */
const pooledOverKeys = summary
  .filter((r) => r.mode === DEFAULT_DECOY_MODE && fairStrategy(r.strategy) && r.detector !== POSITION_ONLY)
  .reduce((w, r) => (r.pooledSeparability > w.value ? { value: r.pooledSeparability, detector: r.detector, model: r.model, strategy: r.strategy } : w), {
    value: 0,
    detector: '',
    model: '',
    strategy: '',
  });
const oneKey = worstOf(DEFAULT_DECOY_MODE, (r) => fairStrategy(r.strategy) && r.key === 0);
const oneKeyNull = worstOf('none', (r) => r.key === 0);
const decoyAucMax = {
  value: fair.layerTests ? Math.max(pooledOverKeys.value, KEYS > 1 ? averaged.perLayer.value : fair.layer.value) : null,
  mode: DEFAULT_DECOY_MODE,
  selection: SELECTION,
  strategies: STRATEGIES.filter(fairStrategy),
  keys: KEYS,
  measure:
    "max over models and detectors (all but rowColumnEffect, which sees only the positions) of max(AUC, 1 − AUC), pooled over a model's conv layers and per layer (layers with ≥ 20 decoys), each AUC averaged over the keys first (one key: that key's); decoys at positions that are not themselves a clue (random, or the balanced selection). oneKey: key 0 alone, what one attacker sees; maxOverKeys: the worst single key",
  pooled: pooledOverKeys,
  perLayer: KEYS > 1 ? averaged.perLayer : fair.layer,
  oneKey: {
    pooled: oneKey.pooled,
    perLayer: oneKey.layer,
    layersAboveChance: { count: oneKey.above, of: oneKey.layerTests, expectedAtChance: Math.round(0.05 * oneKey.layerTests) },
    atChance: { pooled: oneKeyNull.pooled, perLayer: oneKeyNull.layer, layersAboveChance: { count: oneKeyNull.above, of: oneKeyNull.layerTests } },
  },
  maxOverKeys: { pooled: fair.pooled, perLayer: fair.layer, perLayerAllLayers: fair.layerAll },
  layersAboveChance: { count: fair.above, of: fair.layerTests, expectedAtChance: Math.round(0.05 * fair.layerTests), note: 'one-key tests over every key' },
  atChance: {
    pooled: nullRun.pooled,
    perLayer: nullRun.layer,
    layersAboveChance: { count: nullRun.above, of: nullRun.layerTests },
    note: "the same one-key figures for the null run 'none' (no decoys, random positions) over every key: what chance reaches",
  },
  positionsAlone,
  keyAveraged: {
    keys: KEYS,
    measure:
      "per (detector, layer) the AUC averaged over the keys, then max(mean, 1 − mean); worst layer among layers with ≥ 20 decoys; chance95 = the one-key 95% chance level shrunk by √keys; 'atChance' = the same for the null run 'none' at the same keys and positions",
    ...averaged,
    atChance: keyAveragedWorst('none', () => true),
    importanceSelected: Object.fromEntries(STRATEGIES.filter((s) => !fairStrategy(s)).map((s) => [s, keyAveragedWorst(DEFAULT_DECOY_MODE, (x) => x === s)])),
  },
  command,
};
const out = {
  command,
  selection: SELECTION,
  date: new Date().toISOString(),
  seconds: (performance.now() - t0) / 1000,
  ratio: RATIO,
  keys: KEYS,
  dncnnKeys: DNCNN_KEYS,
  otherModesKeys: OTHER_KEYS,
  masterBitExact,
  nullFrom: nullFrom && { file: nullFrom.file, date: nullFrom.date, command: nullFrom.command, keys: runs.filter((r) => r.mode === 'none' && nullFrom.runs.includes(r)).length },
  fisherImages: FISHER_IMAGES,
  strategies: STRATEGIES,
  note: "separability = max(AUC, 1 − AUC); pooled = AUC of within-layer percentile ranks over all conv layers; maxLayerSeparability over layers with ≥ 20 decoys; chance95 = the separability a detector at chance stays under 19 times in 20 at that layer's size; mode 'none' = no decoys, the original kernels at the random positions (the null: every detector at chance); rowColumnEffect sees only the positions (what an importance selection gives away) and is left out of the maxima",
  decoyAucMax,
  maxPooledSeparability: Object.fromEntries(
    runModes
      .filter((mode) => summary.some((r) => r.mode === mode))
      .map((mode) => [mode, Math.max(...summary.filter((r) => r.mode === mode && r.detector !== POSITION_ONLY).map((r) => r.pooledSeparability))]),
  ),
  maxLayerSeparability: Object.fromEntries(
    runModes
      .filter((mode) => summary.some((r) => r.mode === mode))
      .map((mode) => [mode, Math.max(...summary.filter((r) => r.mode === mode && r.detector !== POSITION_ONLY).map((r) => r.maxLayerSeparability))]),
  ),
  reference,
  tier0: runs.map((r) => ({ model: r.model, strategy: r.strategy, mode: r.mode, key: r.key, tier0: r.tier0 })),
  summary,
  keyAveragedLayers: keyAveraged,
  runs,
};
const stem = `decoy-detectors${SELECTION === 'top' ? '' : `-${SELECTION}`}${args.tag ? `-${args.tag}` : ''}`;
await writeFileAtomic(join(results, `${stem}.json`), `${JSON.stringify(out, null, 1)}\n`);

// Figures: pooled separability per detector; per layer, the worst detector and what chance reaches.
const detectors = [...new Set(summary.map((r) => r.detector))];
const chartStrategy = STRATEGIES.includes('random') ? 'random' : STRATEGIES[0];
const chartModes = runModes.filter((mode) => runs.some((x) => x.mode === mode && x.strategy === chartStrategy));
await writeFileAtomic(
  join(results, `${stem}.svg`),
  barChartSvg({
    title: `Decoy detectors: pooled separability max(AUC, 1−AUC), ${chartStrategy} positions (${SELECTION}), ratio ${RATIO} (0.5 = chance)`,
    yLabel: 'separability',
    yMin: 0.5,
    yMax: 1,
    width: 1500,
    height: 460,
    categories: detectors,
    series: MODELS.flatMap((m) =>
      chartModes.map((mode) => ({
        name: `${m.name} ${mode}`,
        values: detectors.map((d) => summary.find((r) => r.model === m.name && r.mode === mode && r.strategy === chartStrategy && r.detector === d)?.pooledSeparability ?? 0.5),
      })),
    ),
  }),
);
const layerRows = (model: string, mode: RunMode) => {
  const r = runs.find((x) => x.model === model && x.mode === mode && x.strategy === chartStrategy && x.key === 0)!;
  const names = r.reports[0].layers.map((l) => l.layer);
  return names.map((name) => {
    let worst = { separability: 0, detector: '', chance95: 0, aucInterval: [0, 0] as [number, number], decoys: 0, kernels: 0 };
    for (const rep of r.reports.filter((x) => x.detector !== POSITION_ONLY)) {
      const l = rep.layers.find((x) => x.layer === name)!;
      if (l.separability > worst.separability) worst = { ...l, detector: rep.detector };
    }
    return { name, ...worst };
  });
};
const layerSeries = MODELS.flatMap((m) => {
  const rows = chartModes.map((mode) => ({ mode, rows: layerRows(m.name, mode) }));
  return [
    ...rows.map(({ mode, rows: rs }) => ({ name: `${m.name} ${mode}`, values: rs.map((x) => x.separability), labels: rs.map((x) => `${m.name} ${x.name.replace(/\.weight$/, '')}`) })),
    { name: `${m.name} chance (95%)`, values: rows[0].rows.map((x) => x.chance95), labels: rows[0].rows.map((x) => `${m.name} ${x.name.replace(/\.weight$/, '')}`) },
  ];
});
for (const m of MODELS) {
  const series = layerSeries.filter((s) => s.name.startsWith(`${m.name} `));
  await writeFileAtomic(
    join(results, `${stem}-layers-${m.name}.svg`),
    barChartSvg({
      title: `${m.name}: per layer, the best detector's separability (key 0, ${chartStrategy} positions, ${SELECTION}); chance (95%) = what a useless detector reaches at that layer's size`,
      yLabel: 'separability',
      yMin: 0.5,
      yMax: 1,
      width: 1500,
      height: 460,
      categories: series[0].labels.map((x) => x.replace(`${m.name} `, '')),
      series: series.map((s) => ({ name: s.name, values: s.values })),
    }),
  );
}

// The page section: the figures above, in words and tables.
const fmt3 = (x: number) => x.toFixed(3);

/** Per layer averaged over the keys: worst layers and tests above the K-key chance level, then every layer. */
function keyAveragedSection(): string[] {
  const rows = MODELS.flatMap((m) =>
    STRATEGIES.flatMap((strategy) =>
      runModes.flatMap((mode) => {
        if (!keyAveraged.some((r) => r.model === m.name && r.strategy === strategy && r.mode === mode)) return [];
        const w = (() => {
          const mine = keyAveraged.filter((r) => r.model === m.name && r.strategy === strategy && r.mode === mode && r.detector !== POSITION_ONLY);
          let best = { sep: 0, det: '', layer: '', sd: 0, lim: 0 };
          let above = 0,
            tests = 0;
          for (const r of mine)
            for (const l of r.layers) {
              tests++;
              if (l.separability > l.chance95) above++;
              if (l.decoys >= 20 && l.separability > best.sep) best = { sep: l.separability, det: r.detector, layer: l.layer.replace(/\.weight$/, ''), sd: l.sdAuc, lim: l.chance95 };
            }
          return { best, above, tests };
        })();
        return [
          [
            m.name,
            strategy,
            mode,
            `${w.best.det} ${fmt3(w.best.sep)} ± ${fmt3(w.best.sd)} (${w.best.layer}; chance ${fmt3(w.best.lim)})`,
            `${w.above} / ${w.tests} (${Math.round(0.05 * w.tests)} at chance)`,
          ],
        ];
      }),
    ),
  );
  const perLayer = MODELS.flatMap((m) => {
    const strategy = chartStrategy;
    const modes = runModes.filter((mode) => keyAveraged.some((r) => r.model === m.name && r.strategy === strategy && r.mode === mode));
    const first = keyAveraged.find((r) => r.model === m.name && r.strategy === strategy && r.mode === DEFAULT_DECOY_MODE) ?? keyAveraged.find((r) => r.model === m.name && r.strategy === strategy);
    if (!first) return [];
    return first.layers.map((l0, i) => [
      m.name,
      l0.layer.replace(/\.weight$/, ''),
      `${l0.decoys} / ${l0.kernels}`,
      fmt3(l0.chance95),
      ...modes.map((mode) => {
        let best = { sep: 0, det: '', sd: 0, keys: 1 };
        for (const r of keyAveraged.filter((x) => x.model === m.name && x.strategy === strategy && x.mode === mode && x.detector !== POSITION_ONLY))
          if (r.layers[i].separability > best.sep) best = { sep: r.layers[i].separability, det: r.detector, sd: r.layers[i].sdAuc, keys: r.keys };
        return best.keys > 1 ? `${best.det} ${fmt3(best.sep)} ± ${fmt3(best.sd)}` : `${best.det} ${fmt3(best.sep)} (1 key)`;
      }),
    ]);
  });
  const modesOf = runModes.filter((mode) => keyAveraged.some((r) => r.strategy === chartStrategy && r.mode === mode));
  return [
    `### Per layer, averaged over ${keysText}`,
    '',
    `Each (detector, layer)'s AUC averaged over the keys (each key its own decoys and, at random positions, its own positions), then max(mean, 1 − mean), ± the AUC's standard deviation over keys (what one attacker's figure spreads by). ` +
      `Chance = what a useless detector's K-key mean stays under 19 times in 20 at that layer's size (the one-key level shrunk by √K). Worst layer among layers with ≥ 20 decoys; rowColumnEffect left out.`,
    '',
    table(['model', 'strategy', 'decoys', 'worst layer (mean over keys)', 'tests above chance'], rows),
    '',
    `Every layer (${chartStrategy} positions): the best detector's mean over keys per mode.`,
    '',
    table(['model', 'layer', 'decoys / kernels', 'chance (95%, K keys)', ...modesOf.map((mode) => `${mode}: best detector`)], perLayer),
    '',
  ];
}
const md: string[] = [
  `## Decoy detectors (${SELECTION} selection)`,
  '',
  `\`${command}\` (${Math.round(out.seconds)} s on the shared 2-core machine, under load). Ratio ${RATIO}, ${keysText}, Fisher scores on ${FISHER_IMAGES} labelled inputs. ` +
    'Separability = max(AUC, 1 − AUC) of a detector telling decoys from genuine kernels (0.5 = chance); pooled = over all conv layers by within-layer percentile ranks. ' +
    "'none' = no decoys: the original kernels at the same random positions, where every detector is at chance by construction (what chance looks like at these sizes). " +
    '`rowColumnEffect` (last column) sees only where a kernel sits: what an importance selection gives away, which no decoy can change; it is left out of the other columns. ' +
    `Tier 0 = the published file as it is: accuracy on the first ${EVAL_IMAGES} CIFAR-10 test images (ResNet-20) or PSNR on ${DENOISE_IMAGES ? `the first ${DENOISE_IMAGES} images of` : ''} Set12 at σ = 25 (DnCNN).` +
    (nullFrom ? ` The null 'none' was read from ${nullFrom.file} (run ${nullFrom.date}), not measured again: the same keys and positions; its classifier simulated the default decoys of then.` : ''),
  '',
  `**decoyAucMax** (default '${DEFAULT_DECOY_MODE}' decoys, ${decoyAucMax.strategies.join(', ') || 'no fair'} positions${KEYS > 1 ? `, each AUC averaged over ${KEYS} keys` : ''}): ${decoyAucMax.value === null ? '–' : fmt3(decoyAucMax.value)}; pooled ${fmt3(pooledOverKeys.value)} (${pooledOverKeys.detector}, ${pooledOverKeys.model}); ` +
    (KEYS > 1
      ? `worst layer ${fmt3(averaged.perLayer.value)} (${averaged.perLayer.detector}, ${averaged.perLayer.model} ${averaged.perLayer.layer}, ${averaged.perLayer.decoys} decoys of ${averaged.perLayer.kernels}, AUC ${fmt3(averaged.perLayer.meanAuc)} ± ${fmt3(averaged.perLayer.sdAuc)} over keys: chance reaches ${fmt3(averaged.perLayer.chance95)} there); ` +
        `${averaged.layersAboveChance.count} of ${averaged.layersAboveChance.of} (detector, layer) means above their ${KEYS}-key chance level (${averaged.layersAboveChance.expectedAtChance} expected at chance); ` +
        `the null 'none' at the same keys: worst layer ${fmt3(out.decoyAucMax.keyAveraged.atChance.perLayer.value)} (${out.decoyAucMax.keyAveraged.atChance.perLayer.detector}, ${out.decoyAucMax.keyAveraged.atChance.perLayer.layer}), ${out.decoyAucMax.keyAveraged.atChance.layersAboveChance.count} of ${out.decoyAucMax.keyAveraged.atChance.layersAboveChance.of} above. `
      : '') +
    `One key (key 0, what one attacker sees): pooled ${fmt3(oneKey.pooled.value)} (${oneKey.pooled.detector}), per layer ${fmt3(oneKey.layer.value)} (${oneKey.layer.detector}, ${oneKey.layer.model} ${oneKey.layer.layer}, ${oneKey.layer.decoys} decoys of ${oneKey.layer.kernels}: chance reaches ${fmt3(oneKey.layer.chance95)} there, AUC 95% interval ${oneKey.layer.aucInterval.map(fmt3).join('–')}); ` +
    `${oneKey.above} of ${oneKey.layerTests} tests above their 95% chance level (${Math.round(0.05 * oneKey.layerTests)} expected at chance); the null at key 0: pooled ${fmt3(oneKeyNull.pooled.value)} (${oneKeyNull.pooled.detector}), per layer ${fmt3(oneKeyNull.layer.value)} (${oneKeyNull.layer.detector}, ${oneKeyNull.layer.layer}), ${oneKeyNull.above} of ${oneKeyNull.layerTests} above.` +
    (KEYS > 1 ? ` The worst single key: per layer ${fmt3(fair.layer.value)} (${fair.layer.detector}, ${fair.layer.layer}); null ${fmt3(nullRun.layer.value)}.` : ''),
  '',
  table(
    ['model', 'strategy', 'decoys', 'tier 0', 'best detector (pooled)', 'next two', 'worst layer (≥ 20 decoys)', 'tests above chance', 'positions alone'],
    MODELS.flatMap((m) =>
      STRATEGIES.flatMap((strategy) =>
        runModes.flatMap((mode) => {
          const rows = summary
            .filter((r) => r.model === m.name && r.strategy === strategy && r.mode === mode && r.detector !== POSITION_ONLY)
            .sort((a, b) => b.pooledSeparability - a.pooledSeparability);
          const pos = summary.find((r) => r.model === m.name && r.strategy === strategy && r.mode === mode && r.detector === POSITION_ONLY);
          const t = runs.filter((r) => r.model === m.name && r.strategy === strategy && r.mode === mode).map((r) => r.tier0);
          if (rows.length === 0) return [];
          const worstLayer = rows.reduce((a, r) => (r.maxLayerSeparability > a.maxLayerSeparability ? r : a));
          return [
            [
              m.name,
              strategy,
              mode,
              mode === 'none' ? `${fmt3(mean(t))} (unprotected)` : fmt3(mean(t)),
              `${rows[0].detector} ${fmt3(rows[0].pooledSeparability)}`,
              rows
                .slice(1, 3)
                .map((r) => `${r.detector} ${fmt3(r.pooledSeparability)}`)
                .join(', '),
              `${worstLayer.detector} ${fmt3(worstLayer.maxLayerSeparability)}`,
              `${rows.reduce((a, r) => a + r.layersAboveChance, 0)} / ${rows.reduce((a, r) => a + r.layers, 0)}`,
              pos ? fmt3(pos.pooledSeparability) : '–',
            ],
          ];
        }),
      ),
    ),
  ),
  '',
  `Per layer (key 0, ${chartStrategy} positions): the best detector on each mode's decoys, and the separability a useless detector reaches 19 times in 20 at that size (a small layer's 0.8 can be chance).`,
  '',
  table(
    ['model', 'layer', 'decoys / kernels', 'chance (95%)', ...chartModes.map((mode) => `${mode}: best detector`)],
    MODELS.flatMap((m) => {
      const per = chartModes.map((mode) => layerRows(m.name, mode));
      return per[0].map((row, i) => [
        m.name,
        row.name.replace(/\.weight$/, ''),
        `${row.decoys} / ${row.kernels}`,
        fmt3(row.chance95),
        ...per.map((rs) => `${rs[i].detector} ${fmt3(rs[i].separability)} (AUC ${rs[i].aucInterval.map(fmt3).join('–')})`),
      ]);
    }),
  ),
  '',
  ...(KEYS > 1 ? keyAveragedSection() : []),
  `![pooled](${stem}.svg)`,
  '',
  ...MODELS.map((m) => `![per layer, ${m.name}](${stem}-layers-${m.name}.svg)`),
  '',
];
await writeFileAtomic(join(results, `${stem}.md`), `${md.join('\n')}\n`);
log(
  `decoyAucMax ${decoyAucMax.value === null ? '–' : fmt3(decoyAucMax.value)} (pooled ${fmt3(pooledOverKeys.value)} ${pooledOverKeys.detector}; per layer ${fmt3(decoyAucMax.perLayer.value)} ${decoyAucMax.perLayer.detector} ${decoyAucMax.perLayer.layer}); max pooled separability: ${JSON.stringify(out.maxPooledSeparability)}`,
);
