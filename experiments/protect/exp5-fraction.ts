// Experiment 5: the smallest fraction of ALL the model's weights (conv + fc + batch-norm weights and
// biases; the batch-norm running statistics are not weights) at which the tier-0 ResNet-20 is at
// chance (accuracy ≤ 0.12 on the full 5,000-image test set), per importance strategy, in two
// settings:
//   paper   the authors' setting: only the paper's layers (paperLayers: conv1, layer1.0.conv1,
//           layer2.0.conv1, layer3.0.conv1), PSS learned as they do (pss-variants.ts 'pss-paper')
//   nnlock  every conv layer, PSS with nnlock's light defaults ('pss-default')
// plus, in both, the cheap estimator (gate-gradient) and the fixed light PSS where computed.
// Everything else as experiment 1: today's protectModel defaults (DEFAULT_DECOY_MODE decoys), one tier,
// experiment keys 0..keys−1, a sweep over per-layer ratios on the first 500 test images, the full
// test set at the candidate ratios (sweep mean within 0.05 of the threshold) in ascending order.
// Every evaluation is cached (experiments/out/protect/exp5-correct.json); importance maps too.
//
// Writes experiments/results/protect/fraction-at-chance.json (shape: FractionAtChance below; the
// summary's allWeightsFractionAtChance is its `best`) and the plot fraction-at-chance.svg.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { modelSpec } from '../../src/models/index.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import { DEFAULT_DECOY_MODE, type ImportanceMap, convLayers, protectModel } from '../../src/protect/index.ts';
import { selectedCount } from '../../src/protect/selection.ts';
import { compareImportance } from '../../src/protect/importance/compare.ts';
import { lineChartSvg } from '../lib/svg.ts';
import { JsonCache, RESNET20, type RunContext, type Section, correctOn, experimentKey, fmt, loadIntoModel, log, pct, readWeights, table, testLoader } from './common.ts';
import { STRATEGY_LABELS } from './importance.ts';
import { layerNames, variantImportance, variants } from './pss-variants.ts';
import { THRESHOLD } from './exp1-ratio.ts';

export const EXP5_COMMAND = 'NNLOCK_THREADS=1 nice -n 10 node --import tsx experiments/protect/run.ts --only 5';

/** One strategy in one setting: where tier 0 first reaches chance. */
export interface FractionResult {
  /** Importance variant (pss-variants.ts) and the strategy it runs. */
  variant: string;
  strategy: string;
  /** Smallest per-layer ratio of the grid with full-set tier-0 accuracy ≤ 0.12 (null: not reached). */
  ratio: number | null;
  /** The share of all weights protected at that ratio (null: not reached). */
  fractionOfAllWeights: number | null;
  kernels: number | null;
  /** Mean full-set tier-0 accuracy over the keys at that ratio, and per key. */
  tier0: number | null;
  tier0PerKey: number[] | null;
  /** Seconds to compute the importance (as loaded as the machine was). */
  importanceSeconds: number;
  /** The experiment that measured it, and the CLI that protects the same way. */
  command: string;
  cli: string;
}

export interface FractionAtChance {
  threshold: number;
  /** The decoy mode every protected file here used (protectModel's default when it ran). */
  decoys: string;
  testImages: number;
  sweepImages: number;
  keys: number;
  /** The denominator: every parameter of the model (conv, fc, bn weight and bias). */
  allWeights: number;
  settings: Record<string, { layers: string[]; layerWeights: number; ratios: number[] }>;
  /** setting → strategy label → result. */
  results: Record<string, Record<string, FractionResult>>;
  /** The smallest fraction over every setting and strategy (what summary.json's allWeightsFractionAtChance takes). */
  best: { setting: string; strategy: string; fractionOfAllWeights: number; ratio: number; tier0: number; command: string; cli: string } | null;
  /** setting → strategy label → ratio → {fraction of all weights, sweep accuracy per key, full-set accuracy per key when measured}. */
  sweep: Record<string, Record<string, Record<string, { fraction: number; sweep: number[]; full?: number[] }>>>;
  /** setting → strategy → agreement of its selection with PSS's (kernel-weighted Spearman ρ, top-r overlap at AGREEMENT_RATIOS) and its importance time over PSS's. */
  agreementWithPss: Record<string, Record<string, { spearman: number; overlap: Record<string, number>; secondsOverPss: number; layers: unknown }>>;
  /** Experiment 1's smallest ratios (every conv layer, 0.1's per-position decoys, 3 keys, its own PSS run) as fractions of all weights; not part of `best`. */
  fromExperiment1?: Record<string, { ratio: number | null; fractionOfAllWeights: number | null }>;
}

export const AGREEMENT_RATIOS = [0.02, 0.08];

/** Parameters of the model: every tensor but the batch-norm running statistics. */
export function allWeightCount(file: SafetensorsFile): number {
  let n = 0;
  for (const [name, e] of file.tensors) if (!/(running_mean|running_var|num_batches_tracked)$/.test(name)) n += e.shape.reduce((a, b) => a * b, 1);
  return n;
}

const SETTINGS = {
  paper: {
    layers: 'paper' as const,
    grid: [0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.75, 0.999],
    strategies: { pss: 'pss-paper', 'gate-gradient': 'gate-gradient-paper', l1: 'l1', magnitude: 'magnitude', taylor: 'taylor', random: 'random' } as Record<string, string>,
  },
  nnlock: {
    layers: 'all' as const,
    grid: [0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.24, 0.32],
    strategies: { pss: 'pss-default', l1: 'l1', magnitude: 'magnitude', 'pss-fixed': 'pss-fixed', 'gate-gradient': 'gate-gradient', taylor: 'taylor', random: 'random' } as Record<string, string>,
  },
};

function cliFor(setting: string, variant: string, strategy: string, ratio: number): string {
  const imp =
    variant === 'pss-paper'
      ? 'nnlock protect importance resnet20.safetensors -s pss --setting paper --epochs 1 -d cifar10 -o imp.safetensors && '
      : strategy === 'pss' || strategy === 'taylor' || strategy === 'gate-gradient'
        ? `nnlock protect importance resnet20.safetensors -s ${strategy}${setting === 'paper' ? ' --layers conv1,layer1.0.conv1,layer2.0.conv1,layer3.0.conv1' : ''} -d cifar10 -o imp.safetensors && `
        : '';
  const layers = setting === 'paper' && !imp ? ' --layers conv1,layer1.0.conv1,layer2.0.conv1,layer3.0.conv1' : '';
  return `${imp}nnlock protect lock resnet20.safetensors ${imp ? '--importance imp.safetensors' : `-s ${strategy}`}${layers} -r ${ratio} --tiers 1 -o protected.safetensors`;
}

export async function runExp5(ctx: RunContext): Promise<Section> {
  const t0 = performance.now();
  const quick = ctx.quick;
  const sweepImages = quick ? 200 : 500;
  const fullImages = quick ? 1000 : 5000;
  const keys = quick ? 1 : 2;
  const margin = 0.03;
  const cache = new JsonCache<number>(join(ctx.out, 'exp5-correct.json'));
  const file = await readWeights(RESNET20);
  const allWeights = allWeightCount(file);
  // --quick: every data-driven variant on 256 images (the code path, not the figures).
  const all = Object.fromEntries(Object.entries(variants(1)).map(([k, v]) => [k, quick ? { ...v, images: Math.min(v.images ?? 256, 256), pss: v.pss && { ...v.pss, epochs: 1 } } : v]));
  const model = modelSpec('resnet20').create();
  const sweepLoader = await testLoader(0, sweepImages);
  const restLoader = await testLoader(sweepImages, fullImages);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const data: FractionAtChance = {
    threshold: THRESHOLD,
    decoys: DEFAULT_DECOY_MODE,
    testImages: fullImages,
    sweepImages,
    keys,
    allWeights,
    settings: {},
    results: {},
    best: null,
    sweep: {},
    agreementWithPss: {},
  };
  try {
    // NNLOCK_EXP5_ONLY=setting:label,label;setting:... limits a setting to some strategies (a run
    // cut short by the time budget reports what it measured, from the caches).
    const only = Object.fromEntries(
      (process.env.NNLOCK_EXP5_ONLY ?? '')
        .split(';')
        .filter(Boolean)
        .map((e) => [e.split(':')[0], e.split(':')[1].split(',')]),
    );
    for (const [setting, s] of Object.entries(SETTINGS)) {
      const names = layerNames(file, s.layers);
      const layers = convLayers(file.tensors).filter((l) => names.includes(l.name));
      const layerWeights = layers.reduce((n, l) => n + l.kernels * l.kernelSize, 0);
      const grid = quick ? [s.grid[1], s.grid.at(-1)!] : s.grid;
      data.settings[setting] = { layers: names, layerWeights, ratios: grid };
      const fractionAt = (r: number) => layers.reduce((n, l) => n + selectedCount(l.kernels, r) * l.kernelSize, 0) / allWeights;
      const kernelsAt = (r: number) => layers.reduce((n, l) => n + selectedCount(l.kernels, r), 0);
      log(`exp5 ${setting}: ${names.length} layers, ${layerWeights} weights (${pct(layerWeights / allWeights)} of ${allWeights})`);
      const results: Record<string, FractionResult> = {};
      const firstMaps: Record<string, { scores: ImportanceMap; seconds: number }> = {};
      const sweep: FractionAtChance['sweep'][string] = {};
      for (const [label, variant] of Object.entries(s.strategies).filter(([l]) => !only[setting] || only[setting].includes(l))) {
        const v = { ...all[variant], layers: s.layers };
        const maps = new Map<number, { scores: ImportanceMap; seconds: number }>();
        const importance = async (k: number) => {
          const seed = v.strategy === 'random' ? k : 0;
          let m = maps.get(seed);
          if (!m) {
            m = await variantImportance(ctx, variant, v, file, seed);
            maps.set(seed, m);
          }
          return m;
        };
        const correct = (r: number, k: number, part: 'sweep' | 'rest') =>
          cache.getOr(`${setting}|${variant}|${r}|k${k}|${part}`, async () => {
            const p = await protectModel(file, { importance: (await importance(k)).scores, ratio: r, tiers: 1, architecture: 'resnet20', layers: names, ...experimentKey(k, 1) });
            loadIntoModel(model, p.file);
            return correctOn(model, part === 'sweep' ? sweepLoader : restLoader);
          });
        // Ascending ratios: the sweep, and the full test set at each candidate, until the full-set
        // mean is at chance (the larger ratios are not run: they cost time and say nothing new).
        const perRatio: Record<string, { fraction: number; sweep: number[]; full?: number[] }> = {};
        let found: FractionResult['ratio'] = null;
        let full: number[] | null = null;
        for (const r of grid) {
          const accs: number[] = [];
          for (let k = 0; k < keys; k++) accs.push((await correct(r, k, 'sweep')) / sweepImages);
          perRatio[String(r)] = { fraction: fractionAt(r), sweep: accs };
          log(`exp5 ${setting} ${label} ratio ${pct(r)} (${pct(fractionAt(r))} of all weights): ${accs.map((a) => fmt(a, 3)).join(', ')}`);
          if (mean(accs) > THRESHOLD + margin) continue;
          const whole: number[] = [];
          for (let k = 0; k < keys; k++) whole.push(((await correct(r, k, 'sweep')) + (await correct(r, k, 'rest'))) / fullImages);
          perRatio[String(r)].full = whole;
          log(`exp5 ${setting} ${label} ratio ${pct(r)}: full test set ${whole.map((a) => fmt(a)).join(', ')}`);
          if (mean(whole) <= THRESHOLD) {
            found = r;
            full = whole;
            break;
          }
        }
        sweep[label] = perRatio;
        firstMaps[label] = await importance(0);
        results[label] = {
          variant,
          strategy: v.strategy,
          ratio: found,
          fractionOfAllWeights: found === null ? null : fractionAt(found),
          kernels: found === null ? null : kernelsAt(found),
          tier0: full && mean(full),
          tier0PerKey: full,
          importanceSeconds: (await importance(0)).seconds,
          command: EXP5_COMMAND,
          cli: cliFor(setting, variant, v.strategy, found ?? grid.at(-1)!),
        };
      }
      data.results[setting] = results;
      // How close each strategy's selection is to PSS's (the cheap estimator's measure).
      if (firstMaps.pss)
        data.agreementWithPss[setting] = Object.fromEntries(
          Object.entries(firstMaps)
            .filter(([label]) => label !== 'pss')
            .map(([label, m]) => {
              const c = compareImportance(m.scores, firstMaps.pss.scores, AGREEMENT_RATIOS);
              return [label, { spearman: c.spearman, overlap: c.overlap, secondsOverPss: m.seconds / firstMaps.pss.seconds, layers: c.layers }];
            }),
        );
      data.sweep[setting] = sweep;
    }
  } finally {
    model.dispose();
  }
  // Experiment 1's thresholds (every conv layer, 0.1's per-position decoys, 3 keys) as fractions of
  // all weights: the light PSS in nnlock's setting was not rerun with today's decoys in this budget.
  const exp1Path = join(ctx.results, 'exp1.json');
  if (existsSync(exp1Path)) {
    const e1 = JSON.parse(readFileSync(exp1Path, 'utf8')) as { data: { threshold: Record<string, number | null> } };
    const convs = convLayers(file.tensors);
    data.fromExperiment1 = Object.fromEntries(
      Object.entries(e1.data.threshold).map(([k, r]) => [
        k,
        { ratio: r, fractionOfAllWeights: r === null ? null : convs.reduce((n, l) => n + selectedCount(l.kernels, r) * l.kernelSize, 0) / allWeights },
      ]),
    );
  }
  for (const [setting, rs] of Object.entries(data.results))
    for (const [label, r] of Object.entries(rs))
      if (r.fractionOfAllWeights !== null && (data.best === null || r.fractionOfAllWeights < data.best.fractionOfAllWeights))
        data.best = { setting, strategy: label, fractionOfAllWeights: r.fractionOfAllWeights, ratio: r.ratio!, tier0: r.tier0!, command: r.command, cli: r.cli };
  await writeFileAtomic(join(ctx.results, 'fraction-at-chance.json'), `${JSON.stringify({ about: ABOUT, ...data }, null, 1)}\n`);

  const svg = 'fraction-at-chance.svg';
  const charts = Object.entries(data.sweep).map(([setting, sw]) =>
    lineChartSvg({
      title: `${setting === 'paper' ? "Paper's layers" : 'Every conv layer'}: tier-0 accuracy vs fraction of all weights`,
      xLabel: 'protected share of ALL weights (%)',
      yLabel: `top-1 accuracy (first ${sweepImages} test images)`,
      yMin: 0,
      yMax: 0.9,
      width: 760,
      series: Object.entries(sw).map(([label, per]) => ({ name: STRATEGY_LABELS[label] ?? label, points: Object.values(per).map((p): [number, number] => [p.fraction * 100, mean(p.sweep)]) })),
    }),
  );
  // Two charts side by side in one file.
  await writeFileAtomic(
    join(ctx.results, svg),
    `<svg xmlns="http://www.w3.org/2000/svg" width="1520" height="400">\n${charts.map((c, i) => c.replace('<svg ', `<svg x="${i * 760}" `)).join('\n')}\n</svg>\n`,
  );

  const rows = Object.entries(data.results).flatMap(([setting, rs]) =>
    Object.entries(rs).map(([label, r]) => [
      setting,
      STRATEGY_LABELS[label] ?? label,
      r.ratio === null ? `> ${pct(data.settings[setting].ratios.at(-1)!)}` : pct(r.ratio),
      r.fractionOfAllWeights === null ? 'not reached' : `**${pct(r.fractionOfAllWeights)}**`,
      r.kernels ?? '',
      r.tier0PerKey ? `${fmt(r.tier0!)} (${r.tier0PerKey.map((a) => fmt(a)).join(', ')})` : '',
      `${Math.round(r.importanceSeconds)} s`,
    ]),
  );
  const diagnosis = diagnosisMarkdown(ctx);
  const markdown = [
    `Shared ResNet-20, ${allWeights} weights in all (conv, fc and batch-norm weights and biases; the running statistics are not counted). Tier 0 = the published file with no key, today's defaults (${DEFAULT_DECOY_MODE} decoys). ` +
      `**paper** = only the paper's layers (${data.settings.paper?.layers.map((l) => l.replace('.weight', '')).join(', ')}: the first two conv layers and the first conv of the last two widening stages, the rule that gives the authors' VGG19 choice conv1_1, conv1_2, conv3_1, conv4_1), ` +
      `${data.settings.paper?.layerWeights} weights = ${pct((data.settings.paper?.layerWeights ?? 0) / allWeights)} of all; PSS in the authors' setting (deterministic gates, log α from 1.0, SGD 0.1 Nesterov 0.9, batch 150 over the first 30,000 training images with crop and flip) for **1 epoch per layer** (the authors run 130; 1 epoch = 200 steps took the time shown on 2 shared cores). ` +
      `**nnlock** = every conv layer, PSS with the light defaults. gate-gradient = the cheap estimator (8 batches of 128 per layer).`,
    '',
    `Sweep on the first ${sweepImages} test images, mean of ${keys} keys; the threshold on the full ${fullImages}-image test set (candidates: sweep mean within ${margin} of ${THRESHOLD}, ascending; no larger ratio is run once one is at chance). Regenerate: \`${EXP5_COMMAND}\`; data: [fraction-at-chance.json](fraction-at-chance.json).`,
    '',
    `![tier-0 accuracy against the fraction of all weights](${svg})`,
    '',
    table(['setting', 'strategy', 'per-layer ratio', 'share of all weights', 'kernels', `tier 0, full set (per key)`, 'importance time'], rows),
    '',
    ...Object.entries(data.sweep).flatMap(([setting, sw]) => {
      const ratios = data.settings[setting].ratios.filter((r) => Object.values(sw).some((per) => per[String(r)]));
      return [
        `Tier-0 accuracy at equal fraction, **${setting}** setting (first ${sweepImages} test images, mean of ${keys} keys; empty = not run, past the strategy's threshold):`,
        '',
        table(
          ['strategy', ...ratios.map((r) => `${pct(r)} (${pct(Object.values(sw).find((per) => per[String(r)])![String(r)].fraction)})`)],
          Object.entries(sw).map(([label, per]) => [STRATEGY_LABELS[label] ?? label, ...ratios.map((r) => (per[String(r)] ? fmt(mean(per[String(r)].sweep), 3) : ''))]),
        ),
        '',
        'Column headers: per-layer ratio (share of all weights).',
        '',
      ];
    }),
    "**Agreement with PSS's selection** (the cheap estimator's measure; kernel-weighted over the layers; time = importance wall time over PSS's, same machine and load):",
    '',
    table(
      ['setting', 'strategy', 'Spearman ρ', ...AGREEMENT_RATIOS.map((r) => `top-${pct(r)} overlap`), 'time / PSS time'],
      Object.entries(data.agreementWithPss).flatMap(([setting, a]) =>
        Object.entries(a).map(([label, x]) => [setting, STRATEGY_LABELS[label] ?? label, fmt(x.spearman, 3), ...AGREEMENT_RATIOS.map((r) => fmt(x.overlap[String(r)], 3)), fmt(x.secondsOverPss, 4)]),
      ),
    ),
    '',
    data.best
      ? `Smallest over all: **${pct(data.best.fractionOfAllWeights)} of all weights** (${data.best.setting}, ${STRATEGY_LABELS[data.best.strategy] ?? data.best.strategy}, ratio ${pct(data.best.ratio)}, tier 0 = ${fmt(data.best.tier0)}).`
      : 'No strategy reached chance on the grid.',
    '',
    ...findings(data),
    '',
    ...diagnosis,
  ].join('\n');
  return { n: 5, title: 'Smallest fraction of all weights at chance (ResNet-20)', markdown, data, seconds: (performance.now() - t0) / 1000, date: new Date().toISOString(), quick };
}

const ABOUT =
  "Smallest fraction of ALL ResNet-20 weights (conv+fc+bn weight and bias; bn running statistics excluded) at which the tier-0 model (no key) has accuracy <= threshold on the full test set, per setting (paper: the paper's layers; nnlock: every conv layer) and strategy. " +
  'results[setting][strategy] = {variant, strategy, ratio (per-layer ratio on the grid, null = not reached), fractionOfAllWeights, kernels, tier0 (mean over keys), tier0PerKey, importanceSeconds, command (the experiment), cli (the nnlock commands that protect the same way)}; ' +
  'best = the smallest fractionOfAllWeights over all settings and strategies measured here (summary.json allWeightsFractionAtChance); fromExperiment1[strategy] = {ratio, fractionOfAllWeights} of experiment 1 (every conv layer, older decoys; not in best); sweep[setting][strategy][ratio] = {fraction, sweep (first sweepImages test images, per key), full (full test set, per key, candidates only)}.';

interface DiagnosisRow {
  variant: string;
  layers: Record<string, { scoreRange: number[]; taskOverPenalty?: number; zeroTaskGradientShare?: number }>;
  agreement: Record<string, { spearman: number; overlap: Record<string, number> }>;
}

/** The PSS diagnosis (pss-diagnose.ts → pss-diagnosis.json) as a table, when it has been run. */
function diagnosisMarkdown(ctx: RunContext): string[] {
  const path = join(ctx.results, 'pss-diagnosis.json');
  if (!existsSync(path)) return [];
  const d = JSON.parse(readFileSync(path, 'utf8')) as { command: string; budget: string; layers: string[]; rows: DiagnosisRow[]; seconds: Record<string, number> };
  const fixed = 'deterministic, SGD 0.1 Nesterov from log α = 1 (FIXED_PSS)';
  const refs = ['light (seed 1)', 'L1', 'Taylor', fixed, 'PSS, paper setting'];
  const cell = (r: DiagnosisRow, ref: string) => {
    const a = r.agreement[ref];
    return a ? `${fmt(a.spearman, 2)} / ${fmt(a.overlap['0.02'], 2)}` : '';
  };
  const rows = d.rows.map((r) => {
    const ls = Object.values(r.layers);
    const range = `${fmt(Math.min(...ls.map((l) => l.scoreRange[0])), 2)} … ${fmt(Math.max(...ls.map((l) => l.scoreRange[1])), 2)}`;
    const ratio = ls.every((l) => l.taskOverPenalty !== undefined) ? ls.map((l) => Math.round(l.taskOverPenalty!)).join(', ') : '';
    const zero = ls.every((l) => l.zeroTaskGradientShare !== undefined) ? ls.map((l) => pct(l.zeroTaskGradientShare!)).join(', ') : '';
    return [r.variant, range, ratio, zero, ...refs.map((ref) => cell(r, ref)), d.seconds[r.variant] !== undefined ? `${Math.round(d.seconds[r.variant])} s` : ''];
  });
  return [
    '### Why the light PSS does not beat L1 and magnitude',
    '',
    `Measured on ${d.layers.map((l) => l.replace('.weight', '')).join(' and ')} with the light budget (${d.budget}); \`${d.command}\`, data: [pss-diagnosis.json](pss-diagnosis.json). ` +
      'Agreement cells: Spearman ρ / share of the top 2% in common (kernel-weighted over the two layers); "task/L0" = mean |task gradient| over mean |λ·L0 gradient| on log α per step (per layer); "zero" = share of kernels whose task gradient was exactly 0 in a step (gate clamped), per layer.',
    '',
    table(['variant', 'score range', 'task/L0', 'zero', ...refs.map((r) => `vs ${r === fixed ? 'FIXED_PSS' : r}`), 'time'], rows),
    '',
  ];
}

const BASELINES = ['l1', 'magnitude', 'taylor', 'random'];

/** The headline comparisons of one run, computed from its data. */
function findings(d: FractionAtChance): string[] {
  const out: string[] = ['**What this run shows:**', ''];
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  for (const [setting, rs] of Object.entries(d.results)) {
    const pss = rs.pss;
    const base = Object.entries(rs).filter(([k, r]) => BASELINES.includes(k) && r.fractionOfAllWeights !== null);
    if (!pss || base.length === 0) continue;
    const best = base.reduce((a, b) => (b[1].fractionOfAllWeights! < a[1].fractionOfAllWeights! ? b : a));
    const f = (r: FractionResult) => (r.fractionOfAllWeights === null ? 'not reached' : pct(r.fractionOfAllWeights));
    out.push(
      `- ${setting}: PSS reaches chance at ${f(pss)} of all weights, the best baseline (${STRATEGY_LABELS[best[0]] ?? best[0]}) at ${f(best[1])}` +
        (pss.fractionOfAllWeights !== null && pss.fractionOfAllWeights <= best[1].fractionOfAllWeights! ? ': PSS is at least as good at the threshold.' : ': PSS is behind at the threshold.'),
    );
    // Below PSS's threshold: ratios where some baseline does better than PSS.
    const sw = d.sweep[setting];
    const behind = Object.keys(sw.pss ?? {})
      .filter((r) => pss.ratio === null || Number(r) < pss.ratio)
      .flatMap((r) => {
        const p = mean(sw.pss[r].sweep);
        const better = BASELINES.filter((b) => sw[b]?.[r] && mean(sw[b][r].sweep) < p - 0.02);
        return better.length ? [`${pct(sw.pss[r].fraction)}: PSS ${fmt(p, 3)}, ${better.map((b) => `${STRATEGY_LABELS[b] ?? b} ${fmt(mean(sw[b][r].sweep), 3)}`).join(', ')}`] : [];
      });
    if (behind.length) out.push(`  Below that, a baseline is lower (better protection) than PSS by more than 0.02 at: ${behind.join('; ')}.`);
    const g = rs['gate-gradient'];
    const a = d.agreementWithPss[setting]?.['gate-gradient'];
    if (g && a)
      out.push(
        `  The cheap estimator (gate-gradient) reaches chance at ${f(g)}, in ${fmt(a.secondsOverPss, 3)} of PSS's importance time; its selection agrees with PSS's at ρ = ${fmt(a.spearman, 3)}, top-2% overlap ${fmt(a.overlap['0.02'], 3)}, top-8% overlap ${fmt(a.overlap['0.08'], 3)}.`,
      );
  }
  if (d.fromExperiment1 && !d.results.nnlock?.pss) {
    const e = Object.entries(d.fromExperiment1)
      .map(([k, r]) => `${STRATEGY_LABELS[k] ?? k} ${r.fractionOfAllWeights === null ? 'not reached' : pct(r.fractionOfAllWeights)}`)
      .join(', ');
    out.push(`- nnlock (every conv layer), from experiment 1 (0.1's per-position decoys, 3 keys; the light PSS was not rerun here): ${e}.`);
  }
  return out;
}
