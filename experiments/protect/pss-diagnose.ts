// Why PSS with nnlock's light defaults does not beat L1 or magnitude: on two layers of the shared
// ResNet-20 (layer1.0.conv1, 256 kernels; layer3.0.conv1, 2,048 kernels), each PSS variant runs
// the default budget (2 epochs of the first 1,024 training images, batch 128: 16 steps per layer)
// and is measured by
//   - the gradient on log α at each step, split into the task term and the L0 term, and the share
//     of kernels whose task gradient is exactly 0 (gate clamped),
//   - how far log α moved, and its range,
//   - Spearman's ρ and the top-2%/8% overlap with a second seed (the ranking's noise), with L1,
//     Taylor, and with the paper-setting PSS when its cache exists (pss-study.ts --variants pss-paper).
// The variants take one factor away at a time: sampled → deterministic gates (sampling noise),
// Adam → SGD from log α = 1 (the optimiser and the start).
//
//   NNLOCK_THREADS=1 nice -n 10 node --import tsx experiments/protect/pss-diagnose.ts
//
// Writes experiments/results/protect/pss-diagnosis.json.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { type ImportanceMap, PSS_SAMPLED_SETTING, type PssSettings, computeImportance, loadImportance, saveImportance } from '../../src/protect/index.ts';
import { compareImportance } from '../../src/protect/importance/compare.ts';
import { RESNET20, fmt, log, readWeights, requireData, runContext } from './common.ts';
import { FIXED_PSS, trainImages } from './pss-variants.ts';

requireData();
const ctx = runContext(false);
const LAYERS = ['layer1.0.conv1.weight', 'layer3.0.conv1.weight'];
const RATIOS = [0.02, 0.08];
const file = await readWeights(RESNET20);

const VARIANTS: Record<string, { pss: PssSettings; seed: number }> = {
  // "light" is nnlock 0.3's light default (PSS_SAMPLED_SETTING; PSS_DEFAULTS is FIXED_PSS's since 0.4).
  'light (seed 0)': { pss: PSS_SAMPLED_SETTING, seed: 0 },
  'light (seed 1)': { pss: PSS_SAMPLED_SETTING, seed: 1 },
  'light, deterministic gates': { pss: { ...PSS_SAMPLED_SETTING, gates: 'deterministic' }, seed: 0 },
  'deterministic, SGD 0.1 Nesterov from log α = 1 (FIXED_PSS)': { pss: FIXED_PSS, seed: 0 },
};

interface StepStats {
  task: number[];
  penalty: number[];
  zeroTask: number[];
}
const maps = new Map<string, ImportanceMap>();
const stats: Record<string, Record<string, StepStats & { seconds: number }>> = {};
// Each variant's map and step statistics are cached (experiments/out/protect/diagnose/), so a rerun
// (e.g. once the paper-setting PSS exists) only recomputes the comparisons.
const cacheDir = join(ctx.out, 'diagnose');
mkdirSync(cacheDir, { recursive: true });
let index = 0;
for (const [name, v] of Object.entries(VARIANTS)) {
  const cached = join(cacheDir, `variant-${index++}.safetensors`);
  if (existsSync(cached) && existsSync(`${cached}.json`)) {
    maps.set(name, (await loadImportance(cached)).scores);
    stats[name] = JSON.parse(readFileSync(`${cached}.json`, 'utf8'));
    continue;
  }
  const data = await trainImages(1024, 128, false, v.seed);
  const per: Record<string, StepStats> = {};
  const t0 = performance.now();
  const imp = await computeImportance('pss', file, data, {
    architecture: 'resnet20',
    layers: LAYERS,
    seed: v.seed,
    pss: v.pss,
    diagnostics: true,
    onStep: (s) => {
      const p = (per[s.layer] ??= { task: [], penalty: [], zeroTask: [] });
      p.task.push(s.gradients!.task);
      p.penalty.push(s.gradients!.penalty);
      p.zeroTask.push(s.gradients!.zeroTask);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  maps.set(name, imp.scores);
  stats[name] = Object.fromEntries(Object.entries(per).map(([l, p]) => [l, { ...p, seconds }]));
  await saveImportance(cached, imp.scores, imp);
  await writeFileAtomic(`${cached}.json`, JSON.stringify(stats[name]));
  log(`${name}: ${seconds.toFixed(0)} s`);
}
const t1 = performance.now();
const gate = await computeImportance('gate-gradient', file, await trainImages(1024, 128, false, 0), { architecture: 'resnet20', layers: LAYERS, batches: 8 });
const gateSeconds = (performance.now() - t1) / 1000;
const t2 = performance.now();
const taylor = await computeImportance('taylor', file, await trainImages(1024, 128, false, 0), { architecture: 'resnet20', layers: LAYERS, batches: 8 });
const taylorSeconds = (performance.now() - t2) / 1000;
const l1 = await computeImportance('l1', file, undefined, { layers: LAYERS });
const paperPath = join(ctx.out, 'importance', 'resnet20-pss-paper.safetensors');
const paper = existsSync(paperPath) ? (await loadImportance(paperPath)).scores : undefined;
const only = (m: ImportanceMap) => new Map(LAYERS.map((l) => [l, m.get(l)!]));

const FIXED = 'deterministic, SGD 0.1 Nesterov from log α = 1 (FIXED_PSS)';
const references: Record<string, ImportanceMap> = {
  'light (seed 1)': maps.get('light (seed 1)')!,
  L1: l1.scores,
  Taylor: taylor.scores,
  [FIXED]: maps.get(FIXED)!,
  ...(paper ? { 'PSS, paper setting': only(paper) } : {}),
};
const rows: Record<string, unknown>[] = [];
for (const [name, m] of [...maps, ['gate-gradient (8 batches)', gate.scores] as const, ...(paper ? ([['PSS, paper setting', only(paper)]] as const) : [])]) {
  const perLayer: Record<string, unknown> = {};
  for (const l of LAYERS) {
    const s = Array.from(m.get(l)!.scores);
    const st = stats[name]?.[l];
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    perLayer[l] = {
      scoreRange: [Math.min(...s), Math.max(...s)],
      ...(st
        ? {
            meanTaskGradient: mean(st.task),
            meanPenaltyGradient: mean(st.penalty),
            taskOverPenalty: mean(st.task) / mean(st.penalty),
            zeroTaskGradientShare: mean(st.zeroTask),
            steps: st.task.length,
          }
        : {}),
    };
  }
  const agreement = Object.fromEntries(
    Object.entries(references)
      .filter(([r]) => r !== name)
      .map(([r, ref]) => {
        const c = compareImportance(only(m), ref, RATIOS);
        return [r, { spearman: c.spearman, overlap: c.overlap, layers: c.layers.map((x) => ({ name: x.name, spearman: x.spearman, overlap: x.overlap })) }];
      }),
  );
  rows.push({ variant: name, layers: perLayer, agreement });
  log(
    `${name}: ${Object.entries(agreement)
      .map(([r, a]) => `ρ(${r}) ${fmt((a as { spearman: number }).spearman, 3)}`)
      .join(', ')}`,
  );
}
const out = {
  command: 'NNLOCK_THREADS=1 nice -n 10 node --import tsx experiments/protect/pss-diagnose.ts',
  layers: LAYERS,
  budget: '2 epochs of the first 1,024 training images of data_batch_1, batch 128 (16 steps per layer), λ = 1e-4',
  ratios: RATIOS,
  variants: Object.fromEntries(Object.entries(VARIANTS).map(([k, v]) => [k, v.pss])),
  seconds: { ...Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, Object.values(v)[0].seconds])), 'gate-gradient (8 batches)': gateSeconds, taylor: taylorSeconds },
  paperCompared: paper !== undefined,
  rows,
};
await writeFileAtomic(join(ctx.results, 'pss-diagnosis.json'), JSON.stringify(out, null, 1));
log(`wrote ${join(ctx.results, 'pss-diagnosis.json')}`);
