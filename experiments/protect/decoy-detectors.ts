// The decoy detector suite (src/audit) against today's decoys ('position', nnlock 0.1) and the
// joint ones ('joint', the default), on the shared ResNet-20 and DnCNN-S-25:
//
//   node --import tsx experiments/protect/decoy-detectors.ts [--quick] [--keys 2] [--fisher-images 256]
//
// Per model, mode, key and selection strategy: protect (1 tier: decoys do not depend on the
// tiers), run every detector on the published file alone (the gradient detector also on
// --fisher-images labelled inputs: CIFAR-10 training images, or σ = 25 train400 patches for DnCNN),
// and score each against the true decoy positions. Writes
// experiments/results/protect/decoy-detectors.{json,svg} (--quick: experiments/out/, not results).
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { type DecoyMode, type SelectionMode, type Strategy, computeImportance, convLayers, protectModel } from '../../src/protect/index.ts';
import { bytesToFloat64 } from '../../src/protect/layers.ts';
import { type DetectorReport, type PublishedLayer, fisherScores, runDetectors, scoreDetectors } from '../../src/audit/index.ts';
import { modelSpec } from '../../src/models/index.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { barChartSvg } from '../lib/svg.ts';
import { DNCNN, RESNET20, ROOT, cifarTaskData, denoiseTaskData, experimentKey, loadIntoModel, log, readWeights, requireData } from './common.ts';

const { values: args } = parseArgs({
  options: {
    selection: { type: 'string' },
    strategies: { type: 'string' },
    quick: { type: 'boolean' },
    keys: { type: 'string' },
    'fisher-images': { type: 'string' },
    ratio: { type: 'string' },
    modes: { type: 'string' },
    models: { type: 'string' },
  },
});
const quick = args.quick ?? false;
const KEYS = Number(args.keys ?? 1);
const FISHER_IMAGES = Number(args['fisher-images'] ?? (quick ? 64 : 128));
const RATIO = Number(args.ratio ?? 0.08);
const SELECTION = (args.selection ?? 'top') as SelectionMode;
const MODES: DecoyMode[] = (args.modes ?? 'position,joint,context').split(',') as DecoyMode[];
const STRATEGIES = (args.strategies ?? (quick ? 'l1' : 'l1,random')).split(',') as Strategy[];
const MODELS = [
  { name: 'resnet20', path: RESNET20, arch: 'resnet20', task: 'classification' as const },
  { name: 'dncnn', path: DNCNN, arch: 'dncnn-17', task: 'denoising' as const },
].filter((m) => !args.models || args.models.split(',').includes(m.name));
const results = quick ? join(ROOT, 'experiments', 'out', 'protect', 'quick') : join(ROOT, 'experiments', 'results', 'protect');
mkdirSync(results, { recursive: true });
requireData();

function publishedLayers(file: SafetensorsFile): PublishedLayer[] {
  return convLayers(file.tensors).map((l) => ({ name: l.name, shape: l.shape, values: bytesToFloat64(file.tensors.get(l.name)!.data, l.dtype) }));
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

interface Run {
  model: string;
  mode: DecoyMode;
  strategy: Strategy;
  key: number;
  decoys: number;
  kernels: number;
  reports: DetectorReport[];
}

const runs: Run[] = [];
const t0 = performance.now();
for (const m of MODELS) {
  const file = await readWeights(m.path);
  for (const strategy of STRATEGIES) {
    const importance = (await computeImportance(strategy, file, undefined, { seed: 0 })).scores;
    for (const mode of MODES) {
      for (let k = 0; k < KEYS; k++) {
        const p = await protectModel(file, { importance, ratio: RATIO, tiers: 1, architecture: m.arch, decoys: mode, selection: SELECTION, ...experimentKey(k, 1) });
        const layers = publishedLayers(p.file);
        const truth = layers.map((l) => {
          const t = new Uint8Array(l.shape[0] * l.shape[1]);
          const orig = bytesToFloat64(file.tensors.get(l.name)!.data, p.file.tensors.get(l.name)!.dtype);
          const ks = l.shape[2] * l.shape[3];
          for (let i = 0; i < t.length; i++) for (let q = 0; q < ks; q++) if (orig[i * ks + q] !== l.values[i * ks + q]) t[i] = 1;
          return t;
        });
        const counts = truth.map((t) => t.reduce((a, b) => a + b, 0));
        const fisher = await fisherOf(m.arch, m.task, p.file);
        const scores = runDetectors(layers, { mode, counts, fisher, seed: k });
        const reports = scoreDetectors(layers, scores, truth);
        const run: Run = { model: m.name, mode, strategy, key: k, decoys: counts.reduce((a, b) => a + b, 0), kernels: truth.reduce((a, t) => a + t.length, 0), reports };
        runs.push(run);
        const worst = [...reports].sort((a, b) => b.pooledSeparability - a.pooledSeparability).slice(0, 4);
        log(
          `${m.name} ${strategy} ${mode} key ${k}: worst pooled separability ${worst.map((r) => `${r.detector} ${r.pooledSeparability.toFixed(3)}`).join(', ')}  (${Math.round((performance.now() - t0) / 1000)} s)`,
        );
      }
    }
  }
}

// Summary: per model and mode, each detector's pooled separability averaged over keys and strategies,
// and the largest per-layer separability (layers with ≥ 20 decoys) of any run.
interface SummaryRow {
  model: string;
  mode: DecoyMode;
  detector: string;
  pooledSeparability: number;
  pooledAuc: number;
  pooledPrecision: number;
  maxLayerSeparability: number;
}
const summary: SummaryRow[] = [];
for (const m of MODELS) {
  for (const mode of MODES) {
    const mine = runs.filter((r) => r.model === m.name && r.mode === mode);
    for (const det of mine[0].reports.map((r) => r.detector)) {
      const rs = mine.map((r) => r.reports.find((x) => x.detector === det)!);
      const avg = (f: (r: DetectorReport) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
      summary.push({
        model: m.name,
        mode,
        detector: det,
        pooledSeparability: avg((r) => r.pooledSeparability),
        pooledAuc: avg((r) => r.pooledAuc),
        pooledPrecision: avg((r) => r.pooledPrecision),
        maxLayerSeparability: Math.max(...rs.map((r) => r.maxLayerSeparability).filter(Number.isFinite)),
      });
    }
  }
}
const maxOf = (mode: DecoyMode, f: (r: SummaryRow) => number) => Math.max(...summary.filter((r) => r.mode === mode).map(f));
const out = {
  command: `NNLOCK_THREADS=1 node --import tsx experiments/protect/decoy-detectors.ts${quick ? ' --quick' : ''}${args.keys ? ` --keys ${KEYS}` : ''}${args.models ? ` --models ${args.models}` : ''}${args.modes ? ` --modes ${args.modes}` : ''}${args.selection ? ` --selection ${SELECTION}` : ''}${args.strategies ? ` --strategies ${args.strategies}` : ''}`,
  selection: SELECTION,
  date: new Date().toISOString(),
  seconds: (performance.now() - t0) / 1000,
  ratio: RATIO,
  keys: KEYS,
  fisherImages: FISHER_IMAGES,
  strategies: STRATEGIES,
  note: 'separability = max(AUC, 1 − AUC); pooled = AUC of within-layer percentile ranks over all conv layers; maxLayerSeparability over layers with ≥ 20 decoys',
  maxPooledSeparability: Object.fromEntries(MODES.map((mode) => [mode, maxOf(mode, (r) => r.pooledSeparability)])),
  maxLayerSeparability: Object.fromEntries(MODES.map((mode) => [mode, maxOf(mode, (r) => r.maxLayerSeparability)])),
  summary,
  runs,
};
await writeFileAtomic(join(results, `decoy-detectors${SELECTION === 'top' ? '' : `-${SELECTION}`}.json`), `${JSON.stringify(out, null, 1)}\n`);
const detectors = [...new Set(summary.map((r) => r.detector))];
await writeFileAtomic(
  join(results, `decoy-detectors${SELECTION === 'top' ? '' : `-${SELECTION}`}.svg`),
  barChartSvg({
    title: `Decoy detectors: pooled separability max(AUC, 1−AUC), ratio ${RATIO} (0.5 = chance)`,
    yLabel: 'separability',
    yMin: 0.5,
    yMax: 1,
    width: 1500,
    height: 460,
    categories: detectors,
    series: MODELS.flatMap((m) =>
      MODES.map((mode) => ({ name: `${m.name} ${mode}`, values: detectors.map((d) => summary.find((r) => r.model === m.name && r.mode === mode && r.detector === d)?.pooledSeparability ?? 0.5) })),
    ),
  }),
);
log(`max pooled separability: ${JSON.stringify(out.maxPooledSeparability)}; max per-layer: ${JSON.stringify(out.maxLayerSeparability)}`);
