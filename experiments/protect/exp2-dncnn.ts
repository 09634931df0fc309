// Experiment 2: DnCNN-S-25 on Set12 at σ = 25 with 3 tiers at ratio 8%: PSNR/SSIM per tier, the
// full-tier check (30.38 dB ± 0.05 and bit-identical weights), and a grid of denoised images per
// tier. The importance strategy is the best of PSS (few patches: the full PSS costs too much on
// 2 cores), Taylor and L1, judged by tier-0 PSNR on a few train400 images (not the test images).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { imageGridPng, readImage, writePng, type GridTile } from '../../src/io/image.ts';
import { modelSpec } from '../../src/models/index.ts';
import { type Strategy, convLayers, unlockModel } from '../../src/protect/index.ts';
import { evaluateDenoiser, mean, type DenoiseImage } from '../../src/train/evaluate.ts';
import { barChartSvg } from '../lib/svg.ts';
import { DNCNN, JsonCache, type RunContext, type Section, SET12, TRAIN400, bitIdentical, fmt, grayImages, loadIntoModel, log, pct, protectWithKey, readWeights, table } from './common.ts';
import { type DataStrategySettings, STRATEGY_LABELS, importanceOf } from './importance.ts';

const SIGMA = 25;
const RATIO = 0.08;
const TIERS = 3;
const REFERENCE_PSNR = 30.38;
const GRID_IMAGES = ['01.png', '02.png', '05.png'];

interface TierEval {
  names: string[];
  psnr: number[];
  ssim: number[];
  psnrNoisy: number[];
}

export interface Exp2Data {
  ratio: number;
  sigma: number;
  strategy: string;
  candidates: { strategy: string; tier0Psnr: number; seconds: number }[];
  validationImages: string[];
  settings: DataStrategySettings;
  fractions: number[];
  restoredPerTier: number[];
  selected: number;
  totalKernels: number;
  tiers: TierEval[];
  strictlyOrdered: boolean;
  fullTier: { psnr: number; withinReference: boolean; bitIdentical: boolean; differing: string[] };
  grid: string;
}

export async function runExp2(ctx: RunContext): Promise<Section> {
  const t0 = performance.now();
  const quick = ctx.quick;
  const cache = new JsonCache<unknown>(join(ctx.out, 'exp2-dncnn.json'));
  const pngDir = join(ctx.out, 'dncnn-png');
  mkdirSync(pngDir, { recursive: true });
  const file = await readWeights(DNCNN);
  const layers = convLayers(file.tensors);
  const totalKernels = layers.reduce((n, l) => n + l.kernels, 0);
  const settings: DataStrategySettings = quick ? { images: 16, batch: 16, epochs: 1, taylorBatches: 1, seed: 0 } : { images: 64, batch: 16, epochs: 1, taylorBatches: 4, seed: 0 };
  const model = modelSpec('dncnn-17').create();
  try {
    // 1. Pick the strategy: tier-0 PSNR on a few train400 images (lower = better protection).
    const validation = await grayImages(TRAIN400, quick ? 1 : 4);
    const candidates: Exp2Data['candidates'] = [];
    for (const s of ['pss', 'taylor', 'l1'] as Strategy[]) {
      const c = (await cache.getOr(`candidate|${s}`, async () => {
        const t = performance.now();
        const imp = await importanceOf(s, file, 'dncnn-17', 0, join(ctx.out, 'importance', `dncnn-${s}.safetensors`), settings, SIGMA);
        const seconds = (performance.now() - t) / 1000;
        const p = await protectWithKey(file, 0, { importance: imp, ratio: RATIO, tiers: TIERS, architecture: 'dncnn-17' });
        loadIntoModel(model, p.file);
        const tier0Psnr = mean(evaluateDenoiser(model, validation, SIGMA, 0).map((r) => r.psnr));
        log(`exp2 candidate ${s}: tier-0 PSNR ${tier0Psnr.toFixed(2)} dB on ${validation.length} train400 images (importance ${seconds.toFixed(0)} s)`);
        return { strategy: s, tier0Psnr, seconds };
      })) as Exp2Data['candidates'][number];
      candidates.push(c);
    }
    const best = candidates.reduce((a, b) => (b.tier0Psnr < a.tier0Psnr ? b : a));
    log(`exp2: protecting with ${best.strategy} (lowest tier-0 PSNR on the validation images)`);

    // 2. Protect with it; evaluate every tier on Set12 through the real unlock path.
    const importance = await importanceOf(best.strategy as Strategy, file, 'dncnn-17', 0, join(ctx.out, 'importance', `dncnn-${best.strategy}.safetensors`), settings, SIGMA);
    const p = await protectWithKey(file, 0, { importance, ratio: RATIO, tiers: TIERS, architecture: 'dncnn-17' });
    const tokens = p.tokens;
    let images: DenoiseImage[] = await grayImages(SET12);
    if (quick) images = images.slice(0, 2);
    const gridNames = GRID_IMAGES.filter((n) => images.some((i) => i.name === n)).slice(0, quick ? 2 : 3);
    const tiers: TierEval[] = [];
    let full = p.file;
    for (let m = 0; m <= TIERS; m++) {
      const unlocked = m === 0 ? p.file : (await unlockModel(p.file, tokens[m - 1])).file; // each tier with its own key
      if (m === TIERS) full = unlocked;
      const e = (await cache.getOr(`tier|${best.strategy}|${m}|${images.length}`, async () => {
        const t = performance.now();
        loadIntoModel(model, unlocked);
        const rs = evaluateDenoiser(model, images, SIGMA, 0);
        for (const r of rs) {
          if (!gridNames.includes(r.name)) continue;
          const img = images.find((i) => i.name === r.name)!;
          await writePng(join(pngDir, `tier${m}-${r.name}`), r.output, 1, img.height, img.width);
          if (m === 0)
            await writePng(
              join(pngDir, `noisy-${r.name}`),
              r.noisy.map((v) => Math.min(1, Math.max(0, v))),
              1,
              img.height,
              img.width,
            );
        }
        const out: TierEval = { names: rs.map((r) => r.name), psnr: rs.map((r) => r.psnr), ssim: rs.map((r) => r.ssim), psnrNoisy: rs.map((r) => r.psnrNoisy) };
        log(`exp2 tier ${m}: PSNR ${mean(out.psnr).toFixed(2)} dB, SSIM ${mean(out.ssim).toFixed(4)} on ${rs.length} Set12 images (${((performance.now() - t) / 1000).toFixed(0)} s)`);
        return out;
      })) as TierEval;
      tiers.push(e);
    }
    const psnrs = tiers.map((t) => mean(t.psnr));
    const strictlyOrdered = psnrs.every((v, i) => i === 0 || v > psnrs[i - 1]);
    const ident = bitIdentical(full, file);
    const fullPsnr = psnrs[TIERS];

    // 3. The grid: clean, noisy, tiers 0..M for a few 256×256 images.
    const grid = 'exp2-dncnn-tiers.png';
    const tiles: GridTile[] = [];
    for (const name of gridNames) {
      const clean = images.find((i) => i.name === name)!;
      const at = tiers[0].names.indexOf(name);
      tiles.push({ data: clean.data, channels: 1, height: clean.height, width: clean.width, label: `${name} clean` });
      const noisyPath = join(pngDir, `noisy-${name}`);
      if (existsSync(noisyPath)) {
        const noisy = await readImage(noisyPath, { channels: 1 });
        tiles.push({ ...noisy, channels: 1, label: `noisy σ=25 ${tiers[0].psnrNoisy[at].toFixed(2)} dB` });
      }
      for (let m = 0; m <= TIERS; m++) {
        const img = await readImage(join(pngDir, `tier${m}-${name}`), { channels: 1 });
        tiles.push({ ...img, channels: 1, label: `${m === 0 ? 'tier 0 (no key)' : m === TIERS ? `tier ${m} (full)` : `tier ${m}`} ${tiers[m].psnr[at].toFixed(2)} dB` });
      }
    }
    await imageGridPng(join(ctx.results, grid), tiles, { columns: tiles.length / gridNames.length });
    const svg = 'exp2-dncnn-psnr-per-tier.svg';
    await writeFileAtomic(
      join(ctx.results, svg),
      barChartSvg({
        title: `DnCNN-S-25, Set12, σ=25: mean PSNR per tier (${STRATEGY_LABELS[best.strategy]}, ratio ${pct(RATIO)})`,
        yLabel: 'PSNR (dB)',
        categories: psnrs.map((_, m) => (m === 0 ? 'tier 0 (no key)' : `tier ${m}`)),
        series: [{ name: 'mean PSNR', values: psnrs }],
      }),
    );

    const data: Exp2Data = {
      ratio: RATIO,
      sigma: SIGMA,
      strategy: best.strategy,
      candidates,
      validationImages: validation.map((v) => v.name),
      settings,
      fractions: p.fractions,
      restoredPerTier: Array.from({ length: TIERS + 1 }, (_, m) => p.layers.reduce((n, l) => n + l.perTier[m], 0)),
      selected: p.layers.reduce((n, l) => n + l.selected, 0),
      totalKernels,
      tiers,
      strictlyOrdered,
      fullTier: { psnr: fullPsnr, withinReference: Math.abs(fullPsnr - REFERENCE_PSNR) <= 0.05, bitIdentical: ident.identical, differing: ident.differing },
      grid,
    };
    return { n: 2, title: 'DnCNN-S-25 on Set12: image quality per tier', markdown: render(data, svg, quick), data, seconds: (performance.now() - t0) / 1000, date: new Date().toISOString(), quick };
  } finally {
    model.dispose();
  }
}

function render(d: Exp2Data, svg: string, quick: boolean): string {
  const psnrs = d.tiers.map((t) => mean(t.psnr));
  const rows = d.tiers.map((t, m) => [
    m === 0 ? '0 (no key)' : m === d.tiers.length - 1 ? `${m} (master key)` : String(m),
    m === 0 ? '0' : fmt(d.fractions[m - 1], 3),
    String(d.restoredPerTier[m]),
    fmt(mean(t.psnr), 2),
    fmt(mean(t.ssim), 4),
  ]);
  const perImage = d.tiers[0].names.map((n, i) => [n, ...d.tiers.map((t) => fmt(t.psnr[i], 2))]);
  const s = d.settings;
  const pss = d.candidates.find((c) => c.strategy === 'pss');
  const pssDefaultMinutes = pss ? Math.round((pss.seconds * (1024 * 2)) / (s.images * s.epochs) / 60) : NaN;
  return [
    `DnCNN-S-25 (17 conv layers, ${d.totalKernels} kernels), all conv layers protected at ratio ${pct(d.ratio)} (${d.selected} kernels), ${d.tiers.length - 1} tiers with the default fractions ` +
      `f_m = 0.6 + 0.4·m/M (${d.fractions.map((f) => fmt(f, 3)).join(', ')}), master key = experiment key 0. Noise σ = ${d.sigma} (seeded per image as \`nnlock denoise --seed 0\`); ` +
      `PSNR of clamp(noisy − net(noisy), 0, 1)${quick ? ' — QUICK RUN: only the first 2 Set12 images' : ' on all 12 Set12 images'}. Each tier is unlocked with its own tier key (\`unlockModel(file, tierToken)\`).`,
    '',
    `**Importance strategy: ${STRATEGY_LABELS[d.strategy]}.** PSS with the defaults (1,024 patches × 2 epochs per layer) would take about ${pssDefaultMinutes} min for DnCNN here ` +
      `(extrapolated from the few-patch run below: the cost grows with patches × epochs), so PSS ran with **few patches**: ${s.images} clean 40×40 train400 patches (σ = 25 noise), batch ${s.batch}, ${s.epochs} epoch (${s.epochs * Math.ceil(s.images / s.batch)} Adam steps per layer, otherwise the defaults); ` +
      `Taylor used the same ${s.images} patches (${s.taylorBatches} batches). The strategy used is the one with the lowest tier-0 PSNR at ${pct(d.ratio)} on ${d.validationImages.length} train400 images (not Set12):`,
    '',
    table(
      ['candidate', 'tier-0 PSNR on train400 validation (dB)', 'importance time (s)'],
      d.candidates.map((c) => [STRATEGY_LABELS[c.strategy], fmt(c.tier0Psnr, 2), fmt(c.seconds, 0)]),
    ),
    '',
    table(['tier', 'fraction f_m', 'kernels restored', 'mean PSNR (dB)', 'mean SSIM'], rows),
    '',
    `Tiers strictly ordered by PSNR: **${d.strictlyOrdered ? 'yes' : 'NO'}** (${psnrs.map((p) => fmt(p, 2)).join(' < ')} dB).`,
    '',
    `Full-tier check: the master key restores weights **${d.fullTier.bitIdentical ? 'bit-identical' : 'NOT bit-identical'}** to the original file` +
      `${d.fullTier.differing.length ? ` (differing: ${d.fullTier.differing.join(', ')})` : ''}; mean PSNR ${fmt(d.fullTier.psnr, 2)} dB vs the reference ${REFERENCE_PSNR} dB ± 0.05: **${d.fullTier.withinReference ? 'within' : 'OUTSIDE'}**.`,
    '',
    `![PSNR per tier](${svg})`,
    '',
    `Denoised images per tier (left to right: clean, noisy, tier 0 … tier ${d.tiers.length - 1}; PSNR in the labels):`,
    '',
    `![DnCNN tiers](${d.grid})`,
    '',
    '<details><summary>PSNR per image and tier (dB)</summary>',
    '',
    table(['image', ...d.tiers.map((_, m) => `tier ${m}`)], perImage),
    '',
    '</details>',
  ].join('\n');
}
