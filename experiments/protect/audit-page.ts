// The results page of the decoy detectors and the attack harness, and the machine-readable
// summary, rebuilt from the stored results (no computation):
//
//   node --import tsx experiments/protect/audit-page.ts
//
// reads experiments/results/protect/{decoy-detectors*.json, attack-*.json, attack-runs.json} and
// writes experiments/results/protect/audit.md and attack.svg (summary.ts writes summary.json; run.ts
// calls both). The results themselves come from (each is resumable; NNLOCK_THREADS=1 on the shared
// machine):
//   node --import tsx experiments/protect/decoy-detectors.ts [--selection balanced]
//   node --import tsx experiments/protect/attack-harness.ts --protection <name> [--sizes 1000,500,5000] [--tier m]
//   node --import tsx experiments/protect/exp-dncnn-paper.ts --attack
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { barChartSvg } from '../lib/svg.ts';
import { ROOT, table } from './common.ts';
import { type Json, POSITION_ONLY, buildSummary, tier0Section } from './summary.ts';

const dir = join(ROOT, 'experiments', 'results', 'protect');
const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

interface Report {
  detector: string;
  pooledSeparability: number;
  pooledAuc: number;
  pooledPrecision: number;
  maxLayerSeparability: number;
}
interface DetRun {
  model: string;
  mode: string;
  strategy: string;
  key: number;
  decoys: number;
  kernels: number;
  reports: Report[];
}
const lines: string[] = ['# Decoys no detector finds, and the fine-tuning attack', ''];

// ---- decoy detectors
const detFiles = readdirSync(dir).filter((f) => /^decoy-detectors.*\.json$/.test(f));
/**
 * When the default decoys last changed (matched decoys with the whitened radius in their density
 * ratio, session 9): 'matched' rows of runs made before are the previous matched decoys', kept
 * until they are rerun; keys16/decoy-detectors.md holds the current ones.
 */
const MATCHED_SINCE = '2026-12-02T00:00:00Z';
const decoyRows: string[][] = [];
for (const f of detFiles) {
  const d = read(f);
  const previous = (mode: string) => (mode === 'matched' && d.date < MATCHED_SINCE ? 'matched (previous, before the radius features)' : mode);
  const selection = d.selection ?? 'top';
  // One row per run of key 0 (what one attacker sees); the means over keys are on decoy-detectors.md.
  for (const r of (d.runs as DetRun[]).filter((x) => (x.key ?? 0) === 0)) {
    const about = r.reports.filter((x) => !POSITION_ONLY.has(x.detector)).sort((a, b) => b.pooledSeparability - a.pooledSeparability);
    const pos = r.reports.find((x) => POSITION_ONLY.has(x.detector));
    const worst = about[0];
    const perLayer = Math.max(...about.map((x) => x.maxLayerSeparability).filter(Number.isFinite));
    decoyRows.push([
      r.model,
      `${r.strategy} (${selection})`,
      previous(r.mode),
      `${r.decoys} / ${r.kernels}`,
      `${worst.detector} ${worst.pooledSeparability.toFixed(3)}`,
      about
        .slice(1, 4)
        .map((x) => `${x.detector} ${x.pooledSeparability.toFixed(3)}`)
        .join(', '),
      about.find((x) => x.detector === 'diagonalVsFull')!.pooledPrecision.toFixed(3),
      perLayer.toFixed(3),
      pos ? pos.pooledSeparability.toFixed(3) : '–',
    ]);
  }
}
lines.push(
  '## Decoy detectors',
  '',
  'Every detector of `src/audit` on the published file (the gradient detector also on 128 labelled inputs), scored against the true decoys. ' +
    'Figure: separability = max(AUC, 1 − AUC), pooled over all conv layers by within-layer percentile ranks (0.5 = chance). ' +
    '`rowColumnEffect` looks only at where a kernel sits (the sizes of its row and column), not at the kernel: it measures what the SELECTION gives away, which no decoy can change. ' +
    "The precision column is the audit's keyless test (diagonal-vs-full covariance) flagging as many kernels as there are decoys (chance = the decoy share, 8%). " +
    '"worst layer" is the highest per-layer separability among layers with ≥ 20 decoys (single layers are noisy: with 21 decoys the AUC has a standard error near 0.06). ' +
    `Rows marked "previous" were measured before ${MATCHED_SINCE.slice(0, 10)} with the matched decoys of then (no whitened radius in their density ratio); the current default decoys at 16 keys: [keys16/decoy-detectors.md](keys16/decoy-detectors.md).`,
  '',
  table(['model', 'selection', 'decoy mode', 'decoys / kernels', 'best detector', 'next three', 'keyless test precision', 'worst layer', 'positions alone'], decoyRows),
  '',
  ...detFiles.map((f) => `![${f}](${f.replace(/\.json$/, '.svg')})`),
  '',
);

// ---- attack
interface Run {
  start: string;
  images: number;
  lr: number;
  after: number;
  resetTo?: string;
}
const summary = buildSummary();
const attackFiles = readdirSync(dir).filter((f) => /^attack-(?!runs|tiers).*\.json$/.test(f) && !f.includes('quick'));
const attackRows: string[][] = [];
const chart: { name: string; values: number[] }[] = [];
const sizes = ['500', '1000', '5000'];
const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));
for (const f of attackFiles) {
  const a = read(f);
  const name = f.replace(/^attack-|\.json$/g, '');
  const best = (n: number, keep: (r: Run) => boolean) => {
    const v = (a.runs as Run[]).filter((r) => r.images === n && keep(r)).map((r) => r.after);
    return v.length ? Math.max(...v) : undefined;
  };
  const lrs = (n: number, start: string) => [...new Set((a.runs as Run[]).filter((r) => r.images === n && r.start === start).map((r) => r.lr))].join(', ');
  for (const n of sizes.map(Number)) {
    if (a.headStart[String(n)] === undefined) continue;
    const replaced = (a.runs as Run[]).find((r) => r.images === n && r.start === 'replaced');
    attackRows.push([
      name,
      String(a.tier ?? 0),
      `${(100 * a.weightFraction).toFixed(2)}%`,
      a.tierAccuracy ? a.tierAccuracy.map((x: number) => x.toFixed(3)).join(' / ') : '–',
      String(n),
      `${fmt(best(n, (r) => r.start === 'published'))} (lr ${lrs(n, 'published')})`,
      replaced ? `${fmt(best(n, (r) => r.start === 'replaced'))} (${replaced.resetTo ?? 'mean'})` : '–',
      fmt(best(n, (r) => r.start === 'scratch')),
      `${(100 * a.headStart[String(n)]).toFixed(1)}`,
    ]);
  }
  chart.push({ name, values: sizes.map((n) => (a.headStart[n] === undefined ? 0 : 100 * a.headStart[n])) });
}
lines.push(
  '## The fine-tuning attack (shared ResNet-20, CIFAR-10)',
  '',
  "The attacker holds the published tier-0 file (or, for the tier rows, tier m's key) and the first N images of `data_batch_1.bin` (crop + flip), and spends 160 SGD steps of batch 125 (momentum 0.9, weight decay 5e-4, cosine) fine-tuning every weight at the learning rates in the table (several: one run each, the best counts); " +
    'the baseline trains the same architecture from scratch at lr 0.1 with the same images and steps (no public ResNet-20 trained on other data is among the fixtures, so that is the only baseline). ' +
    "Detect-and-replace: for the sparse modes, the decoy classifier's suspects (as many per layer as there are decoys) are reset to the layer's mean kernel (mean); for the dense mode, whose protected layers the header names and which hold nothing but decoys, those layers are re-initialised (init) and only the clear layers are kept. Then the same fine-tuning. " +
    "Accuracy on the first 2,000 test images. Head start = best attacker run − scratch, in accuracy points. Weight fraction = weights still decoys for the attacker over ALL the model's weights (BN statistics included).",
  '',
  table(['protection', "attacker's tier", 'weight fraction', 'accuracy tiers 0…3 (3 tiers)', 'N', 'fine-tune', 'detect-and-replace', 'from scratch', 'head start (points)'], attackRows),
  '',
  '![head start](attack.svg)',
  '',
);
if (chart.length) {
  await writeFileAtomic(
    join(dir, 'attack.svg'),
    barChartSvg({
      title: 'Head start of the fine-tuning attacker (accuracy points over training from scratch)',
      yLabel: 'points',
      categories: sizes.map((n) => `N = ${n}`),
      series: chart,
      width: 820,
    }),
  );
}

// ---- DnCNN in the paper's setting
const dn = summary.dncnnPaper as Record<string, Json> | null;
if (dn) {
  const d = read('dncnn-paper.json');
  lines.push(
    "## DnCNN-S-25 in the paper's DnCNN setting (Set12, σ = 25)",
    '',
    `${(100 * d.setting.ratio).toFixed(0)}% of the kernels of three middle conv layers (${d.setting.layers.join(', ')}): ${d.selectedKernels} of their ${d.kernelsInLayers} kernels, ${(100 * d.weightFraction).toFixed(3)}% of all weights; ${d.setting.tiers} tiers (split: ${d.setting.split ?? 'default'}, fractions ${d.fractions.map((f: number) => f.toFixed(2)).join(' / ')}); importance: ${d.setting.estimatorDescribe ?? d.setting.strategy}; ${d.setting.decoys} decoys. Each tier unlocked with its own token; mean PSNR over the ${d.images} Set12 images (noisy input: ${d.noisyPsnr.toFixed(2)} dB). ${
      d.screening
        ? `Chosen on held-out images, never on Set12: layers from the middle ones (${d.screening.middle.describe}), screened on ${d.screening.set.files.length} train400 images (σ = 25, noise seed ${d.screening.set.noiseSeed}; noisy input ${d.screening.set.noisyPsnr.toFixed(2)} dB) by the rule fixed beforehand: ${d.screening.rule}. There the chosen configuration's tier 0 gave ${d.screening.winnerScreening.tier0.toFixed(2)} dB${d.screening.winnerScreening.tiers ? ` and its tiers ${d.screening.winnerScreening.tiers.map((x: number) => x.toFixed(2)).join(' / ')} dB` : ''}; ${d.screening.passed ? `${d.screening.belowNoisy} of the ${d.screening.configurations.tier0} configurations screened put tier 0 below the noisy input there, and the ${d.screening.eligible} best of them checked for every tier (${d.screening.configurations.fullTiers} runs) were strictly ordered` : 'no configuration passed there'} ([dncnn-heldout.md](dncnn-heldout.md)). The figures below are the one measurement on Set12. Last session's configurations, screened on Set12 itself: [dncnn-sweep.md](dncnn-sweep.md). `
        : 'Every configuration measured: [dncnn-sweep.md](dncnn-sweep.md). '
    }` + 'The paper reports σ = 50; the fixtures hold only a DnCNN trained for σ = 25, so σ = 50 was not run.',
    '',
    table(['tier', ...d.tiers.map((t: { tier: number }) => String(t.tier))], [['PSNR (dB)', ...d.tiers.map((t: { psnr: number }) => t.psnr.toFixed(2))]]),
    '',
    `Tier 0 below the noisy input: **${d.tier0BelowNoisy ? 'yes' : 'NO'}**; tiers strictly ordered: **${d.strictlyOrdered ? 'yes' : 'NO'}**; master key bit-exact: **${d.masterBitExact ? 'yes' : 'NO'}**. ` +
      `Tier 0 with L1 importance instead: ${d.l1Tier0Psnr.toFixed(2)} dB${d.l1Tier0Images ? ` (on ${d.l1Tier0Images} of the 256×256 images)` : ''}${d.positionDecoysTier0Psnr !== undefined ? `; with PSS and 0.1's per-position decoys: ${d.positionDecoysTier0Psnr.toFixed(2)} dB` : ''}.`,
    '',
  );
  if (d.ratioSweep) {
    lines.push(
      `Tier 0 at larger shares of the same three layers (PSS ranking, context decoys; the ${d.ratioSweep.images} 256×256 Set12 images):`,
      '',
      table(
        ['ratio of the three layers', 'share of all weights', 'tier-0 PSNR (dB)', 'noisy input (dB)'],
        d.ratioSweep.points.map((x: { ratio: number; weightFraction: number; tier0Psnr: number; noisyPsnr: number }) => [
          String(x.ratio),
          `${(100 * x.weightFraction).toFixed(2)}%`,
          x.tier0Psnr.toFixed(2),
          x.noisyPsnr.toFixed(2),
        ]),
      ),
      '',
    );
  }
  if (d.attack || d.previousAttack) {
    const at = d.attack ?? d.previousAttack.attack;
    if (!d.attack)
      lines.push(
        `The attack below was not rerun on this configuration: it ran on the earlier one (${d.previousAttack.setting.layers.join(', ')}, ${d.previousAttack.setting.estimator ?? "PSS with nnlock 0.3's sampled gates"}, ${d.previousAttack.setting.decoys} decoys), whose tier 0 gave ${d.previousAttack.tier0Psnr.toFixed(2)} dB.`,
        '',
      );
    const rows = (at.runs as (Run & { before: number | null; steps: number })[]).map((r) => [
      r.start,
      String(r.images),
      String(r.steps),
      String(r.lr),
      r.before === null ? '–' : r.before.toFixed(2),
      r.after.toFixed(2),
    ]);
    lines.push(
      `**The DnCNN attack.** The attacker holds the tier-0 file and N clean 40×40 train400 patches (of ${at.patches}, σ = 25 noise drawn per batch) and trains with ${at.optimizer} for ${at.runs[0]?.steps ?? at.steps} steps of batch ${at.batch} (a budget of ${at.steps}, rounded to whole epochs); the baseline trains DnCNN-S from scratch the same way. Metric: ${at.metric}.`,
      '',
      table(['start', 'N', 'steps', 'lr', 'PSNR before (dB)', 'PSNR after (dB)'], rows),
      '',
      `Head start: ${Object.entries(at.headStartDb as Record<string, number>)
        .map(([n, h]) => `**${h.toFixed(2)} dB** at N = ${n}`)
        .join(', ')}.`,
      '',
    );
  }
}

lines.push(...tier0Section(summary));

// A script: importing it (run.ts does, after the experiments) writes the page.
await writeFileAtomic(join(dir, 'audit.md'), `${lines.join('\n')}\n`);
console.log(`wrote ${join(dir, 'audit.md')}`);
