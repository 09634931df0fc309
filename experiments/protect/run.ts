// The protection experiments (Tian, Zhou & Duan, CVPR 2021, as nnlock implements them), one
// command regenerating experiments/results/protect/README.md:
//
//   node --import tsx experiments/protect/run.ts [--only 1,3] [--quick] [--page]
//
//   1  tier-0 accuracy vs ratio of protected kernels, 7 strategies, ResNet-20
//   2  DnCNN-S-25 on Set12: PSNR per tier, full-tier check, image grid
//   3  can decoys (and the selection) be told from genuine kernels? two-sample tests
//   4  fine-tuning attack on the tier-0 ResNet-20 vs training from scratch
//   5  smallest fraction of all weights at chance, per strategy, paper's layers and every layer
//
// Every finished unit of work (an importance file, one evaluation, a training epoch) is cached
// under experiments/out/protect/, so an interrupted run resumes where it stopped; delete that
// folder to start over. --quick runs a tiny version of everything (caches and results under
// experiments/out/protect/quick/, the real results page is left alone). The page is rebuilt
// from the stored results of every experiment, so --only N refreshes one section; --page runs no
// experiment and only rebuilds the pages. Then it rebuilds audit.md (audit-page.ts: the decoy
// detectors, the attack harness, DnCNN in the paper's setting, what tier 0 protects against) and
// summary.json (summary.ts) from their stored results: one command for the whole results folder.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { libtorchVersion, getNumThreads } from '../../src/tensor/index.ts';
import { machineInfo } from '../../bench/lib/report.ts';
import { JsonCache, type RunContext, type Section, fmt, log, pct, readSection, requireData, runContext, writeSection } from './common.ts';
import { type Exp1Data, THRESHOLD, runExp1 } from './exp1-ratio.ts';
import { type Exp2Data, runExp2 } from './exp2-dncnn.ts';
import { type Exp3Data, runExp3 } from './exp3-decoys.ts';
import { type Exp4Data, runExp4 } from './exp4-finetune.ts';
import { STRATEGY_LABELS } from './importance.ts';
import { type FractionAtChance, runExp5 } from './exp5-fraction.ts';
import { buildSummary, tier0Section, writeSummary } from './summary.ts';

const EXPERIMENTS: Record<number, (ctx: RunContext) => Promise<Section>> = { 1: runExp1, 2: runExp2, 3: runExp3, 4: runExp4, 5: runExp5 };
const NUMBERS = Object.keys(EXPERIMENTS).map(Number);

const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean' }, page: { type: 'boolean' } } });
const only = values.page ? [] : values.only ? values.only.split(',').map(Number) : NUMBERS;
for (const n of only) if (!EXPERIMENTS[n]) throw new Error(`--only: no experiment ${n} (have ${NUMBERS.join(', ')})`);
requireData();
const ctx = runContext(values.quick ?? false);
log(`protection experiments ${only.join(', ') || 'none (--page)'}${ctx.quick ? ' (quick)' : ''}: caches in ${ctx.out}, results in ${ctx.results}`);
// Compute time spent on each experiment by every run that filled the current caches (a rerun that
// finds everything cached adds only seconds); it resets when experiments/out/protect is deleted.
const timing = new JsonCache<number>(join(ctx.out, 'timing.json'));
for (const n of only) {
  log(`=== experiment ${n} ===`);
  const s = await EXPERIMENTS[n](ctx);
  s.computeSeconds = (timing.get(`exp${n}`) ?? 0) + s.seconds;
  await timing.set(`exp${n}`, s.computeSeconds);
  await writeSection(ctx, s);
  log(`experiment ${n} done in ${Math.round(s.seconds)} s`);
}

const sections = NUMBERS.map((n) => readSection(ctx, n)).filter((s): s is Section => s !== undefined);

/** The headline figures of each stored experiment, as bullet points. */
function summary(all: Section[]): string[] {
  const out: string[] = [];
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  for (const s of all) {
    if (s.n === 1) {
      const d = s.data as Exp1Data;
      const order = Object.entries(d.threshold).sort((a, b) => (a[1] ?? Infinity) - (b[1] ?? Infinity));
      out.push(
        `**Ratio for tier-0 accuracy ≤ ${THRESHOLD}** (ResNet-20, full ${d.fullImages}-image test set, mean of ${d.keys} keys): ` +
          order.map(([k, r]) => `${STRATEGY_LABELS[k]} ${r === null ? `> ${pct(Math.max(...Object.keys(d.sweep[k]).map(Number)))}` : pct(r)}`).join(', ') +
          `. At 0.5%: ${Object.keys(d.sweep)
            .map((k) => `${STRATEGY_LABELS[k]} ${fmt(mean(d.sweep[k]['0.005'] ?? [NaN]), 2)}`)
            .join(', ')} (first ${d.sweepImages} images).`,
      );
    } else if (s.n === 2) {
      const d = s.data as Exp2Data;
      const p = d.tiers.map((t) => mean(t.psnr));
      out.push(
        `**DnCNN-S-25, Set12, σ = 25, ${STRATEGY_LABELS[d.strategy]} at ${pct(d.ratio)}, ${p.length - 1} tiers**: PSNR ${p.map((v) => fmt(v, 2)).join(' / ')} dB for tiers 0…${p.length - 1} ` +
          `(${d.strictlyOrdered ? 'strictly ordered' : 'NOT strictly ordered'}); the master key gives ${d.fullTier.bitIdentical ? 'bit-identical' : 'NOT bit-identical'} weights and ${fmt(d.fullTier.psnr, 2)} dB ` +
          `(${d.fullTier.withinReference ? 'within' : 'outside'} 30.38 ± 0.05).`,
      );
    } else if (s.n === 5) {
      const d = s.data as FractionAtChance;
      const at = (setting: string) =>
        Object.entries(d.results[setting] ?? {})
          .map(([k, r]) => `${STRATEGY_LABELS[k] ?? k} ${r.fractionOfAllWeights === null ? 'not reached' : pct(r.fractionOfAllWeights)}`)
          .join(', ');
      out.push(`**Share of ALL weights for tier-0 accuracy ≤ ${THRESHOLD}** (full test set): paper's layers: ${at('paper')}; every conv layer: ${at('nnlock')}.`);
    } else if (s.n === 3) {
      const d = s.data as Exp3Data;
      const pss = d.pooled.pss;
      const det = d.detector.perKey;
      out.push(
        `**Decoys vs genuine kernels** (PSS, ${pct(d.ratio)}): per position, p < 0.05 in ${pct(pss.decoy.rejected.ks / pss.decoy.tested)} (KS), ${pct(pss.decoy.rejected.welch / pss.decoy.tested)} (Welch), ` +
          `${pct(pss.decoy.rejected.bf / pss.decoy.tested)} (Brown–Forsythe) of positions (5% = indistinguishable); the selected originals differ from the rest in ${pct(pss.selected.rejected.ks / pss.selected.tested)} (KS). ` +
          `Whole-kernel L1 norms give the decoys away in ${pct(d.normRejections.pss.decoy.rejected.ks / d.normRejections.pss.decoy.tested)} of layer tests (KS), and a covariance detector on the published file finds them with precision ` +
          `${fmt(mean(det.map((r) => r.precision)), 2)} (chance ${fmt(mean(det.map((r) => r.chance)), 2)}); zeroing what it flags leaves accuracy at ${fmt(mean(det.map((r) => r.zeroFlagged)), 2)}.`,
      );
    } else if (s.n === 4) {
      const d = s.data as Exp4Data;
      out.push(
        `**Fine-tuning attack** (tier-0 ResNet-20, PSS ${pct(d.ratio)}, tier-0 accuracy ${fmt(d.tier0, 3)}, original ${fmt(d.original, 3)}): ` +
          d.runs
            .filter((r) => r.spec.init === 'tier0')
            .map((r) => {
              const base = d.runs.find((b) => b.spec.init === 'scratch' && b.spec.images === r.spec.images);
              return `with ${r.spec.images} labelled images and ${r.steps} steps, ${fmt(r.finalFull, 3)} (from scratch: ${base ? fmt(base.finalFull, 3) : '–'})`;
            })
            .join('; ') +
          (d.bnRecalibrated.length
            ? `; re-estimating only the batch-norm statistics (no training) already gives ${d.bnRecalibrated.map((b) => `${fmt(b.full, 3)} (${b.images} images)`).join(', ')}.`
            : '.'),
      );
    }
  }
  return out.map((l) => `- ${l}`);
}
const m = machineInfo();
const page = [
  '# Selective protection experiments (ResNet-20, DnCNN-S-25)',
  '',
  'Method: Tian, Zhou & Duan, "Probabilistic selection and design of sensitive kernels for CNN protection" (CVPR 2021): ' +
    'PSS importance, DPRM decoys, hierarchical tiers — as implemented in `src/protect`.',
  '',
  `Regenerate: \`node --import tsx experiments/protect/run.ts\` (or \`--only N\` for one section; \`--quick\` for a smoke run that writes elsewhere). ` +
    'Finished units are cached under `experiments/out/protect/` (git-ignored), so a rerun skips them.',
  '',
  "The decoy detector suite, the fine-tuning attack harness and what tier 0 protects against: [audit.md](audit.md) (`node --import tsx experiments/protect/audit-page.ts`; experiments 3 and 4 below used 0.1's per-position decoys).",
  '',
  `Machine of the last run: ${m.cpuModel}, ${m.logicalCores} logical cores (shared with other jobs; load average ${m.loadAverage.join(' ')}), ` +
    `libtorch ${libtorchVersion()} with ${getNumThreads()} threads, Node ${process.version}. Data: the shared fixtures (\`../shared/data\`).`,
  '',
  '## Summary',
  '',
  ...summary(sections),
  '',
  // The issue's headline figures (summary.json) in plain words; the details are in audit.md.
  ...tier0Section(buildSummary()).map((l) => l.replace(/^## /, '### ')),
  'Machine-readable: [summary.json](summary.json) (each figure with its command).',
  '',
  'Compute time = the time of every run that filled the current caches (what a run from scratch costs on this machine, as loaded as it was); last run = the latest run, which skips cached units.',
  '',
  '| experiment | compute time | last run | date |',
  '| --- | ---: | ---: | --- |',
  ...sections.map((s) => `| ${s.n}. ${s.title} | ${Math.round(s.computeSeconds ?? s.seconds)} s | ${Math.round(s.seconds)} s${s.quick ? ' (quick)' : ''} | ${s.date.slice(0, 16).replace('T', ' ')} |`),
  `| total | ${Math.round(sections.reduce((a, s) => a + (s.computeSeconds ?? s.seconds), 0) / 60)} min | | |`,
  '',
  ...sections.flatMap((s) => [`## ${s.n}. ${s.title}`, '', s.markdown, '']),
].join('\n');
await writeFileAtomic(join(ctx.results, 'README.md'), page);
log(`wrote ${join(ctx.results, 'README.md')}`);
if (!ctx.quick) {
  await import('./audit-page.ts');
  log(`wrote ${await writeSummary()}`);
}
